/**
 * HTTP benchmarks (`bun run bench:http`, `--json` for one machine-readable object):
 *
 * 1. GET /api/health throughput and p99 latency, driven by wrk from another process, for the real
 *    server (ARAGORA_ENV=production, INFO logging to a pipe, metrics on) beside a bare Bun.serve returning the same JSON
 *    (the floor), in the same run. Goal: ratio >= 0.8.
 * 2. A representative API route through the whole stack: `GET /api/debates/:id` of a finished demo
 *    debate, and a `POST /api/debates` that fails validation (422), each beside the same route on
 *    bare Elysia (bench/bare-elysia.ts: the row read with one prepared statement, Elysia's own body
 *    schema) in the same run, alternately BENCH_PAIRS times (default 3), the median pair reported.
 *    Goal: ratio >= 0.7.
 * 3. Cold start: process start to the first healthy /api/health, median of 10 runs, from source
 *    (`bun app/cli.ts serve`) and from the production binary (`bun run build`, `dist/aragora serve`:
 *    bytecode-compiled, so no parsing at start).
 *    Goal: under 300 ms.
 *
 * Options: --json, --only throughput|cold (throughput: rows 1 and 2; cold: row 3).
 *
 * Needs wrk (Debian package wrk). Benchmarks are measurements, not tests: nothing here fails CI.
 */

import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchResult } from "./result.ts";

const ROOT = join(import.meta.dir, "..");
const json = process.argv.includes("--json");
const only = (() => {
  const i = process.argv.indexOf("--only");
  return i < 0 ? undefined : process.argv[i + 1];
})();
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);

function log(msg: string) {
  if (!json) process.stderr.write(`${msg}\n`);
}

async function waitHealthy(url: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(1);
  }
  throw new Error(`${url} did not become healthy`);
}

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = s.port as number;
  s.stop(true);
  return port;
}

function parseWrk(out: string): { rps: number; p99ms: number } {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const scale = m?.[2] === "us" ? 1e-3 : m?.[2] === "s" ? 1e3 : 1;
  return { rps, p99ms: Number(m?.[1]) * scale };
}

async function wrk(url: string, script?: string): Promise<{ rps: number; p99ms: number }> {
  const extra = script === undefined ? [] : ["-s", script];
  // Warm up the JIT, then measure.
  Bun.spawnSync(["wrk", "-t1", `-c${CONNECTIONS}`, "-d1s", ...extra, url]);
  const p = Bun.spawnSync(["wrk", "-t1", `-c${CONNECTIONS}`, `-d${DURATION_S}s`, "--latency", ...extra, url]);
  const out = p.stdout.toString();
  if (p.exitCode !== 0) throw new Error(`wrk failed: ${p.stderr.toString()}`);
  return parseWrk(out);
}

