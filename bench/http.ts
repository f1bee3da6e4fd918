/**
 * HTTP benchmarks (`bun run bench:http`, `--json` for one machine-readable object):
 *
 * 1. GET /api/health throughput and p99 latency, driven by wrk from another process, for the real
 *    server (ARAGORA_ENV=production, INFO logging to a pipe, metrics on) beside a bare Bun.serve returning the same JSON
 *    (the floor), in the same run, paired as in 2. Goal: ratio >= 0.8.
 * 2. A representative API route through the whole stack: `GET /api/debates/:id` of a finished demo
 *    debate, and a `POST /api/debates` that fails validation (422), both as the operator (the
 *    server's ARAGORA_API_TOKEN, so authentication and the permission check are measured), each beside the same route on
 *    bare Elysia (bench/bare-elysia.ts: the row read with one prepared statement, Elysia's own body
 *    schema) in the same run, alternately BENCH_PAIRS times (default 3), the median pair reported.
 *    Goal: ratio >= 0.7. Rows 1 and 2 also report the CPU per request of both processes (as in 3),
 *    which a busy machine moves far less than their throughput.
 * 3. What authentication costs: `GET /api/debates/:id` as the owner who claimed the server (the
 *    debate is theirs), once with their access token (a JWT) and once with their API key, each
 *    beside the same route on the same server with authentication off (bench/serve-auth-off.ts:
 *    the same build, every request that owner's principal without reading a credential), paired as
 *    in 2. Both are fresh processes started together, each on its own copy of the database. Goal: ratio >= 0.85. Each is also reported as CPU per request
 *    (the two processes' CPU time over their runs, from /proc), which a busy machine moves far less
 *    than throughput; its ratio is floor / server. Then the route's permission check, as the
 *    server timed it during those runs (aragora_rbac_check_latency_seconds: p99 as the bound of
 *    its histogram bucket) and timed call by call here (`allowed`, runtime/http/permission.ts,
 *    for the same principal). Goal: p99 under 5 us. And, free of the machine's noise, what the
 *    server's composed authenticator costs per call for an access token and an API key already
 *    seen, in process, beside the auth-off floor's (reported, with its share of a request's CPU).
 * 4. Cold start: process start to the first healthy /api/health, median of 10 runs, from source
 *    (`bun app/cli.ts serve`) and from the production binary (`bun run build`, `dist/aragora serve`:
 *    bytecode-compiled, so no parsing at start), on a fresh data dir (a first start: migrations,
 *    keys and the setup token made and synced) and restarted on an existing one, each beside the
 *    schema library's floor in the same form and run (bench/schema-floor.ts: the runtime, ArkType
 *    and the configuration parsed by it, then a bare Bun.serve; ArkType's own import is most of
 *    it), which is beside a bare Bun.serve; and the CPU each used to get there. Round-robin, one
 *    start of each per round. Goal: within 1.5x of that floor (the issue's "under 300 ms" is
 *    below the floor on a 2-core machine: ArkType builds its keyword scopes when it is imported).
 *
 * Options: --json, --only throughput|cold (throughput: rows 1 to 3; cold: row 4).
 *
 * Needs wrk (Debian package wrk). Benchmarks are measurements, not tests: nothing here fails CI.
 */

