/**
 * Webhook delivery benchmarks: `bun bench/webhooks.ts` prints a table, `--json` one JSON object.
 * Every figure with a goal relative to a floor has its floor measured in the same run.
 *
 * What is measured is the engine driven in process exactly as the server drives it
 * (app/features.ts): the webhooks feature (fan-out actor, one WebhookEndpointActor per endpoint,
 * group-committed delivery journal) on a real SQLite file opened as the server opens it (WAL
 * checkpoints on their own thread), sending through the guarded sender (loopback allowed by
 * ARAGORA_OUTBOUND_ALLOW_LOOPBACK, as a configured server would), fed by debate events committed
 * through the debates' EventWriter, whose transaction writes the outbox rows and whose publish
 * wakes the fan-out, wired as actors/debate/index.ts wires them. Endpoints are made through
 * POST /api/webhooks and the delivered count is read back through GET /api/webhooks/metrics. In
 * process rather than as a server child so that commit times are taken where the commit happens
 * (the latency's start) and so the heap of the endpoint actors can be measured; debates are not
 * run by agents because a debate commits only four or five webhook-typed events, and the
 * EventWriter path they take to the outbox is the same. The receiver is another process
 * (bench/webhooks/receiver.ts), Bun.serve answering 200.
 *
 * - throughput: `--events` agent_error events (default 2,000) over 20 debates, each to every one
 *   of `--endpoints` endpoints (default 10): deliveries/s from the first commit to the last
 *   delivery's arrival, every delivery DELIVERED in the store. Floor: a bare loop POSTing the same
 *   signed bodies (made and signed beforehand) with the same concurrency (endpoints x
 *   MAX_IN_FLIGHT) through fetch, nothing persisted. Also per CPU-second of this process (engine
 *   and floor): on a shared machine the wall-clock rate follows the load, CPU time much less.
 * - latency: a steady 500 deliveries/s (`--rate`) for `--seconds` (default 10): p50/p99 from each
 *   event's commit (the EventWriter's publish, called after the commit) to its arrival at the
 *   receiver, for every delivery. Floor: p99 of the bare POST round trip at the same rate. The
 *   p99 from commit to the fan-out's take and to the send's start (seen through the outbox and
 *   the sender the harness hands the feature, passed through unchanged) say where time goes.
 * - heap per idle endpoint actor: `--idle` endpoints (default 1,000) made through the routes, the
 *   feature stopped and started again: the heap after its start (every actor loaded, after GC)
 *   less the heap before, per endpoint. Floor: an idle bare kernel actor, measured the same way.
 *
 * Options: --json, --only throughput|latency|heap, --endpoints N, --events N, --rate N, --seconds N, --idle N.
 */
import { heapStats } from "bun:jsc";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOCAL_OWNER, openDebateStore } from "../actors/debate/debate-store.ts";
import { DebateLog, EventWriter, GENESIS_HASH } from "../actors/debate/event-log.ts";
import { type DebateEventOutbox, isOutboxPayload } from "../actors/debate/event-outbox.ts";
import { debateEventBody } from "../actors/webhook/delivery-body.ts";
import { MAX_IN_FLIGHT } from "../actors/webhook/endpoint-actor.ts";
import { webhooksFeature } from "../actors/webhook/feature.ts";
import { signatureHeaders } from "../actors/webhook/signatures.ts";
import { ActorSystem, behavior, settle, supervisor } from "../runtime/actor/index.ts";
import { loadConfig } from "../runtime/config.ts";
import { Drain } from "../runtime/drain.ts";
import type { Feature, FeatureContext } from "../runtime/feature.ts";
import { createHttpApp } from "../runtime/http/app.ts";
import { guardedSender } from "../runtime/http/guarded-sender.ts";
import { outboundPolicyOf } from "../runtime/http/outbound-guard.ts";
import type { Authenticator, Principal } from "../runtime/http/principal.ts";
import { WsGateway } from "../runtime/http/ws-gateway.ts";
import { createLogger } from "../runtime/log.ts";
import { generateKeyHex } from "../runtime/security/encryption-keys.ts";
import { fieldSealer } from "../runtime/security/field-sealer.ts";
import { openStore } from "../runtime/store/index.ts";
import { checkpointInBackground } from "../runtime/store/sqlite.ts";
import { WalCheckpointer } from "../runtime/store/wal-checkpointer.ts";
import { debateConfig } from "../tests/debate/in-process-agents.ts";
import { type BenchResult, printResults } from "./result.ts";

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
const gcHeap = () => {
  Bun.gc(true);
  Bun.gc(true);
  return heapStats().heapSize;
};
/** CPU seconds (user and system) this process used since `from`. */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1e6;
};
/** Wall-clock epoch ms to the microsecond: the receiver process reads the same clock. */
const epochMs = () => performance.timeOrigin + performance.now();

