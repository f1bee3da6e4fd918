import { describe, expect, test } from "bun:test";
import { supervisor } from "./behavior.ts";
import { SimulatedClock } from "./clock.ts";
import { ActorSystem } from "./system.ts";
import { type TaskRun, taskActor } from "./task-actor.ts";
import { advance, settle } from "./testing.ts";

function setup() {
  const clock = new SimulatedClock();
  const system = new ActorSystem({ clock, metricsIntervalMs: 0 });
  const parent = system.spawn(supervisor(), {
    name: "tasks",
    supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
  });
  return { clock, system, parent };
}

/** Resolves after `ms` on the task's clock, or rejects with the signal's reason. */
const sleep = ({ clock, signal }: TaskRun, ms: number) =>
  new Promise<void>((resolve, reject) => {
    const h = clock.setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clock.clearTimeout(h);
      reject(signal.reason);
    });
  });

describe("taskActor", () => {
  test("runs the task once, hands over its result and stops", async () => {
    const { clock, system, parent } = setup();
    const results: string[] = [];
    const ref = system.spawn(
      taskActor({
        kind: "job",
        maxRestarts: 1,
        run: async (task) => {
          await sleep(task, 1000);
          return `done at ${task.clock.now()}`;
        },
        onFinished: (r) => results.push(r),
        giveUp: () => {},
      }),
      { parent, name: "j1", restart: "transient" },
    );
    await advance(system, clock, 999);
    expect(results).toEqual([]);
    await advance(system, clock, 1);
    expect(results).toEqual(["done at 1000"]);
    expect(ref.alive).toBe(false);
  });

  test("a crash restarts it with the next incarnation; after maxRestarts the next crash gives up", async () => {
    const { system, parent } = setup();
    const seen: number[] = [];
    const crashes: Array<[number, boolean]> = [];
    const gaveUp: number[] = [];
    const finished: unknown[] = [];
    system.spawn(
      taskActor({
        kind: "job",
        maxRestarts: 2,
        run: async ({ incarnation }) => {
          seen.push(incarnation);
          throw new Error(`crash ${incarnation}`);
        },
        onFinished: (r) => finished.push(r),
        onCrashed: (_e, n, final) => crashes.push([n, final]),
        giveUp: async (e, n) => {
          gaveUp.push(n);
          expect((e as Error).message).toBe("crash 2");
        },
      }),
      { parent, name: "j2", restart: "transient" },
    );
    await settle(system);
    expect(seen).toEqual([0, 1, 2]);
    expect(crashes).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect(gaveUp).toEqual([3]);
    expect(finished).toEqual([]);
    expect(system.lookup("/tasks/j2")).toBeUndefined();
  });

  test("abort aborts the task's signal with the reason; stopping aborts only with abortOnStop", async () => {
    const { system, parent } = setup();
    const reasons: string[] = [];
    const spec = (name: string, abortOnStop?: () => Error) =>
      taskActor<string>({
        kind: "job",
        maxRestarts: 0,
        run: (task) =>
          sleep(task, 60_000).then(
            () => "slept",
            (e: Error) => {
              reasons.push(`${name}: ${e.message}`);
              return "aborted";
            },
          ),
        onFinished: () => {},
        giveUp: () => {},
        abortOnStop,
      });
    const a = system.spawn(spec("a"), { parent, name: "a", restart: "transient" });
    const b = system.spawn(
      spec("b", () => new Error("stopped")),
      { parent, name: "b", restart: "transient" },
    );
    const c = system.spawn(spec("c"), { parent, name: "c", restart: "transient" });
    await settle(system);
    a.tell({ type: "abort", reason: new Error("cancelled") });
    system.stop(b);
    system.stop(c);
    await settle(system);
    expect(reasons.sort()).toEqual(["a: cancelled", "b: stopped"]);
  });
});
