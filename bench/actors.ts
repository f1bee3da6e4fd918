/**
 * Actor kernel benchmarks: `bun bench/actors.ts` prints a table, `--json` one JSON object.
 * Every figure is measured in this process beside a floor (the bare mechanism with no kernel:
 * a ring-buffer loop, a microtask ping-pong, a bare promise round trip) and, where it compares,
 * beside nact and xstate v5 actors. Throughputs are the best of three runs for every contender.
 */
import { heapStats } from "bun:jsc";
import os from "node:os";
import nact from "nact";
import { createActor, fromCallback } from "xstate";
import { type ActorRef, ActorSystem, behavior, supervisor } from "../runtime/actor/index.ts";
import { RingQueue } from "../runtime/actor/ring-queue.ts";
import type { BenchResult } from "./result.ts";

const json = process.argv.includes("--json");
const progress = (s: string) => {
  if (!json) process.stderr.write(`  ${s}...\n`);
};
const tick = () => new Promise<void>((r) => setImmediate(r));
const gcHeap = () => {
  Bun.gc(true);
  Bun.gc(true);
  return heapStats().heapSize;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] as number;
};
async function best(runs: number, f: () => Promise<number> | number): Promise<number> {
  let top = 0;
  for (let i = 0; i < runs; i++) top = Math.max(top, await f());
  return top;
}
const quiet = () => new ActorSystem({ metricsIntervalMs: 0 });

// ---- floors -----------------------------------------------------------------------------------

async function floorPingPong(n: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let i = 0;
    const a = () => {
      if (++i >= n) resolve(n / ((performance.now() - t0) / 1000));
      else queueMicrotask(b);
    };
    const b = () => {
      if (++i >= n) resolve(n / ((performance.now() - t0) / 1000));
      else queueMicrotask(a);
    };
    queueMicrotask(a);
  });
}

function floorRing(n: number, batch: number): number {
  const q = new RingQueue<number>(16);
  let sum = 0;
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    const end = Math.min(n, i + batch);
    for (let j = i; j < end; j++) q.push(j);
    while (q.size > 0) sum += q.shift() as number;
  }
  const s = (performance.now() - t0) / 1000;
  if (sum < 0) console.log(sum);
  return n / s;
}

async function floorAsk(n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await new Promise<number>((r) => queueMicrotask(() => r(i)));
  return n / ((performance.now() - t0) / 1000);
}

// ---- ping-pong --------------------------------------------------------------------------------

async function pingPong(n: number): Promise<number> {
  const system = quiet();
  let done!: () => void;
  const bounce = behavior<number, undefined>({
    receive(_s, i, ctx) {
      if (i >= n) done();
      else (ctx.sender as ActorRef<number>).tell(i + 1, ctx.self);
      return undefined;
    },
  });
  const a = system.spawn(bounce);
  const b = system.spawn(bounce);
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  a.tell(0, b);
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  await system.shutdown();
  return rate;
}

async function pingPongNact(n: number): Promise<number> {
  const system = nact.start();
  let done!: () => void;
  type M = { i: number; peer: nact.Ref<M> };
  const f = (msg: M, ctx: { self: nact.Ref<M> }) => {
    if (msg.i >= n) done();
    else nact.dispatch(msg.peer, { i: msg.i + 1, peer: ctx.self });
  };
  const a = nact.spawnStateless(system, f, "a");
  const b = nact.spawnStateless(system, f, "b");
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  nact.dispatch(a, { i: 0, peer: b });
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  nact.stop(system);
  return rate;
}

async function pingPongXState(n: number): Promise<number> {
  let done!: () => void;
  type E = { type: "ping"; i: number; peer: { send(e: E): void } };
  const logic = fromCallback<E>(({ receive, self }) => {
    receive((e) => {
      if (e.i >= n) done();
      else e.peer.send({ type: "ping", i: e.i + 1, peer: self as unknown as E["peer"] });
    });
  });
  const a = createActor(logic).start();
  const b = createActor(logic).start();
  const finished = new Promise<void>((r) => (done = r));
  const t0 = performance.now();
  a.send({ type: "ping", i: 0, peer: b as unknown as E["peer"] });
  await finished;
  const rate = n / ((performance.now() - t0) / 1000);
  a.stop();
  b.stop();
  return rate;
}