const ENDPOINTS = arg("--endpoints", 10);
const EVENTS = arg("--events", 2000);
const RATE = arg("--rate", 500);
const SECONDS = arg("--seconds", 10);
const IDLE = arg("--idle", 1000);
const DEBATES = 20;
const log = createLogger("ERROR");

/** The organisation's admin: the benchmark's calls to the webhook routes. */
const ADMIN: Principal = {
  kind: "user",
  userId: "u-bench",
  orgId: LOCAL_OWNER.orgId,
  workspaceId: LOCAL_OWNER.workspaceId,
  roles: ["admin"],
  via: "bearer",
};
const authenticator: Authenticator = { authenticate: () => ADMIN };

// ---- the receiver (a child process) --------------------------------------------------------------

async function startReceiver() {
  const child = Bun.spawn([process.execPath, join(import.meta.dir, "webhooks", "receiver.ts")], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the receiver exited before listening");
    text += new TextDecoder().decode(value);
  }
  const port = Number(/port (\d+)/.exec(text)?.[1]);
  const base = `http://127.0.0.1:${port}`;
  return {
    url: `${base}/hook`,
    reset: (mode: "count" | "latency") => fetch(`${base}/__reset?mode=${mode}`).then((r) => r.text()),
    stats: () =>
      fetch(`${base}/__stats`).then((r) => r.json() as Promise<{ requests: number; distinct: number; last: number }>),
    /**
     * Resolves once `count` requests arrived, with when the last of them arrived (epoch ms, this
     * process's clock): the receiver answers then, so nothing polls meanwhile.
     */
    arrived: (count: number) =>
      fetch(`${base}/__wait?count=${count}`).then(async (r) => ((await r.json()) as { last: number }).last),
    arrivals: () => fetch(`${base}/__arrivals`).then((r) => r.json() as Promise<[string, number][]>),
    stop: () => child.kill(),
  };
}
type ReceiverHandle = Awaited<ReturnType<typeof startReceiver>>;

// ---- the engine, wired as the server wires it ------------------------------------------------------