import { Database } from "bun:sqlite";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { newId, openAccessStore } from "../access/access-store.ts";
import { createAccessAuthenticator } from "../access/authenticator.ts";
import { TOKEN_AUDIENCE, TOKEN_ISSUER } from "../access/feature.ts";
import { loadConfig } from "../runtime/config.ts";
import { firstOf } from "../runtime/http/authenticators.ts";
import { adminApiOff, operatorAuthenticator } from "../runtime/http/operator-auth.ts";
import { allowed } from "../runtime/http/permission.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { createLogger } from "../runtime/log.ts";
import { createTokenSigner } from "../runtime/security/jwt.ts";
import { PERMISSIONS } from "../runtime/security/rbac.ts";
import { newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { openStore } from "../runtime/store/index.ts";
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

/** One wrk run: throughput, p99, and the server's CPU per request when its process id was given. */
interface WrkResult {
  rps: number;
  p99ms: number;
  requests: number;
  cpuUsPerRequest?: number;
}

function parseWrk(out: string): WrkResult {
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  const m = /\s99%\s+([\d.]+)(us|ms|s)\b/.exec(out);
  const scale = m?.[2] === "us" ? 1e-3 : m?.[2] === "s" ? 1e3 : 1;
  return { rps, p99ms: Number(m?.[1]) * scale, requests };
}

const CLOCK_TICKS = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/**
 * CPU seconds (user and system, every thread) process `pid` has used, from /proc (Linux);
 * undefined elsewhere. On a machine shared with other work, CPU per request moves far less than
 * throughput does, so the authenticated rows report it beside their throughput.
 */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * The operator token the benchmarked server is given: its API routes need a principal, so wrk
 * presents it (to the bare floor too, which ignores it, so both parse the same request).
 */
const OPERATOR_TOKEN = `bench-${crypto.randomUUID()}`;
const AUTH = { authorization: `Bearer ${OPERATOR_TOKEN}` };
/** The server's environment, shared by the real server and the auth-off floor. */
const SERVER_ENV = {
  ARAGORA_ENV: "production",
  ARAGORA_JWT_SECRET: crypto.randomUUID() + crypto.randomUUID(),
  ARAGORA_API_TOKEN: OPERATOR_TOKEN,
  ARAGORA_LOG_LEVEL: "INFO",
  ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
  // The per-caller limit (600 a minute by default) would answer most of a benchmark's requests
  // with 429: a budget no run reaches keeps the check, and its cost, on every request.
  ARAGORA_RATE_LIMIT_API: "999999999/1",
  ARAGORA_RATE_LIMIT_AUTH: "999999999/1",
};

/** wrk's options: a Lua script, and the Authorization header sent (default: the operator's). */
interface WrkOptions {
  script?: string;
  authorization?: string;
  /** The route answers an error on purpose (the refused POST); otherwise any non-2xx answer stops the run. */
  expectErrors?: boolean;
}

async function wrk(url: string, options: WrkOptions = {}, pid?: number): Promise<WrkResult> {
  const authorization = options.authorization ?? AUTH.authorization;
  const extra = [
    ...(options.script === undefined ? [] : ["-s", options.script]),
    "-H",
    `Authorization: ${authorization}`,
  ];
  // Warm up the JIT, then measure.
  Bun.spawnSync(["wrk", "-t1", `-c${CONNECTIONS}`, "-d1s", ...extra, url]);
  const cpuBefore = cpuSeconds(pid);
  const p = Bun.spawnSync(["wrk", "-t1", `-c${CONNECTIONS}`, `-d${DURATION_S}s`, "--latency", ...extra, url]);
  const cpuAfter = cpuSeconds(pid);
  const out = p.stdout.toString();
  if (p.exitCode !== 0) throw new Error(`wrk failed: ${p.stderr.toString()}`);
  const result = parseWrk(out);
  const refused = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  if (refused > 0 && options.expectErrors !== true) {
    throw new Error(
      `${refused} of ${result.requests} answers to ${url} were not 2xx: the figure would measure refusals`,
    );
  }
  if (cpuBefore !== undefined && cpuAfter !== undefined && result.requests > 0) {
    result.cpuUsPerRequest = ((cpuAfter - cpuBefore) * 1e6) / result.requests;
  }
  return result;
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
    env: { ...process.env, ...SERVER_ENV, ARAGORA_DATA_DIR: dataDir },
    stdout: "ignore",
    stderr: "inherit",
  });
  const barePort = await freePort();
  const bare = Bun.spawn(["bun", "bench/bare-health.ts", String(barePort)], { cwd: ROOT, stdout: "ignore" });
  try {
    await waitHealthy(`http://127.0.0.1:${apiPort}/api/health`);
    await waitHealthy(`http://127.0.0.1:${barePort}/api/health`);
    log(`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s GET /api/health, the bare Bun.serve floor then aragora serve ...`);
    const health = await paired(
      `http://127.0.0.1:${barePort}/api/health`,
      `http://127.0.0.1:${apiPort}/api/health`,
      {},
      { floor: bare.pid, real: server.pid },
    );
    const { floor, real } = health;
    const routes = await apiRoutes(apiPort, dataDir, server.pid);
    return [
      ...routes,
      routeRow("health_rps", real, floor, 0.8),
      {
        name: "health_p99_ms",
        value: real.p99ms,
        unit: "ms",
        floor: floor.p99ms,
        ratio: real.p99ms / floor.p99ms,
        goal: "reported",
      },
      ...cpuRow("health_cpu", health.cpu),
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
async function paired(
  floorUrl: string,
  realUrl: string,
  options: WrkOptions = {},
  pids: { floor?: number; real?: number } = {},
) {
  const pairs: { floor: WrkResult; real: WrkResult }[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const floor = await wrk(floorUrl, options, pids.floor);
    const real = await wrk(realUrl, options, pids.real);
    pairs.push({ floor, real });
  }
  const ratios = pairs.map((p) => p.real.rps / p.floor.rps);
  log(`  throughput ratios of the ${PAIRS} pairs: ${ratios.map((r) => r.toFixed(2)).join(", ")}`);
  const cpu = pairs.flatMap((p) =>
    p.floor.cpuUsPerRequest === undefined || p.real.cpuUsPerRequest === undefined
      ? []
      : [{ floor: p.floor.cpuUsPerRequest, real: p.real.cpuUsPerRequest }],
  );
  if (cpu.length > 0) {
    log(`  CPU per request, floor/real: ${cpu.map((c) => `${c.floor.toFixed(0)}/${c.real.toFixed(0)} us`).join(", ")}`);
  }
  cpu.sort((a, b) => a.floor / a.real - b.floor / b.real);
  pairs.sort((a, b) => a.real.rps / a.floor.rps - b.real.rps / b.floor.rps);
  return { ...(pairs[Math.floor(pairs.length / 2)] as (typeof pairs)[number]), cpu: cpu[Math.floor(cpu.length / 2)] };
}

/**
 * A row comparing the server's CPU per request with its floor's (the median pair by that ratio);
 * the ratio is floor / server, so it reads like the throughput rows'. Without a goal it is
 * reported: beside a throughput row, the same comparison in the unit a busy machine moves least.
 */
function cpuRow(name: string, cpu: { floor: number; real: number } | undefined, goal?: number): BenchResult[] {
  if (cpu === undefined) return [];
  const ratio = cpu.floor / cpu.real;
  return [
    {
      name,
      value: cpu.real,
      unit: "us/req",
      floor: cpu.floor,
      ratio,
      ...(goal === undefined
        ? { goal: "reported (floor/server CPU)" }
        : { goal: `>= ${goal}x (floor/server CPU)`, pass: ratio >= goal }),
    },
  ];
}

/** A result row comparing the server's route with its floor; goal >= `goal`x. */
function routeRow(name: string, real: { rps: number }, floor: { rps: number }, goal = 0.7): BenchResult {
  const ratio = real.rps / floor.rps;
  return {
    name,
    value: Math.round(real.rps),
    unit: "req/s",
    floor: Math.round(floor.rps),
    ratio,
    goal: `>= ${goal}x floor`,
    pass: ratio >= goal,
  };
}

/** The owner who claimed the benchmarked server: an access token, an API key and the principal both give. */
interface Owner {
  accessToken: string;
  apiKey: string;
  principal: Principal;
}

/** Claims the fresh server's owner account with its setup token, and makes that owner an API key. */
async function claimOwner(api: string, dataDir: string): Promise<Owner> {
  const setupToken = readFileSync(join(dataDir, "setup-token"), "utf8").trim();
  const json = { "content-type": "application/json" };
  const setup = await fetch(`${api}/api/auth/setup`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({ setup_token: setupToken, email: "bench@example.com", password: "bench-password-0123" }),
  });
  if (setup.status !== 201) throw new Error(`POST /api/auth/setup answered ${setup.status}: ${await setup.text()}`);
  const accessToken = ((await setup.json()) as { access_token: string }).access_token;
  const bearer = { authorization: `Bearer ${accessToken}` };
  const made = await fetch(`${api}/api/auth/api-key`, {
    method: "POST",
    headers: { ...json, ...bearer },
    body: JSON.stringify({ name: "bench" }),
  });
  if (made.status !== 201) throw new Error(`POST /api/auth/api-key answered ${made.status}: ${await made.text()}`);
  const apiKey = ((await made.json()) as { key: string }).key;
  const me = (await (await fetch(`${api}/api/auth/me`, { headers: bearer })).json()) as {
    user: { id: string };
    organisation: { id: string };
    workspace: { id: string };
    roles: Principal["roles"];
  };
  const principal: Principal = {
    kind: "user",
    userId: me.user.id,
    orgId: me.organisation.id,
    workspaceId: me.workspace.id,
    roles: me.roles,
    via: "bearer",
  };
  return { accessToken, apiKey, principal };
}

/** The server's aragora_rbac_check_latency_seconds buckets (cumulative counts by upper bound), from /api/metrics. */
async function checkBuckets(api: string): Promise<{ le: number; count: number }[]> {
  const text = await (await fetch(`${api}/api/metrics`, { headers: AUTH })).text();
  return [...text.matchAll(/^aragora_rbac_check_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((m) => ({
    le: Number(m[1]),
    count: Number(m[2]),
  }));
}

/**
 * The 99th percentile of the permission checks the server timed between two readings of its
 * histogram: the upper bound of the first bucket holding 99% of them, in microseconds.
 */
function checkP99(before: { le: number; count: number }[], after: { le: number; count: number }[]) {
  const buckets = after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }));
  const checks = buckets.at(-1)?.count ?? 0;
  const bound = buckets.find((b) => b.count >= checks * 0.99)?.le ?? Number.POSITIVE_INFINITY;
  return { p99us: bound * 1e6, checks };
}

