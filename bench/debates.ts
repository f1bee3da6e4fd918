/**
 * Debate benchmarks: `bun run bench:debates` prints a table, `--json` one JSON object. Every figure
 * with a goal relative to a floor has its floor measured in the same run.
 *
 * - overhead: 3 agents x 3 rounds against a zero-latency in-process model, debates/s through the
 *   real DebateSupervisor (actors, SQLite event log, receipts, ELO; a debate counts once its
 *   receipt and rating are stored) beside the same protocol as plain awaited calls with no actors
 *   and no persistence (the floor). A reference row runs the floor again with only the event log's
 *   own per-event work added (each envelope serialised and hash-chained by DebateLog, nothing
 *   stored): the part of the goal's budget that no storage or actor design can give back.
 * - fan-out: one debate's events to 1,000 WebSocket subscribers through DebateStreams beside raw
 *   Bun server.publish of the same payloads to the same sockets; the subscribers run in a child
 *   process (bench/debates/fanout-clients.ts).
 * - concurrency: N debates at once (default 1000; --concurrency N) on the real server (startServer,
 *   in this process, so its event-loop lag and heap are measured here) against the fake provider
 *   server at 50 ms per token in a child process at nice 10 (OpenAI, Anthropic and Gemini wire protocols),
 *   each debate created over HTTP and watched by its own WebSocket from a second child process
 *   (bench/debates/watchers.ts): completion, p99 latency from append to client receipt, event-loop
 *   lag p99, heap per active debate.
 *
 * - bytes on disk per debate, after overhead and after concurrency: the debate tables' pages over
 *   the debates stored, beside the events' own JSON (bench/debates/disk-usage.ts).
 *
 * Options: --json, --only overhead|fanout|concurrency, --subscribers N, --events N, --concurrency N.
 */