async function harness() {
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-webhooks-"));
  const config = loadConfig({
    ARAGORA_DATA_DIR: dir,
    ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
    // The receiver is on loopback; the guarded sender refuses it unless the operator allows it.
    ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
  });
  checkpointInBackground();
  const core = await openStore(config, log);
  const checkpointer = new WalCheckpointer(core.sqlitePath as string, {
    busyTimeoutMs: 5000,
    walLimitBytes: config.sqliteWalLimitBytes,
    log,
  });
  const system = new ActorSystem({ mailboxLimit: config.actorMailboxLimit, metricsIntervalMs: 0 });
  const debates = await openDebateStore(core, config);
  // As actors/debate/index.ts: the writer's publish (after the commit) wakes the outbox's readers.
  const listeners = new Set<() => void>();
  let onCommitted: ((key: string) => void) | undefined;
  const writer = new EventWriter({
    store: debates,
    log,
    publish: (id, seq, payload) => {
      onCommitted?.(`${id}:${seq}`);
      if (listeners.size > 0 && isOutboxPayload(payload)) for (const heard of listeners) heard();
    },
  });
  // Stage times for the latency's breakdown (observed from outside the engine: the outbox it is
  // given and the sender it is given, both passed through unchanged).
  let onTaken: ((keys: string[]) => void) | undefined;
  let onSend: ((body: string) => void) | undefined;
  const outbox: DebateEventOutbox = {
    take: async (limit) => {
      const rows = await debates.outboxTake(limit);
      onTaken?.(rows.map((r) => `${r.debateId}:${r.seq}`));
      return rows;
    },
    remove: (rows) => debates.outboxRemove(rows),
    onCommitted(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  const sealer = fieldSealer(() => config.encryptionKeys);
  // What webhooksFeature reads of the context (config, log, store, system, sealer, version).
  const ctx = { config, log, store: core, system, sealer, version: "bench", dataDir: dir } as unknown as FeatureContext;
  const makeFeature = () =>
    webhooksFeature(ctx, {
      outbox,
      audit: { record: async () => {} },
      send: (() => {
        const send = guardedSender({ policy: outboundPolicyOf(config) });
        return (request) => {
          onSend?.(typeof request.body === "string" ? request.body : "");
          return send(request);
        };
      })(),
    });
  let feature = await makeFeature();
  const appOf = (f: Feature) =>
    createHttpApp({
      config,
      log,
      system,
      gateway: new WsGateway({ heartbeatMs: 60_000, log }),
      drain: new Drain(),
      version: "bench",
      startedAt: Date.now(),
      authenticator,
      routes: f.routes ? [f.routes] : [],
    });
  let app = appOf(feature);
  await feature.start?.();
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await app.handle(
      new Request(`http://localhost${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    );
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  // The debates the events belong to (the outbox takes their organisation from them).
  const logs: DebateLog[] = [];
  for (let i = 0; i < DEBATES; i++) {
    const id = `d-${Bun.randomUUIDv7()}`;
    await debates.create({
      id,
      owner: LOCAL_OWNER,
      question: "Tabs or spaces?",
      config: debateConfig(),
      metadata: {},
      createdAt: new Date(),
    });
    logs.push(new DebateLog(id, writer, { seq: 0, hash: GENESIS_HASH }));
  }
  let emitted = 0;
  return {
    system,
    writer,
    call,
    /** Makes an endpoint through POST /api/webhooks; returns its id and secret. */
    endpoint: (url: string) => call<{ id: string; secret: string }>("POST", "/api/webhooks", { url }),
    /** Commits one webhook-typed event (an agent_error, with non-ASCII text) of the next debate. */
    emit() {
      const debate = logs[emitted++ % logs.length] as DebateLog;
      debate.emit("agent_error", 1, "t:a", {
        phase: "proposal",
        kind: "timeout",
        message: `the provider did not answer in time — réessayer ${emitted}`,
        seat_failed: false,
      });
    },
    set onCommitted(f: ((key: string) => void) | undefined) {
      onCommitted = f;
    },
    set onTaken(f: ((keys: string[]) => void) | undefined) {
      onTaken = f;
    },
    set onSend(f: ((body: string) => void) | undefined) {
      onSend = f;
    },
    delivered: () => call<{ delivered: number; total_deliveries: number }>("GET", "/api/webhooks/metrics"),
    /** Stops the feature and makes and starts it again (the endpoints' actors load from the store). */
    async restart(between: () => void | Promise<void> = () => {}) {
      await feature.stop?.();
      await settle(system);
      feature = await makeFeature();
      app = appOf(feature);
      await between();
      await feature.start?.();
      return feature as Feature & { actors: { status(id: string): Promise<unknown> } };
    },
    async close() {
      await writer.flush();
      await feature.stop?.();
      await system.shutdown();
      await checkpointer.stop();
      await debates.close();
      await core.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
type Harness = Awaited<ReturnType<typeof harness>>;

// ---- the floor: the same signed bodies POSTed by a bare loop ----------------------------------------

/** `n` delivery bodies, made and signed as the engine makes and signs them, before any timing. */
function signedBodies(n: number, secret: string) {
  const out: { body: string; headers: Record<string, string> }[] = [];
  for (let i = 0; i < n; i++) {
    const id = `dlv-${Bun.randomUUIDv7()}`;
    const body = debateEventBody(id, "wh-floor", {
      type: "agent_error",
      debate_id: `d-floor-${i % DEBATES}`,
      seq: i,
      ts: new Date().toISOString(),
      round: 1,
      agent: "t:a",
      data: {
        phase: "proposal",
        kind: "timeout",
        message: `the provider did not answer in time — réessayer ${i}`,
        seat_failed: false,
      },
    });
    out.push({
      body,
      headers: {
        "content-type": "application/json",
        "user-agent": "Aragora-Webhooks/bench",
        "x-webhook-delivery-id": id,
        "x-webhook-event": "agent_error",
        "x-webhook-attempt": "1",
        ...signatureHeaders({ id, timestamp: Math.floor(Date.now() / 1000), body, secrets: [secret] }),
      },
    });
  }
  return out;
}

const post = (url: string, r: { body: string; headers: Record<string, string> }) =>
  fetch(url, { method: "POST", headers: r.headers, body: r.body }).then((res) => res.text());

/** Deliveries/s of a bare loop: `concurrency` lanes POSTing the bodies, nothing stored. */
async function floorThroughput(rx: ReceiverHandle, bodies: ReturnType<typeof signedBodies>, concurrency: number) {
  await rx.reset("count");
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = epochMs();
  const lane = async () => {
    while (next < bodies.length) await post(rx.url, bodies[next++] as (typeof bodies)[number]);
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  const perCpu = bodies.length / cpuSeconds(cpu0);
  const s = await rx.stats();
  // To the last arrival, as the engine's rate is measured.
  const rate = bodies.length / ((s.last - t0) / 1000);
  if (s.requests !== bodies.length) throw new Error(`floor: ${s.requests} of ${bodies.length} arrived`);
  return { rate, perCpu };
}

/** p99 ms of a bare POST at `rate`/s for `seconds`. */
async function floorLatency(
  rx: ReceiverHandle,
  bodies: ReturnType<typeof signedBodies>,
  rate: number,
  seconds: number,
) {
  await rx.reset("count");
  const lat: number[] = [];
  const inflight: Promise<void>[] = [];
  const total = Math.min(bodies.length, rate * seconds);
  const t0 = performance.now();
  for (let sent = 0; sent < total; ) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    for (; sent < due; sent++) {
      const s = performance.now();
      inflight.push(
        post(rx.url, bodies[sent] as (typeof bodies)[number]).then(() => void lat.push(performance.now() - s)),
      );
    }
    await Bun.sleep(1);
  }
  await Promise.all(inflight);
  return percentile(lat, 0.99);
}

// ---- throughput ------------------------------------------------------------------------------------

/** Commits `events` events, as fast as the writer commits them; deliveries/s to their arrival. */
async function engineThroughput(h: Harness, rx: ReceiverHandle, events: number, endpoints: number) {
  await rx.reset("count");
  const before = (await h.delivered()).delivered;
  const expected = events * endpoints;
  const cpu0 = process.cpuUsage();
  const t0 = epochMs();
  const arrived = rx.arrived(expected);
  // In slices, each committed before the next, as debates commit: never one giant transaction.
  for (let i = 0; i < events; i++) {
    h.emit();
    if (i % 100 === 99) await h.writer.flush();
  }
  await h.writer.flush();
  const t1 = await arrived;
  const rate = expected / ((t1 - t0) / 1000);
  // This process's CPU (the receiver's is its own).
  const perCpu = expected / cpuSeconds(cpu0);
  // Durable: every delivery is DELIVERED in the store, each under one delivery id.
  const deadline = Date.now() + 30_000;
  while ((await h.delivered()).delivered - before < expected) {
    if (Date.now() > deadline) throw new Error("not every delivery was recorded DELIVERED");
    await Bun.sleep(10);
  }
  const s = await rx.stats();
  if (s.distinct !== s.requests) throw new Error(`${s.requests} requests carried ${s.distinct} delivery ids`);
  return { rate, perCpu };
}

async function throughput(rx: ReceiverHandle): Promise<BenchResult[]> {
  const h = await harness();
  try {
    let secret = "";
    for (let i = 0; i < ENDPOINTS; i++) secret = (await h.endpoint(rx.url)).secret;
    await settle(h.system);
    const bodies = signedBodies(EVENTS * ENDPOINTS, secret);
    const concurrency = ENDPOINTS * MAX_IN_FLIGHT;
    progress(`throughput: warm-up (${ENDPOINTS} endpoints)`);
    await floorThroughput(rx, bodies.slice(0, 2000), concurrency);
    await engineThroughput(h, rx, Math.ceil(2000 / ENDPOINTS), ENDPOINTS);
    progress(`throughput: floor (bare loop, ${bodies.length} signed bodies, ${concurrency} lanes, no persistence)`);
    const bare = await floorThroughput(rx, bodies, concurrency);
    const floor = bare.rate;
    progress(`throughput: engine (${EVENTS} events x ${ENDPOINTS} endpoints, SQLite)`);
    const engine = await engineThroughput(h, rx, EVENTS, ENDPOINTS);
    const rate = engine.rate;
    const ratio = rate / floor;
    return [
      {
        name: "deliveries_per_s",
        value: rate,
        unit: "dlv/s",
        floor,
        ratio,
        goal: ">=2000/s, >=0.3x",
        pass: rate >= 2000 && ratio >= 0.3,
      },
      // What one core of this process would do alone: wall-clock rates on a shared machine
      // follow its load; CPU time per delivery does much less.
      {
        name: "deliveries_per_cpu_s",
        value: engine.perCpu,
        unit: "dlv/cpu-s",
        floor: bare.perCpu,
        ratio: engine.perCpu / bare.perCpu,
      },
    ];
  } finally {
    await h.close();
  }
}

// ---- latency ---------------------------------------------------------------------------------------

async function latency(rx: ReceiverHandle): Promise<BenchResult[]> {
  const h = await harness();
  try {
    let secret = "";
    for (let i = 0; i < ENDPOINTS; i++) secret = (await h.endpoint(rx.url)).secret;
    await settle(h.system);
    const eventsPerS = RATE / ENDPOINTS;
    const events = Math.round(eventsPerS * SECONDS);
    progress(`latency: floor (bare POST at ${RATE}/s)`);
    const floor = await floorLatency(rx, signedBodies(RATE * SECONDS, secret), RATE, SECONDS);
    progress(`latency: engine (${eventsPerS} events/s x ${ENDPOINTS} endpoints = ${RATE} deliveries/s, ${SECONDS} s)`);
    await rx.reset("latency");
    const commits = new Map<string, number>();
    h.onCommitted = (key) => commits.set(key, epochMs());
    const taken = new Map<string, number>();
    const sent: number[] = [];
    h.onTaken = (keys) => {
      const at = epochMs();
      for (const k of keys) if (!taken.has(k)) taken.set(k, at);
    };
    h.onSend = (body) => {
      const data = (JSON.parse(body) as { data: { debate_id: string; seq: number } }).data;
      const committed = commits.get(`${data.debate_id}:${data.seq}`);
      if (committed !== undefined) sent.push(epochMs() - committed);
    };
    const t0 = performance.now();
    for (let sent = 0; sent < events; ) {
      const due = Math.min(events, Math.floor(((performance.now() - t0) / 1000) * eventsPerS));
      for (; sent < due; sent++) h.emit();
      await Bun.sleep(1);
    }
    await rx.arrived(events * ENDPOINTS);
    h.onCommitted = undefined;
    h.onTaken = undefined;
    h.onSend = undefined;
    const toTake: number[] = [];
    for (const [key, at] of taken) {
      const committed = commits.get(key);
      if (committed !== undefined) toTake.push(at - committed);
    }
    const lat: number[] = [];
    for (const [key, at] of await rx.arrivals()) {
      const committed = commits.get(key);
      if (committed === undefined) throw new Error(`an arrival of ${key} has no commit`);
      lat.push(at - committed);
    }
    const p50 = percentile(lat, 0.5);
    const p99 = percentile(lat, 0.99);
    return [
      { name: "commit_to_fanout_p99_ms", value: percentile(toTake, 0.99), unit: "ms" },
      { name: "commit_to_send_p99_ms", value: percentile(sent, 0.99), unit: "ms" },
      { name: "commit_to_receiver_p50_ms", value: p50, unit: "ms" },
      {
        name: "commit_to_receiver_p99_ms",
        value: p99,
        unit: "ms",
        floor,
        ratio: p99 / floor,
        goal: "<=50ms",
        pass: p99 <= 50,
      },
    ];
  } finally {
    await h.close();
  }
}

// ---- heap per idle endpoint actor ------------------------------------------------------------------

async function heapBareActor(n: number): Promise<number> {
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const sup = system.spawn(supervisor(), { name: "idle" });
  const idle = behavior<unknown, undefined>({ receive: () => undefined });
  await settle(system);
  const before = gcHeap();
  for (let i = 0; i < n; i++) system.spawn(idle, { parent: sup });
  await settle(system);
  const after = gcHeap();
  await system.shutdown();
  return (after - before) / n;
}

async function heap(rx: ReceiverHandle): Promise<BenchResult[]> {
  const h = await harness();
  let perActor: number;
  try {
    progress(`heap: ${IDLE} endpoints through POST /api/webhooks`);
    const ids: string[] = [];
    for (let i = 0; i < IDLE; i++) ids.push((await h.endpoint(rx.url)).id);
    let before = 0;
    const feature = await h.restart(() => {
      before = gcHeap();
    });
    await settle(h.system);
    // Every actor has loaded its row and its (empty) queue.
    for (const id of ids) if ((await feature.actors.status(id)) === undefined) throw new Error(`${id} is not running`);
    await settle(h.system);
    perActor = (gcHeap() - before) / IDLE;
  } finally {
    await h.close();
  }
  // After the harness is gone, and over more actors: its garbage must not be collected inside the floor's window.
  const floor = await heapBareActor(Math.max(IDLE, 10_000));
  return [{ name: "heap_per_idle_endpoint_bytes", value: perActor, unit: "bytes", floor, ratio: perActor / floor }];
}

// ---- run -------------------------------------------------------------------------------------------

const rx = await startReceiver();
const results: BenchResult[] = [];
try {
  if (only === undefined || only === "throughput") results.push(...(await throughput(rx)));
  if (only === undefined || only === "latency") results.push(...(await latency(rx)));
  if (only === undefined || only === "heap") results.push(...(await heap(rx)));
} finally {
  rx.stop();
}
printResults(results, json);
process.exit(0);
