import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ActorRef } from "./actor-ref.ts";
import { behavior, supervisor, type Terminated } from "./behavior.ts";
import { SimulatedClock } from "./clock.ts";
import { ActorStoppedError, AskTimeoutError, MailboxOverflowError } from "./errors.ts";
import type { InspectEvent } from "./inspect.ts";
import { ActorSystem, type ActorSystemOptions } from "./system.ts";
import { settle } from "./testing.ts";

function newSystem(options: ActorSystemOptions = {}) {
  const clock = new SimulatedClock();
  const system = new ActorSystem({ clock, metricsIntervalMs: 0, ...options });
  return { clock, system };
}

type CounterMsg = { type: "add"; n: number } | { type: "get" };
const counter = behavior<CounterMsg, number>({
  kind: "counter",
  init: () => 0,
  receive(n, msg, ctx) {
    if (msg.type === "add") return n + msg.n;
    ctx.reply(n);
    return n;
  },
});

/** Records every message it receives. */
function recorder(log: unknown[]) {
  return behavior<unknown, undefined>({
    receive(_s, msg) {
      log.push(msg);
      return undefined;
    },
  });
}

describe("spawn, tell, ask", () => {
  test("tell is handled in order and ask gets the reply", async () => {
    const { system } = newSystem();
    const c = system.spawn(counter, { name: "c" });
    for (let i = 1; i <= 10; i++) c.tell({ type: "add", n: i });
    expect(await c.ask<number>({ type: "get" })).toBe(55);
    expect(c.path).toBe("/system/c");
    await system.shutdown();
  });

  test("async handlers hold the mailbox: one message at a time", async () => {
    const { system } = newSystem();
    let active = 0;
    let maxActive = 0;
    const log: number[] = [];
    const slow = system.spawn(
      behavior<number, undefined>({
        async receive(_s, n) {
          active++;
          maxActive = Math.max(maxActive, active);
          await Promise.resolve();
          await new Promise((r) => setImmediate(r));
          log.push(n);
          active--;
          return undefined;
        },
      }),
    );
    for (let i = 0; i < 20; i++) slow.tell(i);
    await settle(system);
    while (log.length < 20) await new Promise((r) => setImmediate(r));
    expect(log).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(maxActive).toBe(1);
    await system.shutdown();
  });

  test("property: per-sender order holds for any interleaving of senders and turn budgets", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 300 }),
        fc.integer({ min: 1, max: 16 }),
        async (senders, throughput) => {
          const { system } = newSystem({ throughput });
          const got: [number, number][] = [];
          const sink = system.spawn(
            behavior<[number, number], undefined>({
              receive(_s, m) {
                got.push(m);
                return undefined;
              },
            }),
          );
          // Senders are actors relaying their own sequence numbers, so the path has two hops.
          const relays = [0, 1, 2, 3, 4].map((id) =>
            system.spawn(
              behavior<number, undefined>({
                receive(_s, seq) {
                  sink.tell([id, seq]);
                  return undefined;
                },
              }),
            ),
          );
          const next = [0, 0, 0, 0, 0];
          for (const s of senders) (relays[s] as ActorRef<number>).tell((next[s] as number)++);
          await settle(system);
          expect(got.length).toBe(senders.length);
          const last = [-1, -1, -1, -1, -1];
          for (const [id, seq] of got) {
            expect(seq).toBe((last[id] as number) + 1);
            last[id] = seq;
          }
          await system.shutdown();
        },
      ),
      { numRuns: 40 },
    );
  });

  test("ask times out on the clock; the late reply is dropped and counted", async () => {
    const { system, clock } = newSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const lazy = system.spawn(
      behavior<string, undefined>({
        async receive(_s, _m, ctx) {
          await gate;
          ctx.reply("late");
          return undefined;
        },
      }),
    );
    const answer = lazy.ask("q", { timeoutMs: 100 });
    await settle(system);
    clock.advance(99);
    await settle(system);
    let rejected: unknown;
    answer.catch((e) => (rejected = e));
    await settle(system);
    expect(rejected).toBeUndefined();
    clock.advance(1);
    await settle(system);
    expect(rejected).toBeInstanceOf(AskTimeoutError);
    expect(system.counters.askTimeouts).toBe(1);
    release();
    await settle(system);
    expect(system.counters.lateReplies).toBe(1);
    await system.shutdown();
  });

  test("ask to a stopped actor rejects with ActorStoppedError and dead-letters the message", async () => {
    const { system } = newSystem();
    const c = system.spawn(counter);
    await system.stop(c as ActorRef<never>);
    expect(c.alive).toBe(false);
    await expect(c.ask({ type: "get" })).rejects.toBeInstanceOf(ActorStoppedError);
    expect(system.deadLetters.count("stopped")).toBe(1);
    await system.shutdown();
  });

  test("names are unique among siblings and validated; anonymous children get $-names", async () => {
    const { system } = newSystem();
    system.spawn(counter, { name: "x" });
    expect(() => system.spawn(counter, { name: "x" })).toThrow(/already exists/);
    expect(() => system.spawn(counter, { name: "a/b" })).toThrow(/invalid actor name/);
    expect(() => system.spawn(counter, { name: "$1" })).toThrow(/invalid actor name/);
    const anon = system.spawn(counter);
    expect(anon.name.startsWith("$")).toBe(true);
    await system.shutdown();
    expect(() => system.spawn(counter)).toThrow(ActorStoppedError);
  });
});