async function throughput(): Promise<BenchResult[]> {
  if (!Bun.which("wrk")) {
    log("wrk not found (apt-get install wrk): skipping the throughput benchmark");
    return [];
  }
  const dataDir = mkdtempSync(join(tmpdir(), "aragora-bench-"));
  const apiPort = await freePort();
  const server = Bun.spawn(["bun", "app/cli.ts", "serve", "--api-port", String(apiPort), "--ws-port", "0"], {
    cwd: ROOT,
    // Configured as operators run it: production (so responses are not re-checked against their
    // schemas, runtime/http/route-schemas.ts), INFO request logs to a pipe, metrics on.
    env: {
      ...process.env,
      ARAGORA_ENV: "production",
      ARAGORA_JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
      ARAGORA_DATA_DIR: dataDir,
      ARAGORA_LOG_LEVEL: "INFO",
      ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  const barePort = await freePort();
  const bare = Bun.spawn(["bun", "bench/bare-health.ts", String(barePort)], { cwd: ROOT, stdout: "ignore" });
  try {
    await waitHealthy(`http://127.0.0.1:${apiPort}/api/health`);
    await waitHealthy(`http://127.0.0.1:${barePort}/api/health`);
    log(`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s against the bare Bun.serve floor ...`);
    const floor = await wrk(`http://127.0.0.1:${barePort}/api/health`);
    log(`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s against aragora serve ...`);
    const real = await wrk(`http://127.0.0.1:${apiPort}/api/health`);
    const ratio = real.rps / floor.rps;
    const routes = await apiRoutes(apiPort, dataDir);
    return [
      ...routes,
      {
        name: "health_rps",
        value: Math.round(real.rps),
        unit: "req/s",
        floor: Math.round(floor.rps),
        ratio,
        goal: ">= 0.8x floor",
        pass: ratio >= 0.8,
      },
      {
        name: "health_p99_ms",
        value: real.p99ms,
        unit: "ms",
        floor: floor.p99ms,
        ratio: real.p99ms / floor.p99ms,
        goal: "reported",
      },
    ];
  } finally {
    server.kill("SIGTERM");
    bare.kill("SIGTERM");
    await Promise.all([server.exited, bare.exited]);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);

/**
 * The floor and the server measured alternately, PAIRS times each, and the pair with the median
 * ratio reported: on a shared 2-core machine another process's burst lands on one run, and a
 * single floor-then-server pair would charge it to whichever ran then.
 */
async function paired(floorUrl: string, realUrl: string, script?: string) {
  const pairs: { floor: { rps: number; p99ms: number }; real: { rps: number; p99ms: number } }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const floor = await wrk(floorUrl, script);
    const real = await wrk(realUrl, script);
    pairs.push({ floor, real });
  }
  pairs.sort((a, b) => a.real.rps / a.floor.rps - b.real.rps / b.floor.rps);
  return pairs[Math.floor(pairs.length / 2)] as (typeof pairs)[number];
}

/** A result row comparing the server's route with bare Elysia's; goal >= 0.7x. */
function routeRow(name: string, real: { rps: number }, floor: { rps: number }): BenchResult {
  const ratio = real.rps / floor.rps;
  return {
    name,
    value: Math.round(real.rps),
    unit: "req/s",
    floor: Math.round(floor.rps),
    ratio,
    goal: ">= 0.7x floor",
    pass: ratio >= 0.7,
  };
}

/** GET /api/debates/:id and a failing POST /api/debates, the server beside bare Elysia. */
async function apiRoutes(apiPort: number, dataDir: string): Promise<BenchResult[]> {
  const api = `http://127.0.0.1:${apiPort}`;
  const created = await fetch(`${api}/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ question: "Should the benchmark read a finished debate?", rounds: 2 }),
  });
  if (created.status !== 201) throw new Error(`POST /api/debates answered ${created.status}: ${await created.text()}`);
  const { debate_id: id } = (await created.json()) as { debate_id: string };
  const end = Date.now() + 60_000;
  for (;;) {
    const d = (await (await fetch(`${api}/api/debates/${id}`)).json()) as { status: string };
    if (d.status !== "running") break;
    if (Date.now() > end) throw new Error(`debate ${id} did not finish`);
    await Bun.sleep(50);
  }
  // The floor reads a copy made by SQLite itself: the live file is the server's.
  const copy = join(dataDir, "bench-copy.db");
  const live = new Database(join(dataDir, "core.db"));
  live.run(`VACUUM INTO '${copy}'`);
  live.close();
  const barePort = await freePort();
  const bare = Bun.spawn(["bun", "bench/bare-elysia.ts", String(barePort), copy], { cwd: ROOT, stdout: "ignore" });
  const script = join(dataDir, "post-invalid.lua");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = '{"question":"","rounds":2}'\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  try {
    await waitHealthy(`http://127.0.0.1:${barePort}/api/debates/${id}`);
    const check = await fetch(`http://127.0.0.1:${barePort}/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"question":"","rounds":2}',
    });
    const checkReal = await fetch(`${api}/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"question":"","rounds":2}',
    });
    if (check.status !== 422 || checkReal.status !== 422)
      throw new Error(`the invalid POST answered ${checkReal.status} (server) and ${check.status} (bare), not 422`);
    log(`wrk GET /api/debates/:id, bare Elysia then aragora ...`);
    const get = await paired(`http://127.0.0.1:${barePort}/api/debates/${id}`, `${api}/api/debates/${id}`);
    log(`wrk POST /api/debates (422), bare Elysia then aragora ...`);
    const post = await paired(`http://127.0.0.1:${barePort}/api/debates`, `${api}/api/debates`, script);
    return [routeRow("debate_get_rps", get.real, get.floor), routeRow("debate_post_422_rps", post.real, post.floor)];
  } finally {
    bare.kill("SIGTERM");
    await bare.exited;
  }
}

async function coldStart(entry: string[], runs = 10): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const dataDir = mkdtempSync(join(tmpdir(), "aragora-cold-"));
    const port = await freePort();
    const t0 = performance.now();
    const p = Bun.spawn([...entry, "serve", "--api-port", String(port), "--ws-port", "0"], {
      cwd: ROOT,
      env: { ...process.env, ARAGORA_DATA_DIR: dataDir, ARAGORA_LOG_LEVEL: "WARNING" },
      stdout: "ignore",
      stderr: "inherit",
    });
    await waitHealthy(`http://127.0.0.1:${port}/api/health`);
    times.push(performance.now() - t0);
    p.kill("SIGTERM");
    await p.exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
  times.sort((a, b) => a - b);
  return ((times[4] as number) + (times[5] as number)) / 2;
}