import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerWebSocket, Subprocess } from "bun";
import type { ProviderClient } from "../actors/agent/providers/client.ts";
import { providerClients } from "../actors/agent/providers/sdk-client.ts";
import { LOCAL_OWNER, openDebateStore } from "../actors/debate/debate-store.ts";
import { DebateStreams } from "../actors/debate/debate-streams.ts";
import { DebateSupervisor } from "../actors/debate/debate-supervisor.ts";
import { DebateLog, EventWriter, GENESIS_HASH } from "../actors/debate/event-log.ts";
import { runProtocol } from "../actors/debate/protocol.ts";
import { loadOrCreateReceiptKey } from "../actors/debate/receipt.ts";
import { startServer } from "../app/server.ts";
import { ActorSystem } from "../runtime/actor/index.ts";
import { type Config, loadConfig } from "../runtime/config.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { WsGateway } from "../runtime/http/ws-gateway.ts";
import { createLogger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import { openStore } from "../runtime/store/index.ts";
import { checkpointInBackground } from "../runtime/store/sqlite.ts";
import { WalCheckpointer } from "../runtime/store/wal-checkpointer.ts";
import { debateConfig, inProcessAgents } from "../tests/debate/in-process-agents.ts";
import { diskPerDebate, diskRow } from "./debates/disk-usage.ts";
import type { BenchResult } from "./result.ts";

/** Who the fan-out's sockets act as: the operator, in the organisation the benchmark's debates are in. */
const OPERATOR: Principal = {
  kind: "operator",
  userId: null,
  orgId: LOCAL_OWNER.orgId,
  workspaceId: LOCAL_OWNER.orgId,
  roles: ["operator"],
  via: "operator_token",
};
const json = process.argv.includes("--json");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const only = (() => {
  const i = process.argv.indexOf("--only");
  return i >= 0 ? process.argv[i + 1] : undefined;
})();
const progress = (s: string) => {
  if (!json) process.stderr.write(`  ${s}...\n`);
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const log = createLogger("ERROR");
const BUN = process.execPath;
const HERE = import.meta.dir;

const CONFIG = debateConfig({ rounds: 3, timeouts: { turnMs: 600_000, roundMs: 600_000, debateMs: 3_600_000 } });
// Answers that never converge, so every debate runs all three rounds.
const answers = { "t:a": "alpha plan", "t:b": "beta plan", "t:c": "gamma plan" };

/** The debates feature's parts on a fresh SQLite data dir, with in-process agents. */
async function harness() {
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-"));
  const config = loadConfig({ ARAGORA_DATA_DIR: dir });
  // As the server runs: WAL checkpoints on their own thread, never inside a commit.
  checkpointInBackground();
  const core = await openStore(config, log);
  const checkpointer = new WalCheckpointer(core.sqlitePath as string, {
    busyTimeoutMs: 5000,
    walLimitBytes: config.sqliteWalLimitBytes,
    log,
  });
  const store = await openDebateStore(core, config);
  const gateway = new WsGateway({ heartbeatMs: 60_000, log });
  const streams = new DebateStreams({ gateway, store, bufferLimit: 100_000, log });
  streams.register();
  const writer = new EventWriter({ store, log, publish: (id, seq, payload) => streams.publish(id, seq, payload) });
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const debates = new DebateSupervisor({
    system,
    store,
    writer,
    agents: inProcessAgents({ answers }),
    key: loadOrCreateReceiptKey(dir),
    log,
    defaults: { rounds: 3, turnMs: 600_000, roundMs: 600_000, debateMs: 3_600_000 },
  });
  debates.start();
  return {
    debates,
    dbPath: core.sqlitePath as string,
    gateway,
    streams,
    async close() {
      await debates.interruptAll();
      await system.shutdown();
      await checkpointer.stop();
      await store.close();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Lines of a child's stdout, awaited one prefix at a time. */
function lines(child: Subprocess<"pipe", "pipe", "inherit">) {
  const seen: string[] = [];
  const waiting: { prefix: string; resolve: (line: string) => void }[] = [];
  void (async () => {
    let buf = "";
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      buf += decoder.decode(chunk, { stream: true });
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const w = waiting.findIndex((x) => line.startsWith(x.prefix));
        if (w >= 0) waiting.splice(w, 1)[0]?.resolve(line);
        else seen.push(line);
      }
    }
  })();
  return (prefix: string) => {
    const i = seen.findIndex((l) => l.startsWith(prefix));
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0] as string);
    return new Promise<string>((resolve) => waiting.push({ prefix, resolve }));
  };
}

/** A child process running one of bench/debates/*.ts, at `nice` (Linux; 0 leaves it as it is). */
const spawnChild = (script: string, args: string[], nice = 0, env: Record<string, string> = {}) =>
  Bun.spawn([...(nice > 0 ? ["nice", "-n", String(nice)] : []), BUN, join(HERE, "debates", script), ...args], {
    env: { ...process.env, ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });

/** Run `total` debates with `inFlight` at a time through `start`, which resolves when one is done. */
async function throughput(total: number, inFlight: number, start: () => Promise<void>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    while (next < total) {
      next++;
      await start();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  return total / ((performance.now() - t0) / 1000);
}

async function overhead(): Promise<BenchResult[]> {
  progress("overhead: floor (plain awaited protocol, no actors, no persistence)");
  const agents = inProcessAgents({ answers });
  const signal = new AbortController().signal;
  const floorRun = () =>
    runProtocol({ debateId: "d-floor", question: "Q?", config: CONFIG, agents, emit: () => {}, signal }).then(() => {});
  // The same, with the work the event log does for every event before any of it is stored: the
  // envelope serialised, its seq and its link in the hash chain (DebateLog, writing nowhere).
  const logRun = () => {
    const events = new DebateLog(
      `d-${Bun.randomUUIDv7()}`,
      { append() {}, sealBeforeBatch() {} },
      {
        seq: 0,
        hash: GENESIS_HASH,
      },
    );
    return runProtocol({
      debateId: events.debateId,
      question: "Q?",
      config: CONFIG,
      agents,
      emit: events.emit.bind(events),
      signal,
    }).then(() => events.sealTokens());
  };
  await throughput(200, 32, floorRun);
  await throughput(200, 32, logRun);
  // Interleaved, best of two each: the machine's speed drifts between runs.
  let floor = 0;
  let logOnly = 0;
  for (let i = 0; i < 2; i++) {
    floor = Math.max(floor, await throughput(2000, 32, floorRun));
    logOnly = Math.max(logOnly, await throughput(2000, 32, logRun));
  }

  progress("overhead: DebateSupervisor with actors, SQLite event log, receipts, ELO");
  const h = await harness();
  const run = async () => {
    const id = await h.debates.create(
      { question: "Q?", agents: CONFIG.agents, rounds: 3, convergence_threshold: 1 },
      LOCAL_OWNER,
    );
    await h.debates.whenStopped(id);
  };
  await throughput(100, 32, run);
  const value = Math.max(await throughput(1000, 32, run), await throughput(1000, 32, run));
  const disk = diskPerDebate(h.dbPath);
  await h.close();
  const ratio = value / floor;
  return [
    {
      name: "overhead: 3 agents x 3 rounds, debates/s (persistence on)",
      value,
      unit: "debates/s",
      floor,
      ratio,
      goal: ">= 0.5x floor and >= 100/s",
      pass: ratio >= 0.5 && value >= 100,
    },
    {
      name: "overhead, reference: the floor plus only serialising and hash-chaining each event (nothing stored, no actors)",
      value: logOnly,
      unit: "debates/s",
      floor,
      ratio: logOnly / floor,
      goal: "reported: work the 0.5x goal's budget must also cover",
      pass: true,
    },
    diskRow("overhead's in-process agents, one token event per turn", disk),
  ];
}

async function fanOut(subscribers: number, events: number): Promise<BenchResult> {
  progress(`fan-out: one debate to ${subscribers} subscribers (child process), ${events} events`);
  const h = await harness();
  const id = await h.debates.create({ question: "fan-out", agents: CONFIG.agents, rounds: 1 }, LOCAL_OWNER);
  await h.debates.whenStopped(id);
  const sockets: ServerWebSocket<undefined>[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      open: (ws) => {
        // As the operator in the legacy organisation, where the debate is (the listener here is
        // a bare Bun.serve: no upgrade check).
        h.gateway.open(ws, OPERATOR);
        sockets.push(ws);
      },
      message: (ws, m) => h.gateway.message(ws, m),
      close: (ws, c, r) => h.gateway.close(ws, c, r),
    },
  });
  h.gateway.setListening("api", true, server);
  const payloads = (marker: string) =>
    Array.from({ length: events }, (_, i) =>
      JSON.stringify({
        type: "token",
        debate_id: id,
        seq: 100_000 + i,
        ts: new Date().toISOString(),
        round: 1,
        agent: "t:a",
        data: { phase: "revision", text: marker },
      }),
    );
  const child = spawnChild("fanout-clients.ts", [
    `ws://127.0.0.1:${server.port}`,
    String(subscribers),
    id,
    String(events),
    "ours",
    "raw",
  ]);
  const next = lines(child);
  await next("ready");
  await Bun.sleep(200);
  const measure = async (marker: string, publish: (p: string) => void) => {
    const batch = payloads(marker);
    const got = next(`got ${marker}`);
    const t0 = performance.now();
    for (const p of batch) publish(p);
    await got;
    return (subscribers * events) / ((performance.now() - t0) / 1000);
  };
  const ours = await measure("ours", (p) => h.streams.publish(id, 0, p));
  for (const s of sockets) s.subscribe("raw");
  await Bun.sleep(100);
  const raw = await measure("raw", (p) => {
    server.publish("raw", p);
  });
  child.kill();
  await child.exited;
  server.stop(true);
  await h.close();
  return {
    name: `fan-out: 1 debate -> ${subscribers} subscribers, events delivered/s`,
    value: ours,
    unit: "events/s",
    floor: raw,
    ratio: ours / raw,
    goal: ">= 0.5x raw server.publish",
    pass: ours / raw >= 0.5,
  };
}

/**
 * CPU the provider path alone costs per turn: the provider model's `doStream` over the fake server (the three wire
 * protocols in turn), 50 turns at a time, with nothing else running in this process.
 */
async function providerSdkCost(config: Config): Promise<{ cpuUsPerTurn: number; cpuUsPerToken: number }> {
  const clients = providerClients(config);
  const models: [string, string][] = [
    ["openai", "gpt-4.1-mini"],
    ["anthropic", "claude-sonnet-4-5"],
    ["gemini", "gemini-2.5-flash"],
  ];
  let tokens = 0;
  const turn = ([provider, model]: [string, string]) =>
    (clients.get(provider) as { client: ProviderClient }).client.stream({
      model,
      system: "You debate.",
      prompt: "Which plan is best?",
      signal: new AbortController().signal,
      onDelta: () => {
        tokens++;
      },
      seed: { agent: `${provider}:${model}`, debateId: "d-bench", round: 0, role: "proposer" },
    });
  await Promise.all(models.map(turn));
  tokens = 0;
  const rounds = 3;
  const cpu0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    await Promise.all(Array.from({ length: 150 }, (_, i) => turn(models[i % 3] as [string, string])));
  }
  const cpu = process.cpuUsage(cpu0);
  const us = cpu.user + cpu.system;
  return { cpuUsPerTurn: us / (rounds * 150), cpuUsPerToken: us / Math.max(1, tokens) };
}

