import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { ActorRef } from "./actor-ref.ts";
import { behavior, type RestartType, type SupervisionStrategy, supervisor } from "./behavior.ts";
import { SimulatedClock } from "./clock.ts";
import { RestartIntensityError } from "./errors.ts";
import type { InspectEvent } from "./inspect.ts";
import { backoffDelay } from "./supervisor.ts";
import { ActorSystem, type ActorSystemOptions } from "./system.ts";
import { advance, settle } from "./testing.ts";

function newSystem(options: ActorSystemOptions = {}) {
  const clock = new SimulatedClock();
  const system = new ActorSystem({ clock, metricsIntervalMs: 0, ...options });
  const events: InspectEvent[] = [];
  system.inspect.subscribe((e) => events.push(e));
  return { clock, system, events };
}

type WorkerMsg = "crash" | "exit" | "ping";
/** A worker that crashes or exits on demand and logs its lifecycle hooks. */
function worker(name: string, log: string[]) {
  return behavior<WorkerMsg, undefined>({
    kind: "worker",
    preStart() {
      log.push(`start:${name}`);
      return undefined;
    },
    preRestart() {
      log.push(`preRestart:${name}`);
    },
    postStop() {
      log.push(`stop:${name}`);
    },
    receive(_s, msg, ctx) {
      if (msg === "crash") throw new Error(`${name} crashed`);
      if (msg === "exit") ctx.stop();
      return undefined;
    },
  });
}

function restarts(system: ActorSystem, path: string): number | undefined {
  return system.tree(path)?.restarts;
}

async function group(strategy: SupervisionStrategy, types: RestartType[] = ["permanent", "permanent", "permanent"]) {
  const env = newSystem();
  const log: string[] = [];
  const names = ["a", "b", "c"];
  const sup = env.system.spawn(
    supervisor((ctx) => {
      names.forEach((n, i) => {
        ctx.spawn(worker(n, log), { name: n, restart: types[i] });
      });
    }),
    { name: "sup", restart: "temporary", supervisor: { strategy, maxRestarts: 10, periodMs: 1000 } },
  );
  await settle(env.system);
  log.length = 0;
  const child = (n: string) => env.system.lookup<WorkerMsg>(`/system/sup/${n}`) as ActorRef<WorkerMsg>;
  return { ...env, log, sup, child };
}

describe("strategies", () => {
  test("one_for_one restarts only the failed child", async () => {
    const { system, log, child } = await group("one_for_one");
    child("b").tell("crash");
    await settle(system);
    expect(log).toEqual(["preRestart:b", "start:b"]);
    expect(["a", "b", "c"].map((n) => restarts(system, `/system/sup/${n}`))).toEqual([0, 1, 0]);
    await system.shutdown();
  });

  test("one_for_all stops all in reverse start order, then restarts all in start order", async () => {
    const { system, log, child, events } = await group("one_for_all");
    events.length = 0;
    child("b").tell("crash");
    await settle(system);
    expect(log).toEqual(["preRestart:c", "preRestart:b", "preRestart:a", "start:a", "start:b", "start:c"]);
    expect(events.filter((e) => e.type === "restarted").map((e) => (e as { path: string }).path)).toEqual([
      "/system/sup/a",
      "/system/sup/b",
      "/system/sup/c",
    ]);
    await system.shutdown();
  });

  test("rest_for_one restarts the failed child and those started after it", async () => {
    const { system, log, child } = await group("rest_for_one");
    child("b").tell("crash");
    await settle(system);
    expect(log).toEqual(["preRestart:c", "preRestart:b", "start:b", "start:c"]);
    expect(["a", "b", "c"].map((n) => restarts(system, `/system/sup/${n}`))).toEqual([0, 1, 1]);
    await system.shutdown();
  });

  test("one_for_all terminates temporary siblings instead of restarting them", async () => {
    const { system, log, child } = await group("one_for_all", ["permanent", "permanent", "temporary"]);
    child("a").tell("crash");
    await settle(system);
    expect(log).toEqual(["stop:c", "preRestart:b", "preRestart:a", "start:a", "start:b"]);
    expect(system.lookup("/system/sup/c")).toBeUndefined();
    await system.shutdown();
  });
});