/**
 * What finding the caller costs per request, in process: the server's composed authenticator
 * (app/features.ts: the operator's tokens, then the access feature's, then the admin API's "off")
 * on an access store of its own (SQLite in a temporary directory), asked about a request carrying
 * an access token and one carrying an API key, each already seen (as every request after a
 * caller's first). Mean microseconds per call, beside the auth-off floor's constant answer.
 */
async function authenticateCost(): Promise<{ jwtUs: number; keyUs: number; offUs: number }> {
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-auth-"));
  const config = loadConfig({ ARAGORA_DATA_DIR: dir, ARAGORA_LOG_LEVEL: "ERROR", ARAGORA_API_TOKEN: OPERATOR_TOKEN });
  const quiet = createLogger("ERROR");
  const store = await openStore(config, quiet);
  const access = await openAccessStore(store);
  try {
    const now = new Date();
    const { orgId } = await access.ensureFirstOrganisation(now);
    const user = await access.createUser(
      { email: "bench@example.com", name: "Bench", passwordHash: null },
      orgId,
      "owner",
      now,
    );
    const secret = newSecretToken(TOKEN_PREFIX.apiKey);
    await access.insertApiKey({
      id: newId.apiKey(),
      orgId,
      createdBy: user.id,
      name: "bench",
      prefix: secret.token.slice(0, TOKEN_PREFIX.apiKey.length + 4),
      lastFour: secret.lastFour,
      keyHash: secret.hash,
      role: "owner",
      scopes: "[]",
      kind: "user",
      createdAt: now,
      lastUsedAt: null,
      revokedAt: null,
    });
    const signer = createTokenSigner({
      secret: SERVER_ENV.ARAGORA_JWT_SECRET,
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      accessTtlSeconds: 3600,
    });
    const jwt = await signer.signAccess({ sub: user.id, org: orgId, roles: ["owner"] });
    const authenticator = firstOf([
      operatorAuthenticator(config),
      createAccessAuthenticator(access, signer, { log: quiet }),
      adminApiOff(config),
    ]);
    const principal = Object.freeze({
      kind: "user",
      userId: user.id,
      orgId,
      workspaceId: "w",
      roles: ["owner"],
      via: "bearer",
    } as const);
    const off = { authenticate: () => principal };
    const perCall = async (auth: { authenticate: (r: Request, h: Headers) => unknown }, credential: string) => {
      const request = new Request("http://127.0.0.1/api/debates/d-1", {
        headers: { authorization: `Bearer ${credential}` },
      });
      const headers = request.headers;
      // The first call reads the store (and verifies the token); the rest are answered from memory.
      const first = await auth.authenticate(request, headers);
      if (first === undefined || first instanceof Error)
        throw new Error(`the bench credential was refused: ${String(first)}`);
      for (let i = 0; i < 20_000; i++) auth.authenticate(request, headers);
      const calls = 200_000;
      const t = Bun.nanoseconds();
      for (let i = 0; i < calls; i++) auth.authenticate(request, headers);
      return (Bun.nanoseconds() - t) / calls / 1000;
    };
    return {
      jwtUs: await perCall(authenticator, jwt),
      keyUs: await perCall(authenticator, secret.token),
      offUs: await perCall(off, jwt),
    };
  } finally {
    await access.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The p99 of `allowed` for `principal`, timed call by call (timer overhead included), in microseconds. */
function allowedP99(principal: Principal, samples = 200_000): number {
  let i = 0;
  const check = () => allowed(principal, PERMISSIONS[i++ % PERMISSIONS.length] as (typeof PERMISSIONS)[number]);
  for (let n = 0; n < 10_000; n++) check();
  const times = new Float64Array(samples);
  for (let n = 0; n < samples; n++) {
    const t = Bun.nanoseconds();
    check();
    times[n] = Bun.nanoseconds() - t;
  }
  times.sort();
  return (times[Math.floor(samples * 0.99)] as number) / 1000;
}

/**
 * GET /api/debates/:id and a failing POST /api/debates as the operator, the server beside bare
 * Elysia; then GET /api/debates/:id as the owner with a JWT and with an API key, the server beside
 * itself with authentication off; then the permission check's p99.
 */
async function apiRoutes(apiPort: number, dataDir: string, serverPid: number): Promise<BenchResult[]> {
  const api = `http://127.0.0.1:${apiPort}`;
  const owner = await claimOwner(api, dataDir);
  const asOwner = { authorization: `Bearer ${owner.accessToken}` };
  const created = await fetch(`${api}/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json", ...asOwner },
    body: JSON.stringify({ question: "Should the benchmark read a finished debate?", rounds: 2 }),
  });
  if (created.status !== 201) throw new Error(`POST /api/debates answered ${created.status}: ${await created.text()}`);
  const { debate_id: id } = (await created.json()) as { debate_id: string };
  const end = Date.now() + 60_000;
  for (;;) {
    const d = (await (await fetch(`${api}/api/debates/${id}`, { headers: asOwner })).json()) as { status: string };
    if (d.status !== "running") break;
    if (Date.now() > end) throw new Error(`debate ${id} did not finish`);
    await Bun.sleep(50);
  }
  // The floors read copies made by SQLite itself: the live file is the server's. The
  // authentication rows compare two fresh processes started together, each on its own copy: the
  // server as it runs (its "twin") and the same server with authentication off, so nothing but
  // authentication differs (not the process's age, nor a database with a WAL beside it).
  const copy = join(dataDir, "bench-copy.db");
  const twinDir = join(dataDir, "twin");
  const offDir = join(dataDir, "auth-off");
  mkdirSync(twinDir);
  mkdirSync(offDir);
  const live = new Database(join(dataDir, "core.db"));
  live.run(`VACUUM INTO '${copy}'`);
  live.run(`VACUUM INTO '${join(twinDir, "core.db")}'`);
  live.run(`VACUUM INTO '${join(offDir, "core.db")}'`);
  live.close();
  const barePort = await freePort();
  const bare = Bun.spawn(["bun", "bench/bare-elysia.ts", String(barePort), copy], { cwd: ROOT, stdout: "ignore" });
  const serverOn = async (entry: string[], dir: string) => {
    const port = await freePort();
    const proc = Bun.spawn(["bun", ...entry], {
      cwd: ROOT,
      env: {
        ...process.env,
        ...SERVER_ENV,
        ARAGORA_DATA_DIR: dir,
        ARAGORA_API_PORT: String(port),
        ARAGORA_WS_PORT: "0",
      },
      stdout: "ignore",
      stderr: "inherit",
    });
    return { port, proc };
  };
  const twin = await serverOn(["app/cli.ts", "serve"], twinDir);
  const off = await serverOn(["bench/serve-auth-off.ts", JSON.stringify(owner.principal)], offDir);
  const script = join(dataDir, "post-invalid.lua");
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.body = '{"question":"","rounds":2}'\nwrk.headers["Content-Type"] = "application/json"\n`,
  );
  try {
    await waitHealthy(`http://127.0.0.1:${barePort}/api/debates/${id}`);
    await waitHealthy(`http://127.0.0.1:${twin.port}/api/health`);
    await waitHealthy(`http://127.0.0.1:${off.port}/api/health`);
    const twinApi = `http://127.0.0.1:${twin.port}`;
    const check = await fetch(`http://127.0.0.1:${barePort}/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"question":"","rounds":2}',
    });
    const checkReal = await fetch(`${api}/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json", ...AUTH },
      body: '{"question":"","rounds":2}',
    });
    if (check.status !== 422 || checkReal.status !== 422)
      throw new Error(`the invalid POST answered ${checkReal.status} (server) and ${check.status} (bare), not 422`);
    // The three ways to the owner's debate answer the same record: the key, the token, no credential at all.
    const records = await Promise.all(
      [
        fetch(`${twinApi}/api/debates/${id}`, { headers: asOwner }),
        fetch(`${twinApi}/api/debates/${id}`, { headers: { authorization: `Bearer ${owner.apiKey}` } }),
        fetch(`http://127.0.0.1:${off.port}/api/debates/${id}`),
      ].map(async (r) => {
        const res = await r;
        if (res.status !== 200) throw new Error(`GET /api/debates/${id} answered ${res.status}: ${await res.text()}`);
        return res.text();
      }),
    );
    if (new Set(records).size !== 1) throw new Error("the token, the key and auth off answered different records");

    log(`wrk GET /api/debates/:id, bare Elysia then aragora ...`);
    const routePids = { floor: bare.pid, real: serverPid };
    const get = await paired(
      `http://127.0.0.1:${barePort}/api/debates/${id}`,
      `${api}/api/debates/${id}`,
      {},
      routePids,
    );
    log(`wrk POST /api/debates (422), bare Elysia then aragora ...`);
    const post = await paired(
      `http://127.0.0.1:${barePort}/api/debates`,
      `${api}/api/debates`,
      { script, expectErrors: true },
      routePids,
    );
    const before = await checkBuckets(twinApi);
    log(`wrk GET /api/debates/:id with a JWT, auth off then the JWT ...`);
    const offUrl = `http://127.0.0.1:${off.port}/api/debates/${id}`;
    const twinUrl = `${twinApi}/api/debates/${id}`;
    const pids = { floor: off.proc.pid, real: twin.proc.pid };
    const jwt = await paired(offUrl, twinUrl, { authorization: `Bearer ${owner.accessToken}` }, pids);
    log(`wrk GET /api/debates/:id with an API key, auth off then the key ...`);
    const key = await paired(offUrl, twinUrl, { authorization: `Bearer ${owner.apiKey}` }, pids);
    const checks = checkP99(before, await checkBuckets(twinApi));
    const inProcess = allowedP99(owner.principal);
    const auth = await authenticateCost();
    const perRequest = (us: number, cpu: { real: number } | undefined) =>
      cpu === undefined
        ? "reported"
        : `reported (${((100 * us) / cpu.real).toFixed(1)}% of the server's CPU per request)`;
    return [
      routeRow("debate_get_rps", get.real, get.floor),
      routeRow("debate_post_422_rps", post.real, post.floor),
      ...cpuRow("debate_get_cpu", get.cpu),
      ...cpuRow("debate_post_422_cpu", post.cpu),
      routeRow("debate_get_jwt_rps", jwt.real, jwt.floor, 0.85),
      routeRow("debate_get_api_key_rps", key.real, key.floor, 0.85),
      ...cpuRow("debate_get_jwt_cpu", jwt.cpu, 0.85),
      ...cpuRow("debate_get_api_key_cpu", key.cpu, 0.85),
      {
        name: "authenticate_jwt_us",
        value: auth.jwtUs,
        unit: "us",
        floor: auth.offUs,
        goal: perRequest(auth.jwtUs, jwt.cpu),
      },
      {
        name: "authenticate_api_key_us",
        value: auth.keyUs,
        unit: "us",
        floor: auth.offUs,
        goal: perRequest(auth.keyUs, key.cpu),
      },
      {
        name: "rbac_check_p99_us",
        value: checks.p99us,
        unit: "us",
        goal: `< 5 us (at most: the bound of the server's histogram bucket, over the ${checks.checks.toLocaleString("en-US")} checks of the JWT and key runs)`,
        pass: checks.p99us <= 5,
      },
      { name: "rbac_allowed_p99_us", value: inProcess, unit: "us", goal: "< 5 us", pass: inProcess < 5 },
    ];
  } finally {
    for (const proc of [bare, twin.proc, off.proc]) proc.kill("SIGTERM");
    await Promise.all([bare.exited, twin.proc.exited, off.proc.exited]);
  }
}

/** One cold start: process spawn to the first healthy /api/health, and the CPU the process used by then. */
interface ColdStart {
  wallMs: number;
  cpuMs: number;
}

/**
 * Start `command` (its port appended by `args`) and time it to its first healthy /api/health.
 * A server gets a fresh data dir ("fresh": a first start on a new host, migrations, keys and the
 * setup token made and synced to disk) or the one named (a restart); a floor gets none.
 */
async function coldStartOnce(
  command: string[],
  args: (port: number) => string[],
  data: "fresh" | string | undefined,
): Promise<ColdStart> {
  const fresh = data === "fresh" ? mkdtempSync(join(tmpdir(), "aragora-cold-")) : undefined;
  const dataDir = fresh ?? data;
  const port = await freePort();
  const t0 = performance.now();
  const p = Bun.spawn([...command, ...args(port)], {
    cwd: ROOT,
    env: { ...process.env, ...(dataDir ? { ARAGORA_DATA_DIR: dataDir } : {}), ARAGORA_LOG_LEVEL: "WARNING" },
    stdout: "ignore",
    // Kept for a failed start; a first start's setup-token notice is not shown.
    stderr: "pipe",
  });
  try {
    await waitHealthy(`http://127.0.0.1:${port}/api/health`);
  } catch (err) {
    p.kill("SIGKILL");
    throw new Error(`${command.join(" ")}: ${(err as Error).message}\n${await new Response(p.stderr).text()}`);
  }
  const wallMs = performance.now() - t0;
  const cpuMs = (cpuSeconds(p.pid) ?? Number.NaN) * 1000;
  p.kill("SIGTERM");
  await p.exited;
  if (fresh) rmSync(fresh, { recursive: true, force: true });
  return { wallMs, cpuMs };
}

/** The median of an even number of samples (the mean of the middle two). */
function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  return sorted.length % 2 === 0
    ? ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
    : (sorted[Math.floor(mid)] as number);
}

