/**
 * Debate benchmarks: `bun run bench:debates` prints a table, `--json` one JSON object.
 *
 * - overhead: 3 agents x 3 rounds against a zero-latency in-process model, debates/s through the
 *   real DebateSupervisor (actors, SQLite event log, receipts, ELO) beside the same protocol as
 *   plain awaited calls with no actors and no persistence (the floor), in one run.
 * - concurrency: N debates at once (default 1000; --concurrency N) against an in-process model
 *   with 50 ms per token, each watched by a WebSocket subscriber through the real gateway:
 *   completion, p99 latency from append to client receipt, event-loop lag p99, memory per debate.
 * - fan-out: one debate's events to 1,000 WebSocket subscribers through DebateStreams beside raw
 *   Bun server.publish of the same payloads to the same number of sockets, in one run.
 */

import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server, ServerWebSocket } from "bun";
import { LOCAL_OWNER, openDebateStore } from "../actors/debate/debate-store.ts";
import { DebateStreams } from "../actors/debate/debate-streams.ts";
import { DebateSupervisor } from "../actors/debate/debate-supervisor.ts";
import { EventWriter } from "../actors/debate/event-log.ts";
import { runProtocol } from "../actors/debate/protocol.ts";
import { loadOrCreateReceiptKey } from "../actors/debate/receipt.ts";
import type { DebateConfig } from "../actors/debate/types.ts";
import { ActorSystem } from "../runtime/actor/index.ts";
import { loadConfig } from "../runtime/config.ts";
import { WsGateway } from "../runtime/http/ws-gateway.ts";
import { createLogger } from "../runtime/log.ts";
import { openStore } from "../runtime/store/index.ts";
import { inProcessAgents } from "../tests/debate/in-process-agents.ts";

interface Result {
  name: string;
  value: number;
  unit: string;
  floor?: number;
  ratio?: number;
  goal: string;
  pass: boolean;
}

const json = process.argv.includes("--json");
const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const progress = (s: string) => {
  if (!json) process.stderr.write(`  ${s}...\n`);
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? 0;
};
const log = createLogger("ERROR");

const CONFIG: DebateConfig = {
  agents: ["t:a", "t:b", "t:c"],
  rounds: 3,
  consensus: "majority",
  topology: "all_to_all",
  convergenceThreshold: 1,
  budget: { maxTokens: null, maxCostUsd: null },
  timeouts: { turnMs: 600_000, roundMs: 600_000, debateMs: 3_600_000 },
  roles: { judge: null, devilsAdvocate: null, synthesiser: null },
};
// Answers that never converge, so every debate runs all three rounds.
const answers = { "t:a": "alpha plan", "t:b": "beta plan", "t:c": "gamma plan" };