describe("restart types", () => {
  test("permanent restarts after a crash and after a normal exit", async () => {
    const { system, child } = await group("one_for_one");
    child("a").tell("crash");
    await settle(system);
    child("a").tell("exit");
    await settle(system);
    expect(restarts(system, "/system/sup/a")).toBe(2);
    await system.shutdown();
  });

  test("transient restarts after a crash only; a normal exit stops it with reason normal", async () => {
    const { system, child, events } = await group("one_for_one", ["transient", "transient", "transient"]);
    child("a").tell("crash");
    await settle(system);
    expect(restarts(system, "/system/sup/a")).toBe(1);
    child("a").tell("exit");
    await settle(system);
    expect(system.lookup("/system/sup/a")).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ type: "stopped", path: "/system/sup/a", reason: "normal" });
    await system.shutdown();
  });

  test("temporary is never restarted; a crash stops it with reason failed", async () => {
    const { system, child, events } = await group("one_for_one", ["temporary", "temporary", "temporary"]);
    child("a").tell("crash");
    await settle(system);
    expect(system.lookup("/system/sup/a")).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ type: "stopped", path: "/system/sup/a", reason: "failed" });
    expect(system.lookup("/system/sup/b")).toBeDefined();
    await system.shutdown();
  });
});

describe("restart intensity", () => {
  test("escalates exactly at restart maxRestarts+1 within the period", async () => {
    const { system, clock, events, child } = await group("one_for_one");
    // group(): maxRestarts 10, periodMs 1000
    for (let i = 0; i < 10; i++) {
      clock.advance(99); // 10 crashes spread over 990 ms: all inside one period
      child("a").tell("crash");
      await settle(system);
    }
    expect(restarts(system, "/system/sup/a")).toBe(10);
    expect(system.lookup("/system/sup")).toBeDefined();
    child("a").tell("crash");
    await settle(system);
    const escalated = events.find((e) => e.type === "escalated");
    expect(escalated).toMatchObject({ path: "/system/sup" });
    expect((escalated as { error: unknown }).error).toBeInstanceOf(RestartIntensityError);
    // The supervisor stopped its children, then failed; as a temporary child of the root it is gone.
    expect(system.lookup("/system/sup")).toBeUndefined();
    expect(system.lookup("/system/sup/a")).toBeUndefined();
    await system.shutdown();
  });

  test("restarts older than the period no longer count", async () => {
    const { system, clock, events, child } = await group("one_for_one");
    for (let i = 0; i < 10; i++) {
      child("a").tell("crash");
      await settle(system);
    }
    clock.advance(1000);
    child("a").tell("crash");
    await settle(system);
    expect(events.some((e) => e.type === "escalated")).toBe(false);
    expect(restarts(system, "/system/sup/a")).toBe(11);
    await system.shutdown();
  });

  test("escalation reaches the parent supervisor, which restarts the failed supervisor", async () => {
    const { system, events } = newSystem();
    const log: string[] = [];
    system.spawn(
      supervisor((top) => {
        top.spawn(
          supervisor((mid) => {
            mid.spawn(worker("w", log), { name: "w" });
          }),
          { name: "mid", supervisor: { maxRestarts: 0 } },
        );
      }),
      { name: "top", supervisor: { maxRestarts: 5 } },
    );
    await settle(system);
    system.lookup<WorkerMsg>("/system/top/mid/w")?.tell("crash");
    await settle(system);
    expect(events.filter((e) => e.type === "escalated").map((e) => (e as { path: string }).path)).toEqual([
      "/system/top/mid",
    ]);
    expect(restarts(system, "/system/top/mid")).toBe(1);
    expect(restarts(system, "/system/top/mid/w")).toBe(0); // a fresh child, started by mid's preStart
    expect(log).toEqual(["start:w", "stop:w", "start:w"]);
    await system.shutdown();
  });

  test("the root exceeding its intensity calls onEscalate and shuts the system down", async () => {
    let escalated: unknown;
    const { system } = newSystem({ supervisor: { maxRestarts: 1 }, onEscalate: (e) => (escalated = e) });
    const w = system.spawn(worker("w", []), { name: "w" });
    w.tell("crash");
    await settle(system);
    w.tell("crash");
    await settle(system);
    expect(escalated).toBeInstanceOf(RestartIntensityError);
    expect(system.root.alive).toBe(false);
  });
});