/** The cold-start goal: within this factor of the schema library's floor in the same form. */
const COLD_START_FLOOR_RATIO = 1.5;

const results: BenchResult[] = [];
if (only !== "cold") results.push(...(await throughput()));

if (only !== "throughput") {
  log("cold start: 10 runs each ...");
  const build = Bun.spawnSync(["bun", "run", "build"], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`bun run build failed: ${build.stderr.toString()}`);
  // The floor compiled as the server is (package.json's build), so each form is beside its own.
  const floorBuild = Bun.spawnSync(
    [
      "bun",
      "build",
      "bench/schema-floor.ts",
      "--compile",
      "--bytecode",
      "--minify",
      "--outfile",
      "dist/bench-schema-floor",
    ],
    { cwd: ROOT, stdout: "ignore", stderr: "pipe" },
  );
  if (floorBuild.exitCode !== 0) throw new Error(`building the schema floor failed: ${floorBuild.stderr.toString()}`);
  // Round-robin, one start of each per round: a machine busy with other work slows them alike.
  const floorArgs = (port: number) => [String(port)];
  const serverArgs = (port: number) => ["serve", "--api-port", String(port), "--ws-port", "0"];
  // A restart's data dir: made by one first start, then each restart opens it as it was left.
  const restartDir = mkdtempSync(join(tmpdir(), "aragora-restart-"));
  await coldStartOnce(["dist/aragora"], serverArgs, restartDir);
  const forms: Record<string, { command: string[]; args: (port: number) => string[]; data?: string }> = {
    bare: { command: ["bun", "bench/bare-health.ts"], args: floorArgs },
    floorSource: { command: ["bun", "bench/schema-floor.ts"], args: floorArgs },
    floorBinary: { command: ["dist/bench-schema-floor"], args: floorArgs },
    source: { command: ["bun", "app/cli.ts"], args: serverArgs, data: "fresh" },
    binary: { command: ["dist/aragora"], args: serverArgs, data: "fresh" },
    sourceRestart: { command: ["bun", "app/cli.ts"], args: serverArgs, data: restartDir },
    binaryRestart: { command: ["dist/aragora"], args: serverArgs, data: restartDir },
  };
  const starts: Record<string, ColdStart[]> = Object.fromEntries(Object.keys(forms).map((k) => [k, []]));
  for (let round = 0; round < 10; round++) {
    for (const [name, form] of Object.entries(forms)) {
      starts[name]?.push(await coldStartOnce(form.command, form.args, form.data));
    }
  }
  rmSync(restartDir, { recursive: true, force: true });
  const wall = (name: string) => median((starts[name] ?? []).map((s) => s.wallMs));
  const cpu = (name: string) => median((starts[name] ?? []).map((s) => s.cpuMs));
  const [bareMs, floorSourceMs, floorBinaryMs, sourceMs, binaryMs] = (
    ["bare", "floorSource", "floorBinary", "source", "binary"] as const
  ).map(wall) as [number, number, number, number, number];
  const withinFloor = (value: number, floor: number) => value / floor <= COLD_START_FLOOR_RATIO;
  results.push(
    {
      name: "cold_start_binary_ms",
      value: binaryMs,
      unit: "ms",
      floor: floorBinaryMs,
      ratio: binaryMs / floorBinaryMs,
      goal: `<= ${COLD_START_FLOOR_RATIO}x the schema floor, compiled (issue 12 asked < 300 ms)`,
      pass: withinFloor(binaryMs, floorBinaryMs),
    },
    {
      name: "cold_start_source_ms",
      value: sourceMs,
      unit: "ms",
      floor: floorSourceMs,
      ratio: sourceMs / floorSourceMs,
      goal: `<= ${COLD_START_FLOOR_RATIO}x the schema floor, from source (issue 12 asked < 300 ms)`,
      pass: withinFloor(sourceMs, floorSourceMs),
    },
    {
      name: "cold_restart_binary_ms",
      value: wall("binaryRestart"),
      unit: "ms",
      floor: floorBinaryMs,
      ratio: wall("binaryRestart") / floorBinaryMs,
      goal: `<= ${COLD_START_FLOOR_RATIO}x the schema floor: a restart on an existing data dir, compiled`,
      pass: withinFloor(wall("binaryRestart"), floorBinaryMs),
    },
    {
      name: "cold_restart_source_ms",
      value: wall("sourceRestart"),
      unit: "ms",
      floor: floorSourceMs,
      ratio: wall("sourceRestart") / floorSourceMs,
      goal: `<= ${COLD_START_FLOOR_RATIO}x the schema floor: a restart on an existing data dir, from source`,
      pass: withinFloor(wall("sourceRestart"), floorSourceMs),
    },
    {
      name: "cold_start_floor_binary_ms",
      value: floorBinaryMs,
      unit: "ms",
      floor: bareMs,
      ratio: floorBinaryMs / bareMs,
      goal: "reported: runtime + ArkType + the configuration, compiled, beside a bare Bun.serve from source",
    },
    {
      name: "cold_start_floor_source_ms",
      value: floorSourceMs,
      unit: "ms",
      floor: bareMs,
      ratio: floorSourceMs / bareMs,
      goal: "reported: runtime + ArkType + the configuration, beside a bare Bun.serve",
    },
    {
      name: "cold_start_binary_cpu_ms",
      value: cpu("binary"),
      unit: "ms",
      floor: cpu("floorBinary"),
      ratio: cpu("binary") / cpu("floorBinary"),
      goal: "reported: the process's CPU (all threads) to its first healthy answer, beside the compiled floor's",
    },
    {
      name: "cold_start_source_cpu_ms",
      value: cpu("source"),
      unit: "ms",
      floor: cpu("floorSource"),
      ratio: cpu("source") / cpu("floorSource"),
      goal: "reported: the same from source, beside the floor's from source",
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
    `${"name".padEnd(26)} ${"value".padStart(10)} ${"unit".padEnd(6)} ${"floor".padStart(10)} ${"ratio".padStart(7)}  goal`,
  );
  for (const r of results) {
    const verdict = r.pass === undefined ? "" : r.pass ? "PASS" : "MISS";
    console.log(
      `${r.name.padEnd(26)} ${fmt(r.value).padStart(10)} ${r.unit.padEnd(6)} ${fmt(r.floor).padStart(10)} ${(r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`).padStart(7)}  ${r.goal ?? ""} ${verdict}`,
    );
  }
}
