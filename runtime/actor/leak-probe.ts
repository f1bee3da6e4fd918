/**
 * Spawns and stops 100,000 supervised actors twice and prints the heap before and after the
 * second round (after full GCs) as JSON. Run in its own process by leak.test.ts so no other
 * test's allocations land between the two measurements.
 *
 * @example
 * bun runtime/actor/leak-probe.ts   # {"baseline":12345678,"after":12400000,"children":0,"timers":0}
 */
import { heapStats } from "bun:jsc";
import type { ActorRef } from "./actor-ref.ts";
import { behavior, supervisor } from "./behavior.ts";
import { ActorSystem } from "./system.ts";

const N = 100_000;
const idle = behavior<string, undefined>({
  preStart(_s, ctx) {
    // Hold a little of everything stopping must release.
    ctx.timers.startSingle("t", "tick", 60_000);
    ctx.onStop(() => {});
    return undefined;
  },
  receive: () => undefined,
});

async function churn(system: ActorSystem, parent: ActorRef<never>, round: number): Promise<void> {
  const refs: ActorRef<string>[] = [];
  for (let i = 0; i < N; i++) refs.push(system.spawn(idle, { parent, name: `r${round}-${i}` }));
  for (const r of refs) r.tell("hello");
  const watcher = system.spawn(idle, { parent });
  await Promise.all(refs.slice(0, 1000).map((r) => system.stop(r as ActorRef<never>)));
  await system.stop(watcher as ActorRef<never>);
  for (const r of refs) await system.stop(r as ActorRef<never>);
}

/**
 * Heap size after full collections, each run from a fresh stack (a timer callback): JavaScriptCore
 * scans the stack conservatively, so a stale slot left by the churn loop can otherwise keep the
 * stopped actors reachable for one more collection. The smallest of several readings: on a loaded
 * machine one collection now and then leaves most of the garbage standing (seen: 28 MB against
 * 4.8 MB a moment later), which would read as a leak, or hide one in the baseline. A real leak
 * stays in every reading, so it still shows in the smallest.
 */
async function heapBytes(): Promise<number> {
  let smallest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 8; i++) {
    await new Promise((r) => setTimeout(r, 5));
    Bun.gc(true);
    smallest = Math.min(smallest, heapStats().heapSize);
  }
  return smallest;
}

const system = new ActorSystem({ metricsIntervalMs: 0 });
const parent = system.spawn(supervisor(), { name: "churn" }) as ActorRef<never>;
// Warm up: JIT code and shared structures are not a leak. Twice: with one round, a CI run beside
// other heavy work read 11% once (the JIT tiers up later on a loaded machine, into the measured round).
await churn(system, parent, 0);
await churn(system, parent, 2);
await new Promise((r) => setImmediate(r));
const baseline = await heapBytes();
await churn(system, parent, 1);
await new Promise((r) => setImmediate(r));
const after = await heapBytes();
const children = system.tree("/system/churn")?.children.length ?? -1;
const timers = system.timers.size;
await system.shutdown();
console.log(JSON.stringify({ baseline, after, children, timers }));