describe("backoff", () => {
  test("restart delays grow by factor up to max, on the simulated clock", async () => {
    const { system, clock, events } = newSystem();
    system.spawn(supervisor(), {
      name: "sup",
      supervisor: { maxRestarts: 100, periodMs: 100_000, backoff: { minMs: 100, maxMs: 500, factor: 2, jitter: 0 } },
    });
    const w = system.spawn(worker("w", []), { parent: system.lookup("/system/sup") as ActorRef<never>, name: "w" });
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      const crashedAt = clock.now();
      w.tell("crash");
      await settle(system);
      await advance(system, clock, 1000);
      const restarted = events.filter((e) => e.type === "restarted").at(-1) as { at: number };
      delays.push(restarted.at - crashedAt);
    }
    expect(delays).toEqual([100, 200, 400, 500, 500]);
    await system.shutdown();
  });

  test("messages wait in the mailbox during backoff and are handled after the restart", async () => {
    const { system, clock } = newSystem();
    const got: string[] = [];
    const sup = system.spawn(supervisor(), {
      supervisor: { maxRestarts: 5, backoff: { minMs: 50, maxMs: 50, jitter: 0 } },
    });
    const w = system.spawn(
      behavior<string, undefined>({
        receive(_s, m) {
          if (m === "crash") throw new Error("x");
          got.push(m);
          return undefined;
        },
      }),
      { parent: sup },
    );
    w.tell("crash");
    w.tell("after");
    await settle(system);
    expect(got).toEqual([]);
    await advance(system, clock, 50);
    expect(got).toEqual(["after"]);
    await system.shutdown();
  });

  test("jitter adds up to jitter*delay, capped at max", () => {
    expect(backoffDelay({ minMs: 100, maxMs: 1000, jitter: 0.5 }, 0, () => 0.999)).toBeCloseTo(149.95);
    expect(backoffDelay({ minMs: 100, maxMs: 1000, jitter: 0.5 }, 4, () => 0.999)).toBe(1000);
  });
});

describe("shutdown", () => {
  test("stops children in reverse start order, depth first, before the parent's postStop", async () => {
    const { system } = newSystem();
    const log: string[] = [];
    system.spawn(worker("a", log), { name: "a" });
    system.spawn(
      behavior<string, undefined>({
        preStart(_s, ctx) {
          ctx.spawn(worker("b1", log), { name: "b1" });
          ctx.spawn(worker("b2", log), { name: "b2" });
          return undefined;
        },
        postStop() {
          log.push("stop:b");
        },
        receive: () => undefined,
      }),
      { name: "b" },
    );
    system.spawn(worker("c", log), { name: "c" });
    await settle(system);
    log.length = 0;
    await system.shutdown();
    expect(log).toEqual(["stop:c", "stop:b2", "stop:b1", "stop:b", "stop:a"]);
    expect(system.tree()?.children).toEqual([]);
  });

  test("an actor that does not stop within its shutdown timeout is killed, and shutdown goes on", async () => {
    const { system, clock, events } = newSystem();
    const log: string[] = [];
    system.spawn(worker("a", log), { name: "a" });
    system.spawn(
      behavior<string, undefined>({
        postStop: () => new Promise<void>(() => {}),
        receive: () => undefined,
      }),
      { name: "stuck", shutdownTimeoutMs: 250 },
    );
    let done = false;
    void system.shutdown().then(() => (done = true));
    await settle(system);
    expect(done).toBe(false);
    clock.advance(249);
    await settle(system);
    expect(done).toBe(false);
    clock.advance(1);
    await settle(system);
    expect(done).toBe(true);
    expect(events.find((e) => e.type === "stopped" && e.path === "/system/stuck")).toMatchObject({ reason: "killed" });
    expect(log).toEqual(["start:a", "stop:a"]);
  });

  test("a stop waits for the in-flight async handler", async () => {
    const { system } = newSystem();
    const log: string[] = [];
    let release!: () => void;
    const a = system.spawn(
      behavior<string, undefined>({
        async receive() {
          await new Promise<void>((r) => (release = r));
          log.push("handled");
          return undefined;
        },
        postStop: () => {
          log.push("postStop");
        },
      }),
    );
    a.tell("go");
    await settle(system);
    const stopped = system.stop(a as ActorRef<never>);
    await settle(system);
    expect(log).toEqual([]);
    release();
    await stopped;
    expect(log).toEqual(["handled", "postStop"]);
    await system.shutdown();
  });
});