// ---- flood ------------------------------------------------------------------------------------

async function flood(n: number): Promise<number> {
  const system = quiet();
  let count = 0;
  let batchEnd = 0;
  let drained!: () => void;
  const sink = system.spawn(
    behavior<number, undefined>({
      receive() {
        if (++count === batchEnd) drained();
        return undefined;
      },
    }),
  );
  // Tell from outside in batches under the default mailbox bound (10,000), waiting for each to drain.
  const batch = 8192;
  const t0 = performance.now();
  for (let i = 0; i < n; i += batch) {
    batchEnd = Math.min(n, i + batch);
    const p = new Promise<void>((r) => (drained = r));
    for (let j = i; j < batchEnd; j++) sink.tell(j);
    await p;
  }
  const rate = n / ((performance.now() - t0) / 1000);
  if (system.deadLetters.count() > 0) throw new Error("flood lost messages");
  await system.shutdown();
  return rate;
}

// ---- ask --------------------------------------------------------------------------------------

async function ask(n: number, timed: boolean): Promise<{ rate: number; p99us: number }> {
  const system = quiet();
  const echo = system.spawn(
    behavior<number, undefined>({
      receive(_s, i, ctx) {
        ctx.reply(i);
        return undefined;
      },
    }),
  );
  const lat: number[] = timed ? new Array(n) : [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (timed) {
      const s = performance.now();
      await echo.ask<number>(i, { timeoutMs: 1000 });
      lat[i] = performance.now() - s;
    } else await echo.ask<number>(i, { timeoutMs: 1000 });
  }
  const rate = n / ((performance.now() - t0) / 1000);
  await system.shutdown();
  return { rate, p99us: timed ? percentile(lat, 0.99) * 1000 : 0 };
}

// ---- spawn ------------------------------------------------------------------------------------

const names = Array.from({ length: 200_000 }, (_, i) => `child-${i}`);
const idle = behavior<unknown, undefined>({ receive: () => undefined });

async function spawnOurs(n: number): Promise<number> {
  const system = quiet();
  const sup = system.spawn(supervisor(), { name: "sup", supervisor: { strategy: "one_for_one" } });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) system.spawn(idle, { parent: sup, name: names[i] as string });
  const rate = n / ((performance.now() - t0) / 1000);
  await system.shutdown();
  return rate;
}

function spawnNact(n: number): number {
  const system = nact.start();
  const sup = nact.spawnStateless(system, () => {}, "sup");
  const t0 = performance.now();
  for (let i = 0; i < n; i++) nact.spawnStateless(sup, () => {}, names[i]);
  const rate = n / ((performance.now() - t0) / 1000);
  nact.stop(system);
  return rate;
}

function spawnXState(n: number): number {
  const logic = fromCallback(() => {});
  const actors = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) actors.push(createActor(logic, { systemId: names[i] }).start());
  const rate = n / ((performance.now() - t0) / 1000);
  for (const a of actors) a.stop();
  return rate;
}

// ---- heap per idle actor ----------------------------------------------------------------------

async function heapPerActor(n: number): Promise<number> {
  let system: ActorSystem | undefined = quiet();
  const sup = system.spawn(supervisor(), { name: "idle" });
  await tick();
  const before = gcHeap();
  for (let i = 0; i < n; i++) system.spawn(idle, { parent: sup });
  const after = gcHeap();
  if (system.tree("/system/idle", 0) === undefined) throw new Error("unreachable");
  system = undefined; // dropped whole: stopping a million actors one by one is not what we measure
  return (after - before) / n;
}

// ---- SkyNet -----------------------------------------------------------------------------------