async function harness(tokenDelayMs = 0) {
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-"));
  const config = loadConfig({ ARAGORA_DATA_DIR: dir });
  const core = await openStore(config, log);
  const store = await openDebateStore(core, config);
  const gateway = new WsGateway({ heartbeatMs: 60_000, log });
  const streams = new DebateStreams({ gateway, store, bufferLimit: 100_000, log });
  streams.register();
  const writer = new EventWriter({ store, log, publish: (id, seq, payload) => streams.publish(id, seq, payload) });
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const agents = inProcessAgents({ answers, tokenDelayMs });
  const debates = new DebateSupervisor({
    system,
    store,
    writer,
    agents,
    key: loadOrCreateReceiptKey(dir),
    log,
    defaults: { rounds: 3, turnMs: 600_000, roundMs: 600_000, debateMs: 3_600_000 },
  });
  debates.start();
  return {
    debates,
    gateway,
    streams,
    store,
    async close() {
      await debates.interruptAll();
      await system.shutdown();
      await store.close();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

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

async function overhead(): Promise<Result> {
  progress("overhead: floor (plain awaited protocol, no actors, no persistence)");
  const agents = inProcessAgents({ answers });
  const signal = new AbortController().signal;
  const floorRun = () =>
    runProtocol({ debateId: "d-floor", question: "Q?", config: CONFIG, agents, emit: () => {}, signal }).then(() => {});
  await throughput(200, 16, floorRun);
  const floor = Math.max(await throughput(2000, 16, floorRun), await throughput(2000, 16, floorRun));

  progress("overhead: DebateSupervisor with actors, SQLite event log, receipts, ELO");
  const h = await harness();
  const run = async () => {
    const id = await h.debates.create(
      { question: "Q?", agents: CONFIG.agents, rounds: 3, convergence_threshold: 1 },
      LOCAL_OWNER,
    );
    while (h.debates.isRunning(id)) await new Promise<void>((r) => setTimeout(r, 1));
  };
  await throughput(50, 16, run);
  const value = Math.max(await throughput(500, 32, run), await throughput(500, 32, run));
  await h.close();
  const ratio = value / floor;
  return {
    name: "overhead: 3 agents x 3 rounds, debates/s (persistence on)",
    value,
    unit: "debates/s",
    floor,
    ratio,
    goal: ">= 0.5x floor and >= 100/s",
    pass: ratio >= 0.5 && value >= 100,
  };
}

async function concurrency(n: number): Promise<Result[]> {
  progress(`concurrency: ${n} debates at 50 ms per token, each watched over WebSocket`);
  const h = await harness(50);
  const server: Server<undefined> = Bun.serve({
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      open: (ws) => h.gateway.open(ws),
      message: (ws, m) => h.gateway.message(ws, m),
      close: (ws, c, r) => h.gateway.close(ws, c, r),
    },
  });
  const latencies: number[] = [];
  const lag: number[] = [];
  let expected = performance.now() + 10;
  const lagTimer = setInterval(() => {
    const now = performance.now();
    lag.push(Math.max(0, now - expected));
    expected = now + 10;
  }, 10);
  const heap0 = heapStats().heapSize;
  const done: Promise<void>[] = [];
  let peakActive = 0;
  let peakHeap = heap0;
  for (let i = 0; i < n; i++) {
    const id = await h.debates.create({ question: `Q${i}?`, agents: CONFIG.agents, rounds: 3 }, LOCAL_OWNER);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
    done.push(
      new Promise<void>((resolve) => {
        ws.onopen = () => ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
        ws.onmessage = (e) => {
          const m = JSON.parse(String(e.data)) as { type: string; ts?: string };
          if (m.ts) latencies.push(Date.now() - Date.parse(m.ts));
          if (m.type === "receipt_generated") {
            ws.close();
            resolve();
          }
        };
      }),
    );
  }
  const sampler = setInterval(() => {
    peakActive = Math.max(peakActive, h.debates.active);
    peakHeap = Math.max(peakHeap, heapStats().heapSize);
  }, 100);
  const t0 = performance.now();
  const completed = await Promise.race([
    Promise.all(done).then(() => n),
    new Promise<number>((r) => setTimeout(() => r(-1), 180_000)),
  ]);
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(lagTimer);
  clearInterval(sampler);
  server.stop(true);
  await h.close();
  // ts has millisecond resolution and marks emit time: the figure includes the batching delay.
  const p99 = percentile(latencies, 0.99);
  const lagP99 = percentile(lag, 0.99);
  const perDebate = (peakHeap - heap0) / Math.max(1, peakActive);
  return [
    {
      name: `concurrency: ${n} debates completed`,
      value: completed === n ? n : 0,
      unit: "debates",
      goal: `all ${n} in ${seconds.toFixed(1)} s`,
      pass: completed === n,
    },
    { name: "concurrency: p99 append-to-client latency", value: p99, unit: "ms", goal: "<= 25 ms", pass: p99 <= 25 },
    { name: "concurrency: event-loop lag p99", value: lagP99, unit: "ms", goal: "<= 20 ms", pass: lagP99 <= 20 },
    { name: "concurrency: heap per active debate", value: perDebate / 1024, unit: "KiB", goal: "reported", pass: true },
  ];
}

async function fanOut(subscribers: number, events: number): Promise<Result> {
  progress(`fan-out: one debate to ${subscribers} subscribers, ${events} events`);
  const h = await harness();
  const id = await h.debates.create({ question: "fan-out", agents: CONFIG.agents, rounds: 1 }, LOCAL_OWNER);
  while (h.debates.isRunning(id)) await Bun.sleep(5);
  const sockets: ServerWebSocket<undefined>[] = [];
  const server = Bun.serve({
    port: 0,
    fetch(req, srv) {
      return srv.upgrade(req) ? undefined : new Response("no", { status: 400 });
    },
    websocket: {
      open: (ws) => {
        h.gateway.open(ws);
        sockets.push(ws);
      },
      message: (ws, m) => h.gateway.message(ws, m),
      close: (ws, c, r) => h.gateway.close(ws, c, r),
    },
  });
  const payloads = Array.from({ length: events }, (_, i) =>
    JSON.stringify({
      type: "token",
      debate_id: id,
      seq: 100_000 + i,
      ts: new Date().toISOString(),
      round: 1,
      agent: "t:a",
      data: { text: "tok " },
    }),
  );
  let received = 0;
  let target = 0;
  let onTarget: () => void = () => {};
  const clients: WebSocket[] = [];
  for (let i = 0; i < subscribers; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
    await new Promise<void>((r) => {
      ws.onopen = () => r();
    });
    ws.onmessage = (e) => {
      if (String(e.data).includes('"tok "') && ++received === target) onTarget();
    };
    clients.push(ws);
  }
  const measure = async (publish: (p: string) => void) => {
    received = 0;
    target = subscribers * events;
    const reached = new Promise<void>((r) => {
      onTarget = r;
    });
    const t0 = performance.now();
    for (const p of payloads) publish(p);
    await reached;
    return target / ((performance.now() - t0) / 1000);
  };
  for (const ws of clients) ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 1_000_000 }));
  while (h.streams.subscriberCount(id) < subscribers) await Bun.sleep(5);
  await Bun.sleep(200);
  const ours = await measure((p) => h.streams.publish(id, 0, p));
  for (const ws of clients) ws.send(JSON.stringify({ type: "unsubscribe", debate_id: id }));
  for (const s of sockets) s.subscribe("raw");
  await Bun.sleep(100);
  const raw = await measure((p) => {
    server.publish("raw", p);
  });
  for (const ws of clients) ws.close();
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

const results: Result[] = [];
results.push(await overhead());
results.push(await fanOut(arg("--subscribers", 1000), arg("--events", 200)));
results.push(...(await concurrency(arg("--concurrency", 1000))));

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
