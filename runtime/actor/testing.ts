/**
 * Helpers for deterministic tests of actors: let the system run until nothing is runnable, and
 * move a SimulatedClock forward one due timer at a time, letting actors react in between.
 */
import type { SimulatedClock } from "./clock.ts";
import type { ActorSystem } from "./system.ts";

const nextMacrotask = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Resolves once no actor is runnable for two event-loop turns in a row (microtasks drained,
 * supervision steps done). Work waiting on a simulated timer does not count as runnable.
 *
 * @example
 * ref.tell({ type: "boom" }); await settle(system); expect(system.tree()?.children[0]?.restarts).toBe(1);
 */
export async function settle(system: ActorSystem, maxTurns = 10_000): Promise<void> {
  let quiet = 0;
  for (let i = 0; i < maxTurns; i++) {
    await nextMacrotask();
    quiet = system.idle ? quiet + 1 : 0;
    if (quiet >= 2) return;
  }
  throw new Error(`system not idle after ${maxTurns} event-loop turns`);
}

/**
 * Advances a SimulatedClock by `ms`, stopping at each due timer to let the system settle, so a
 * timer set by an actor in reaction to an earlier timer still fires within the same advance.
 *
 * @example
 * await advance(system, clock, 1000);
 */
export async function advance(system: ActorSystem, clock: SimulatedClock, ms: number): Promise<void> {
  const target = clock.now() + ms;
  await settle(system);
  for (;;) {
    const due = clock.nextDue();
    if (due === undefined || due > target) break;
    clock.set(due);
    await settle(system);
  }
  clock.set(target);
  await settle(system);
}