type SkyMsg = { type: "start"; size: number; num: number } | number;
interface SkyState {
  pending: number;
  sum: number;
  replyTo: { tell(v: unknown): void } | undefined;
}
const sky = behavior<SkyMsg, SkyState>({
  init: () => ({ pending: 0, sum: 0, replyTo: undefined }),
  receive(state, msg, ctx) {
    if (typeof msg === "number") {
      state.sum += msg;
      if (--state.pending === 0) {
        state.replyTo?.tell(state.sum);
        ctx.stop();
      }
      return state;
    }
    if (msg.size === 1) {
      ctx.reply(msg.num);
      ctx.stop();
      return state;
    }
    state.replyTo = ctx.sender;
    state.pending = 10;
    const sub = msg.size / 10;
    for (let i = 0; i < 10; i++) {
      ctx.spawn(sky, SKY_CHILD).tell({ type: "start", size: sub, num: msg.num + i * sub }, ctx.self);
    }
    return state;
  },
});
const SKY_CHILD = { restart: "temporary" as const };

async function skynet(size: number): Promise<number> {
  const system = quiet();
  const t0 = performance.now();
  const root = system.spawn(sky, { restart: "temporary" });
  const sum = await root.ask<number>({ type: "start", size, num: 0 }, { timeoutMs: 60_000 });
  const s = (performance.now() - t0) / 1000;
  if (sum !== (size * (size - 1)) / 2) throw new Error(`skynet sum ${sum}`);
  await system.shutdown();
  return s;
}

// ---- restart latency ----------------------------------------------------------------------------

async function restartP99(n: number): Promise<number> {
  const system = quiet();
  const sup = system.spawn(supervisor(), { supervisor: { maxRestarts: 1_000_000, periodMs: 1 } });
  const child = system.spawn(
    behavior<"crash" | "ping", undefined>({
      receive(_s, m, ctx) {
        if (m === "crash") throw new Error("crash");
        ctx.reply("pong");
        return undefined;
      },
    }),
    { parent: sup },
  );
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    child.tell("crash");
    await child.ask("ping", { timeoutMs: 1000 });
    lat.push(performance.now() - t0);
  }
  if (system.tree(child.path)?.restarts !== n) throw new Error("restarts not counted");
  await system.shutdown();
  return percentile(lat, 0.99);
}

// ---- timer lag under a flood ------------------------------------------------------------------

async function timerLagP99(samples: number): Promise<number> {
  const system = quiet();
  let flooding = true;
  const bounce = behavior<number, undefined>({
    receive(_s, n, ctx) {
      if (flooding) (ctx.sender as ActorRef<number>).tell(n + 1, ctx.self);
      return undefined;
    },
  });
  const a = system.spawn(bounce);
  const b = system.spawn(bounce);
  for (let i = 0; i < 1000; i++) a.tell(i, b);
  // Plus ten actors re-sending to themselves: a constant flood that never lets the run queue empty.
  const loop = behavior<number, undefined>({
    receive(_s, n, ctx) {
      if (flooding) ctx.self.tell(n + 1);
      return undefined;
    },
  });
  for (let k = 0; k < 10; k++) {
    const self = system.spawn(loop);
    for (let i = 0; i < 100; i++) self.tell(i);
  }
  const lags: number[] = [];
  for (let i = 0; i < samples; i++) {
    const s = performance.now();
    await new Promise((r) => setTimeout(r, 1));
    lags.push(performance.now() - s - 1);
  }
  flooding = false;
  await system.shutdown();
  return percentile(lags, 0.99);
}

// ---- run --------------------------------------------------------------------------------------

const results: BenchResult[] = [];
function add(r: Omit<BenchResult, "ratio"> & { ratio?: number }) {
  if (r.floor !== undefined && r.ratio === undefined) r.ratio = r.value / r.floor;
  results.push(r as BenchResult);
}

const PP = 2_000_000;
const PP_LIB = 100_000;
progress("floors");
const ppFloor = await best(3, () => floorPingPong(PP));
const ringFloor = await best(3, () => floorRing(5_000_000, 8192));
const askFloor = await best(3, () => floorAsk(500_000));

