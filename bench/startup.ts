/**
 * Where the server's start-up goes: each row is a fresh process that imports one more layer and
 * exits, timed from spawn to exit (median of 7, round-robin), with the CPU it used, beside a bare
 * `bun -e` in the same run. It shows
 * what bench/http.ts's cold start is made of: the runtime, the schema library (arktype builds its
 * keyword scopes when it is imported), the configuration parsed by it (with the runtime, the
 * floor bench/schema-floor.ts stands on), the schema modules (whose schemas are built on first
 * use, schemas/lazy.ts), what building all of those would add, then the whole server's module graph.
 *
 * @example
 * bun bench/startup.ts           # a table
 * bun bench/startup.ts --json    # one JSON line
 */
import { join } from "node:path";
import { type BenchResult, printResults } from "./result.ts";

const ROOT = join(import.meta.dir, "..");
const RUNS = 7;

/** One process's wall time, spawn to exit, and the CPU it used (all threads). */
interface Run {
  wallMs: number;
  cpuMs: number;
}

function run(code: string): Run {
  const t0 = performance.now();
  const p = Bun.spawnSync(["bun", "-e", code], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`bun -e failed: ${p.stderr.toString()}`);
  const wallMs = performance.now() - t0;
  const cpu = p.resourceUsage?.cpuTime;
  return { wallMs, cpuMs: cpu === undefined ? Number.NaN : Number(cpu.user + cpu.system) / 1000 };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

const config = 'import "./runtime/arktype-config.ts";';
const rows: [string, string, string][] = [
  [
    "import_arktype_ms",
    `${config} await import("arktype");`,
    "the schema library alone (jitless, as the server runs it)",
  ],
  [
    "import_config_ms",
    `${config} const { loadConfig } = await import("./runtime/config.ts"); loadConfig();`,
    "arktype and the configuration parsed (what any start must do: the schema floor)",
  ],
  [
    "import_schemas_ms",
    `${config} await import("./schemas/debates.ts"); await import("./schemas/ops.ts");`,
    "arktype and the debate and ops schema modules (their schemas not built yet)",
  ],
  [
    "build_schemas_ms",
    `${config} await import("./schemas/debates.ts"); await import("./schemas/ops.ts"); (await import("./schemas/lazy.ts")).buildAllLazy();`,
    "the same with every one of those schemas built (what building them at import cost)",
  ],
  [
    "import_server_ms",
    `${config} await import("./app/server.ts"); await import("./app/features.ts");`,
    "the server's whole module graph (what `aragora serve` loads before it opens the store)",
  ],
];

// Round-robin, one process of each per round (after a warm-up round for the file cache): a
// machine busy with other work slows every row alike, not whichever ran in a busy moment.
const codes = [["bare_bun_ms", "0", "`bun -e 0`, the floor"] as const, ...rows];
const runs = codes.map(() => [] as Run[]);
for (let round = 0; round <= RUNS; round++) {
  codes.forEach(([, code], i) => {
    const r = run(code);
    if (round > 0) runs[i]?.push(r);
  });
}
const wall = runs.map((r) => median(r.map((x) => x.wallMs)));
const cpu = runs.map((r) => median(r.map((x) => x.cpuMs)));
const bare = wall[0] as number;
const bareCpu = cpu[0] as number;
const results: BenchResult[] = [
  { name: "bare_bun_ms", value: bare, unit: "ms", goal: "reported: `bun -e 0`, the floor" },
  ...rows.map(([name, , goal], i) => {
    const value = wall[i + 1] as number;
    return { name, value, unit: "ms", floor: bare, ratio: value / bare, goal: `reported: ${goal}` };
  }),
  // CPU moves far less than wall time when other work shares the machine.
  ...codes.map(([name], i) => {
    const value = cpu[i] as number;
    return {
      name: name.replace(/_ms$/, "_cpu_ms"),
      value,
      unit: "ms",
      ...(i === 0 ? {} : { floor: bareCpu, ratio: value / bareCpu }),
      goal: i === 0 ? "reported: the process's CPU (all threads), the floor" : "reported: the same, CPU",
    };
  }),
];

printResults(results, process.argv.includes("--json"));