async function bareColdStart(runs = 10): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const port = await freePort();
    const t0 = performance.now();
    const p = Bun.spawn(["bun", "bench/bare-health.ts", String(port)], { cwd: ROOT, stdout: "ignore" });
    await waitHealthy(`http://127.0.0.1:${port}/api/health`);
    times.push(performance.now() - t0);
    p.kill("SIGTERM");
    await p.exited;
  }
  times.sort((a, b) => a - b);
  return ((times[4] as number) + (times[5] as number)) / 2;
}

const results: BenchResult[] = [];
if (only !== "cold") results.push(...(await throughput()));

if (only !== "throughput") {
  log("cold start: 10 runs each ...");
  const bareMs = await bareColdStart();
  const sourceMs = await coldStart(["bun", "app/cli.ts"]);
  const build = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`bun run build failed: ${build.stderr.toString()}`);
  const binaryMs = await coldStart(["dist/aragora"]);
  results.push(
    {
      name: "cold_start_binary_ms",
      value: binaryMs,
      unit: "ms",
      floor: bareMs,
      ratio: binaryMs / bareMs,
      goal: "< 300 ms",
      pass: binaryMs < 300,
    },
    {
      name: "cold_start_source_ms",
      value: sourceMs,
      unit: "ms",
      floor: bareMs,
      ratio: sourceMs / bareMs,
      goal: "< 300 ms",
      pass: sourceMs < 300,
    },
  );
}

const machine = {
  cpus: cpus().length,
  model: cpus()[0]?.model ?? "unknown",
  bun: Bun.version,
  platform: process.platform,
};
if (json) {
  console.log(JSON.stringify({ machine, results }));
} else {
  const fmt = (n: number | undefined) =>
    n === undefined ? "" : n >= 1000 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2);
  console.log(`machine: ${machine.model}, ${machine.cpus} cores, bun ${machine.bun}`);
  console.log(
    `${"name".padEnd(22)} ${"value".padStart(10)} ${"unit".padEnd(6)} ${"floor".padStart(10)} ${"ratio".padStart(7)}  goal`,
  );
  for (const r of results) {
    const verdict = r.pass === undefined ? "" : r.pass ? "PASS" : "MISS";
    console.log(
      `${r.name.padEnd(22)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(6)} ${fmt(r.floor).padStart(10)} ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(7)}  ${r.goal ?? ""} ${verdict}`,
    );
  }
}