describe("mailbox overflow policies", () => {
  test("dead_letter: the new message is dead-lettered with sender, target, type and reason", async () => {
    const { system } = newSystem({ mailboxLimit: 2 });
    const log: unknown[] = [];
    const r = system.spawn(recorder(log), { name: "r" });
    const from = system.spawn(counter, { name: "from" });
    for (let i = 0; i < 5; i++) r.tell({ type: "m", i }, from);
    await expect(r.ask({ type: "q" })).rejects.toBeInstanceOf(MailboxOverflowError);
    await settle(system);
    expect(log).toEqual([
      { type: "m", i: 0 },
      { type: "m", i: 1 },
    ]);
    expect(system.deadLetters.count("mailbox_full")).toBe(4);
    const [first] = system.deadLetters.recent(4);
    expect(first).toMatchObject({
      sender: "/system/from",
      target: "/system/r",
      messageType: "m",
      reason: "mailbox_full",
    });
    expect(system.deadLetters.recent(2).map((d) => d.messageType)).toEqual(["m", "q"]);
    await system.shutdown();
  });

  test("drop_oldest: the oldest queued message is dropped", async () => {
    const { system } = newSystem();
    const log: unknown[] = [];
    const r = system.spawn(recorder(log), { mailboxLimit: 2, overflow: "drop_oldest" });
    for (let i = 0; i < 5; i++) r.tell(i);
    await settle(system);
    expect(log).toEqual([3, 4]);
    expect(system.deadLetters.count("dropped_oldest")).toBe(3);
    await system.shutdown();
  });

  test("fail: the actor crashes, its supervisor restarts it, queued messages survive", async () => {
    const { system } = newSystem();
    const log: unknown[] = [];
    const r = system.spawn(recorder(log), { name: "r", mailboxLimit: 2, overflow: "fail" });
    for (let i = 0; i < 3; i++) r.tell(i);
    await settle(system);
    expect(system.deadLetters.count("overflow_failure")).toBe(1);
    expect(system.tree("/system/r")?.restarts).toBe(1);
    expect(log).toEqual([0, 1]);
    await system.shutdown();
  });
});

describe("watch", () => {
  test("the watcher receives terminated with the reason, and a dead target reports noproc", async () => {
    const { system } = newSystem();
    const seen: Terminated[] = [];
    const target = system.spawn(counter, { name: "t" });
    const crashy = system.spawn(
      behavior<string, undefined>({
        receive() {
          throw new Error("bad");
        },
      }),
      { name: "crashy", restart: "temporary" },
    );
    const watcher = system.spawn(
      behavior<Terminated | { type: "watch"; ref: ActorRef<never> }, undefined>({
        receive(_s, msg, ctx) {
          if (msg.type === "watch") ctx.watch(msg.ref);
          else seen.push(msg);
          return undefined;
        },
      }),
    );
    watcher.tell({ type: "watch", ref: target as ActorRef<never> });
    watcher.tell({ type: "watch", ref: crashy as ActorRef<never> });
    await settle(system);
    await system.stop(target as ActorRef<never>);
    crashy.tell("x");
    await settle(system);
    watcher.tell({ type: "watch", ref: target as ActorRef<never> });
    await settle(system);
    expect(seen.map((t) => [t.ref.path, t.reason])).toEqual([
      ["/system/t", "stopped"],
      ["/system/crashy", "failed"],
      ["/system/t", "noproc"],
    ]);
    expect((seen[1]?.error as Error | undefined)?.message).toBe("bad");
    await system.shutdown();
  });
});