describe("timers", () => {
  test("single and repeating timers deliver to self; restart and stop cancel them", async () => {
    const { system, clock } = newSystem();
    const got: string[] = [];
    const w = system.spawn(
      behavior<string, undefined>({
        preStart(_s, ctx) {
          ctx.timers.startSingle("once", "once", 50);
          ctx.timers.startRepeating("rep", "rep", 20);
          return undefined;
        },
        receive(_s, m) {
          if (m === "crash") throw new Error("x");
          got.push(`${m}@${clock.now()}`);
          return undefined;
        },
      }),
      { name: "w" },
    );
    await advance(system, clock, 60);
    expect(got).toEqual(["rep@20", "rep@40", "once@50", "rep@60"]);
    got.length = 0;
    // A restart cancels the old incarnation's timers; preStart starts fresh ones from now (t=60).
    w.tell("crash");
    await settle(system);
    await advance(system, clock, 45);
    expect(got).toEqual(["rep@80", "rep@100"]);
    got.length = 0;
    await system.stop(w as ActorRef<never>);
    expect(system.timers.size).toBe(0);
    await advance(system, clock, 1000);
    expect(got).toEqual([]);
    expect(system.deadLetters.count()).toBe(0);
    await system.shutdown();
  });

  test("a tick already queued when its timer is cancelled is not delivered", async () => {
    const { system, clock } = newSystem();
    const got: string[] = [];
    const w = system.spawn(
      behavior<string, undefined>({
        preStart(_s, ctx) {
          ctx.timers.startSingle("t", "tick", 10);
          return undefined;
        },
        receive(_s, m, ctx) {
          got.push(m);
          if (m === "cancel") ctx.timers.cancel("t");
          return undefined;
        },
      }),
    );
    w.tell("cancel"); // queued before the tick
    clock.advance(10); // the tick is enqueued behind "cancel"
    await settle(system);
    expect(got).toEqual(["cancel"]);
    await system.shutdown();
  });
});

describe("property: supervision invariants", () => {
  test("tree matches an OTP model for any strategy, restart types, intensity and crash sequence", async () => {
    const strategies: SupervisionStrategy[] = ["one_for_one", "one_for_all", "rest_for_one"];
    const types: RestartType[] = ["permanent", "transient", "temporary"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...strategies),
        fc.integer({ min: 0, max: 4 }),
        fc.array(fc.constantFrom(...types), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 7 }),
        async (strategy, maxRestarts, childTypes, crashes) => {
          const { system } = newSystem();
          const names = childTypes.map((_, i) => `w${i}`);
          system.spawn(
            supervisor((ctx) => {
              childTypes.forEach((restart, i) => {
                ctx.spawn(worker(names[i] as string, []), { name: names[i], restart });
              });
            }),
            { name: "sup", restart: "temporary", supervisor: { strategy, maxRestarts, periodMs: 1000 } },
          );
          await settle(system);
          // The model.
          let alive = names.map(() => true);
          const count = names.map(() => 0);
          let restartsSeen = 0;
          let escalated = false;
          for (const i of crashes) {
            if (escalated || i >= names.length || !alive[i]) continue;
            system.lookup<WorkerMsg>(`/system/sup/${names[i]}`)?.tell("crash");
            await settle(system);
            if (childTypes[i] === "temporary") {
              alive[i] = false;
              continue;
            }
            restartsSeen++;
            if (restartsSeen > maxRestarts) {
              escalated = true;
              alive = alive.map(() => false);
              continue;
            }
            names.forEach((_, j) => {
              const inGroup = strategy === "one_for_all" || (strategy === "rest_for_one" ? j >= i : j === i);
              if (!inGroup || !alive[j]) return;
              if (j !== i && childTypes[j] === "temporary") alive[j] = false;
              else count[j] = (count[j] as number) + 1;
            });
          }
          // The tree.
          const sup = system.tree("/system/sup");
          expect(sup === undefined).toBe(escalated);
          const liveNames = names.filter((_, j) => alive[j]);
          expect(sup?.children.map((c) => c.name) ?? []).toEqual(liveNames);
          for (const c of sup?.children ?? []) expect(c.restarts).toBe(count[names.indexOf(c.name)] as number);
          await system.shutdown();
          expect(system.tree()?.children).toEqual([]);
        },
      ),
      { numRuns: 60 },
    );
  });
});