/** CPU seconds of this process's main thread alone (Linux /proc; worker threads are other tasks). */
function mainThreadCpuSeconds(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

/** The largest size the file at `path` reaches until the returned function is called (a stat every 50 ms). */
function largestSize(path: string): () => number {
  let largest = 0;
  const timer = setInterval(() => {
    try {
      largest = Math.max(largest, statSync(path).size);
    } catch {
      // not created yet
    }
  }, 50);
  return () => {
    clearInterval(timer);
    return largest;
  };
}

async function concurrency(n: number): Promise<BenchResult[]> {
  progress(`concurrency: ${n} debates on the real server, fake provider at 50 ms per token, one WS watcher each`);
  // The fake provider stands in for remote model servers, but here it shares the server's two cores:
  // at nice 10 it takes the CPU the server leaves, so the lag measured is the server's, not the
  // kernel's time-slicing between the server and its own load generator. (The watchers, which time
  // the deliveries, keep the default priority.)
  const fake = spawnChild("fake-provider-process.ts", ["50"], 10);
  // The watchers create and follow debates as the operator.
  const operatorToken = `bench-${crypto.randomUUID()}`;
  const { env: fakeEnv } = JSON.parse(await lines(fake)("{")) as { env: Record<string, string> };
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-"));
  const config = loadConfig({
    ...fakeEnv,
    ARAGORA_DATA_DIR: dir,
    ARAGORA_HOST: "127.0.0.1",
    ARAGORA_API_PORT: "0",
    ARAGORA_WS_PORT: "0",
    ARAGORA_LOG_LEVEL: "ERROR",
    ARAGORA_API_TOKEN: operatorToken,
  });
  const sdk = await providerSdkCost(config);
  const server = await startServer({ config, log });
  const agents = ["openai:gpt-4.1-mini", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-flash"];

  const lag: number[] = [];

  let expected = performance.now() + 10;
  let skipLag = false;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    // The one tick delayed by the sampler's own full GC is not the server's lag.
    if (!skipLag) lag.push(Math.max(0, now - expected));

    skipLag = false;
    expected = now + 10;
  }, 10);
  // Heap: live bytes after a full GC, once before and once while every debate runs (a second after
  // all n are active). Not a Prometheus scrape nor bun:jsc heapStats() on a timer: both walk the
  // heap and would stall the very loop being measured.
  Bun.gc(true);
  const heap0 = process.memoryUsage().heapUsed;
  let peakActive = 0;
  let peakHeap = heap0;
  let sampling = true;
  const sampler = (async () => {
    let fullSince = 0;
    while (sampling) {
      await Bun.sleep(250);
      const a = (await metrics.debatesActive.get()).values[0]?.value ?? 0;
      peakActive = Math.max(peakActive, a);
      if (a < n) continue;
      fullSince ||= performance.now();
      if (performance.now() - fullSince < 1000 || peakHeap !== heap0) continue;
      skipLag = true;
      Bun.gc(true);
      peakHeap = process.memoryUsage().heapUsed;
    }
  })();
  const walLargest = largestSize(join(dir, "core.db-wal"));
  const cpu0 = process.cpuUsage();
  const main0 = mainThreadCpuSeconds();
  const watchers = spawnChild(
    "watchers.ts",
    [`http://127.0.0.1:${server.apiPort}`, `ws://127.0.0.1:${server.wsPort}/ws`, String(n), agents.join(","), "300"],
    0,
    { BENCH_OPERATOR_TOKEN: operatorToken },
  );
  const report = JSON.parse(await lines(watchers)("{")) as {
    completed: number;
    failed: number;
    events: number;
    live_events: number;
    p99_ms: number;
    seconds: number;
  };
  const cpu = process.cpuUsage(cpu0);
  const mainCpu = mainThreadCpuSeconds() - main0;
  const walBytes = walLargest();
  sampling = false;
  await sampler;
  clearInterval(lagTimer);
  await watchers.exited;
  await server.shutdown("benchmark done");
  const disk = diskPerDebate(join(dir, "core.db"));
  fake.kill();
  await fake.exited;
  const cpuSeconds = (u: { user: number; system: number }) => (u.user + u.system) / 1e6;
  const childSeconds = (p: Subprocess) => {
    const u = p.resourceUsage()?.cpuTime;
    return u ? Number(u.total) / 1e6 : 0;
  };
  const cpuNote = `CPU s: server ${cpuSeconds(cpu).toFixed(1)} (its main thread ${mainCpu.toFixed(1)}), fake provider ${childSeconds(fake).toFixed(1)}, watchers ${childSeconds(watchers).toFixed(1)}`;
  rmSync(dir, { recursive: true, force: true });
  const lagP99 = percentile(lag, 0.99);
  // 3 agents x (proposal + 3 x (critique + revision) + vote) turns per debate.
  const turns = n * 3 * 8;
  const sdkNote = `the provider SDK alone (doStream over the fake server, no debate machinery) costs ${Math.round(sdk.cpuUsPerTurn)} us CPU per turn (${sdk.cpuUsPerToken.toFixed(0)} us per token): ${((turns * sdk.cpuUsPerTurn) / 1e6).toFixed(1)} CPU s for this run's ${turns} turns`;
  const perDebate = (peakHeap - heap0) / n;
  return [
    {
      name: `concurrency: ${n} debates completed`,
      value: report.completed,
      unit: "debates",
      goal: `all ${n} (took ${report.seconds.toFixed(1)} s, ${report.events} events, ${report.failed} failed; ${cpuNote})`,
      pass: report.completed === n,
    },
    {
      name: `concurrency: p99 append-to-client latency (${report.live_events} live events)`,
      value: report.p99_ms,
      unit: "ms",
      goal: "<= 25 ms",
      pass: report.p99_ms <= 25,
    },
    { name: "concurrency: event-loop lag p99", value: lagP99, unit: "ms", goal: "<= 20 ms", pass: lagP99 <= 20 },
    {
      name: "concurrency: provider SDK CPU per turn (context: 2 cores)",
      value: sdk.cpuUsPerTurn / 1000,
      unit: "ms",
      goal: `reported; ${sdkNote}`,
      pass: true,
    },
    {
      name: "concurrency: largest SQLite WAL (core.db-wal) during the run",
      value: walBytes / 2 ** 20,
      unit: "MiB",
      goal: `< ARAGORA_SQLITE_WAL_LIMIT_MB (${config.sqliteWalLimitBytes / 2 ** 20} MiB)`,
      pass: walBytes < config.sqliteWalLimitBytes,
    },
    {
      name: `concurrency: heap per active debate (live heap with all ${n} running; peak ${peakActive} active)`,
      value: perDebate / 1024,
      unit: "KiB",
      goal: "reported",
      pass: true,
    },
    diskRow("concurrency's debates, an event per streamed token", disk),
  ];
}

const results: BenchResult[] = [];
if (!only || only === "overhead") results.push(...(await overhead()));
if (!only || only === "fanout") results.push(await fanOut(arg("--subscribers", 1000), arg("--events", 200)));
if (!only || only === "concurrency") results.push(...(await concurrency(arg("--concurrency", 1000))));

if (json) {
  process.stdout.write(`${JSON.stringify({ bench: "debates", results }, null, 2)}\n`);
} else {
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));
  console.log("\nbench:debates");
  for (const r of results) {
    const floor = r.floor === undefined ? "" : `  floor ${fmt(r.floor)}  ratio ${r.ratio?.toFixed(2)}x`;
    console.log(`  ${r.pass ? "PASS" : "MISS"}  ${r.name}: ${fmt(r.value)} ${r.unit}${floor}  (goal ${r.goal})`);
  }
}
process.exit(0);