progress("ping-pong");
const pp = await best(3, () => pingPong(PP));
const ppNact = await best(3, () => pingPongNact(PP_LIB));
const ppX = await best(3, () => pingPongXState(PP));
add({
  name: "ping_pong",
  value: pp,
  unit: "msgs/s",
  floor: ppFloor,
  goal: ">=3M/s, >=0.3x floor, > nact & xstate",
  pass: pp >= 3e6 && pp / ppFloor >= 0.3 && pp > ppNact && pp > ppX,
});
add({ name: "ping_pong_nact", value: ppNact, unit: "msgs/s", floor: ppFloor, goal: "reference", pass: true });
add({ name: "ping_pong_xstate", value: ppX, unit: "msgs/s", floor: ppFloor, goal: "reference", pass: true });

progress("flood");
const fl = await best(3, () => flood(5_000_000));
add({ name: "flood", value: fl, unit: "msgs/s", floor: ringFloor, goal: ">=10M/s", pass: fl >= 10e6 });

progress("ask");
const askRate = await best(3, async () => (await ask(500_000, false)).rate);
const askLat = await ask(200_000, true);
add({ name: "ask", value: askRate, unit: "asks/s", floor: askFloor, goal: ">=500k/s", pass: askRate >= 5e5 });
add({ name: "ask_p99_us", value: askLat.p99us, unit: "us", goal: "<50us", pass: askLat.p99us < 50 });

progress("spawn");
const sp = await best(3, () => spawnOurs(200_000));
const spNact = await best(3, () => spawnNact(50_000));
const spX = await best(3, () => spawnXState(50_000));
add({
  name: "spawn",
  value: sp,
  unit: "actors/s",
  goal: ">=300k/s, > nact & xstate",
  pass: sp >= 3e5 && sp > spNact && sp > spX,
});
add({ name: "spawn_nact", value: spNact, unit: "actors/s", goal: "reference", pass: true });
add({ name: "spawn_xstate", value: spX, unit: "actors/s", goal: "reference", pass: true });

progress("heap per idle actor (1M)");
const heap = await heapPerActor(1_000_000);
add({ name: "heap_per_actor_bytes", value: heap, unit: "bytes", goal: "<=1024", pass: heap <= 1024 });
gcHeap();

progress("skynet (1M)");
gcHeap();
const sk = await skynet(1_000_000);
add({ name: "skynet_s", value: sk, unit: "s", goal: "<=3s", pass: sk <= 3 });

progress("restart");
const rs = await restartP99(20_000);
add({ name: "restart_p99_ms", value: rs, unit: "ms", goal: "<=1ms", pass: rs <= 1 });

progress("timer lag under flood");
gcHeap();
const lag = await timerLagP99(500);
add({ name: "timer_lag_p99_ms", value: lag, unit: "ms", goal: "<=20ms", pass: lag <= 20 });

const machine = {
  cpu: os.cpus()[0]?.model ?? "unknown",
  cores: os.cpus().length,
  memoryGB: Math.round(os.totalmem() / 2 ** 30),
  platform: `${os.platform()} ${os.arch()}`,
  bun: Bun.version,
};

if (json) {
  console.log(
    JSON.stringify({
      machine,
      results: results.map(({ name, value, unit, floor, ratio }) => ({ name, value, unit, floor, ratio })),
    }),
  );
} else {
  const fmt = (v: number | undefined) =>
    v === undefined
      ? ""
      : v >= 1e6
        ? `${(v / 1e6).toFixed(2)}M`
        : v >= 1e4
          ? `${(v / 1e3).toFixed(0)}k`
          : v >= 100
            ? v.toFixed(0)
            : v.toFixed(2);
  console.log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGB} GB, ${machine.platform}, bun ${machine.bun}`,
  );
  const rows = results.map((r) => [
    r.name,
    fmt(r.value),
    r.unit,
    fmt(r.floor),
    r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`,
    r.goal ?? "",
    r.goal === "reference" ? "" : r.pass ? "PASS" : "MISS",
  ]);
  const head = ["name", "value", "unit", "floor", "ratio", "goal", ""];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join("  ");
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}
process.exit(0);