describe("registry, tree, inspect, release", () => {
  test("lookup by path, tree with depth and restarts, inspect stream with unsubscribe", async () => {
    const { system } = newSystem();
    const events: InspectEvent[] = [];
    const off = system.inspect.subscribe((e) => events.push(e));
    const debates = system.spawn(supervisor(), { name: "debates", supervisor: { maxRestarts: 5 } });
    const d42 = system.spawn(
      behavior<string, undefined>({
        kind: "debate",
        receive(_s, m) {
          if (m === "boom") throw new Error("boom");
          return undefined;
        },
      }),
      { parent: debates, name: "d-42" },
    );
    d42.tell("a");
    d42.tell("boom");
    await settle(system);
    expect(system.lookup("/system/debates/d-42")).toBe(d42);
    expect(system.lookup("/system/debates/nope")).toBeUndefined();
    const tree = system.tree();
    expect(tree?.children[0]?.children[0]).toMatchObject({
      path: "/system/debates/d-42",
      kind: "debate",
      restarts: 1,
      mailboxDepth: 0,
    });
    d42.tell("x");
    expect(system.tree("/system/debates/d-42")?.mailboxDepth).toBe(1);
    await system.stop(d42 as ActorRef<never>);
    d42.tell("after");
    // "x" was still queued when the stop came: stop takes effect after the current message.
    expect(events.map((e) => e.type)).toEqual([
      "spawned",
      "spawned",
      "failed",
      "restarted",
      "dead_letter",
      "stopped",
      "dead_letter",
    ]);
    off();
    system.spawn(counter);
    expect(events.length).toBe(7);
    await system.shutdown();
  });

  test("stopping releases registry entry, child set, timers, watchers and subscriptions", async () => {
    const { system, clock } = newSystem();
    let released = 0;
    const holder = system.spawn(
      behavior<string, undefined>({
        preStart(_s, ctx) {
          ctx.timers.startRepeating("t", "tick", 10);
          ctx.onStop(() => released++);
          ctx.onStop(system.inspect.subscribe(() => {}));
          ctx.spawn(counter, { name: "kid" });
          return undefined;
        },
        receive: () => undefined,
      }),
      { name: "holder" },
    );
    const watcher = system.spawn(
      behavior<Terminated, undefined>({
        preStart(_s, ctx) {
          ctx.watch(holder as ActorRef<never>);
          return undefined;
        },
        receive: () => undefined,
      }),
    );
    await settle(system);
    expect(system.inspect.active).toBe(true);
    expect(system.timers.size).toBe(1);
    await system.stop(holder as ActorRef<never>);
    expect(released).toBe(1);
    expect(system.inspect.active).toBe(false);
    expect(system.timers.size).toBe(0);
    expect(system.lookup("/system/holder")).toBeUndefined();
    expect(system.lookup("/system/holder/kid")).toBeUndefined();
    expect(system.tree()?.children.map((c) => c.path)).toEqual([watcher.path]);
    clock.advance(100);
    await settle(system);
    expect(system.deadLetters.count()).toBe(0);
    await system.shutdown();
  });
});

describe("metrics", () => {
  test("flushMetrics pushes alive, depth, processed, restarts and dead letters as deltas", async () => {
    const { metrics } = await import("../metrics.ts");
    const value = async (m: { get(): Promise<{ values: { labels: object; value: number }[] }> }, label: object) =>
      (await m.get()).values.find((v) => Object.entries(label).every(([k, x]) => (v.labels as never)[k] === x))
        ?.value ?? 0;
    const kind = { kind: "metrics_probe" };
    const full = { reason: "mailbox_full" };
    const before = [await value(metrics.actorMessagesProcessed, kind), await value(metrics.actorDeadLetters, full)];
    const { system } = newSystem();
    const r = system.spawn(counter, { kind: "metrics_probe", mailboxLimit: 2 });
    for (let i = 0; i < 5; i++) r.tell({ type: "add", n: 1 });
    system.flushMetrics();
    expect(await value(metrics.actorMailboxDepth, kind)).toBe(2);
    await settle(system);
    system.flushMetrics();
    expect(await value(metrics.actorsAlive, kind)).toBe(1);
    expect(await value(metrics.actorMailboxDepth, kind)).toBe(0);
    expect((await value(metrics.actorMessagesProcessed, kind)) - (before[0] as number)).toBe(2);
    expect((await value(metrics.actorDeadLetters, full)) - (before[1] as number)).toBe(3);
    await system.shutdown();
    expect(await value(metrics.actorsAlive, kind)).toBe(0);
  });
});
