/**
 * Where the server's start-up goes: each row is a fresh process that imports one more layer and
 * exits, timed from spawn to exit (median of 7), beside a bare `bun -e` in the same run. It shows
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

/** Median wall time of `RUNS` processes running `code` (after one warm-up for the file cache). */
function timed(code: string): number {
  const times: number[] = [];
  for (let i = 0; i <= RUNS; i++) {
    const t0 = performance.now();
    const p = Bun.spawnSync(["bun", "-e", code], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
    if (p.exitCode !== 0) throw new Error(`bun -e failed: ${p.stderr.toString()}`);
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}

const config = 'import "./runtime/arktype-config.ts";';
const bare = timed("0");
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
const results: BenchResult[] = rows.map(([name, code, goal]) => {
  const value = timed(code);
  return { name, value, unit: "ms", floor: bare, ratio: value / bare, goal: `reported: ${goal}` };
});

printResults(
  [{ name: "bare_bun_ms", value: bare, unit: "ms", goal: "reported: `bun -e 0`, the floor" }, ...results],
  process.argv.includes("--json"),
);
