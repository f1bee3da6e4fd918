/**
 * Time for the kernel. Everything that waits (ask timeouts, actor timers, restart intensity
 * windows, restart backoff, shutdown timeouts) reads this clock, so tests swap in a
 * SimulatedClock and run without sleeping. The scheduler's fairness slice is the one exception:
 * it measures real CPU time on purpose, because it protects the real event loop.
 */

/** An opaque handle returned by {@link Clock.setTimeout}. */
export type TimerHandle = unknown;

/**
 * The clock interface the kernel depends on: a monotonic `now()` in milliseconds and one-shot timers.
 *
 * @example
 * const clock: Clock = realClock;
 * const h = clock.setTimeout(() => console.log("tick"), 10);
 * clock.clearTimeout(h);
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/**
 * The production clock: `performance.now()` and the host's timers. Timers are unref'd so an
 * armed ask timeout never keeps a finished process (a CLI, a benchmark) alive; the server
 * stays alive through its listeners.
 *
 * @example
 * const system = new ActorSystem({ clock: realClock });
 */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    if (ms <= MAX_TIMER_MS) {
      const t = setTimeout(fn, ms);
      t.unref?.();
      return t;
    }
    return new LongTimer(fn, performance.now() + ms);
  },
  clearTimeout(handle) {
    if (handle instanceof LongTimer) handle.clear();
    else clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/**
 * The longest delay a host timer takes: past 2^31-1 ms (24.8 days) Node and Bun fire it after
 * 1 ms instead, so a playbook step given `timeout: 30d` would time out at once.
 */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A delay longer than {@link MAX_TIMER_MS}: host timers in steps, re-armed until the deadline. */
class LongTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  constructor(
    private readonly fn: () => void,
    private readonly due: number,
  ) {
    this.arm();
  }
  private arm(): void {
    const left = this.due - performance.now();
    if (left <= MAX_TIMER_MS) this.timer = setTimeout(this.fn, Math.max(0, left));
    else this.timer = setTimeout(() => this.arm(), MAX_TIMER_MS);
    this.timer.unref?.();
  }
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

interface SimulatedTimer {
  id: number;
  due: number;
  fn: () => void;
}

/**
 * A clock that only moves when told to. `advance(ms)` fires every timer that falls due, in due
 * order (ties in creation order), setting `now()` to each timer's due time as it fires, like
 * XState's SimulatedClock. Timers created by a firing callback fire in the same advance if due.
 *
 * @example
 * const clock = new SimulatedClock();
 * clock.setTimeout(() => console.log("at", clock.now()), 100);
 * clock.advance(150); // logs "at 100"; clock.now() === 150 afterwards
 */
export class SimulatedClock implements Clock {
  private current: number;
  private nextId = 1;
  // Kept sorted by (due, id); simulated runs hold few timers, so insertion sort is enough.
  private timers: SimulatedTimer[] = [];

  constructor(start = 0) {
    this.current = start;
  }

  /** @example clock.now() // 0 on a fresh clock */
  now(): number {
    return this.current;
  }

  /** @example const h = clock.setTimeout(() => {}, 5); */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { id: this.nextId++, due: this.current + Math.max(0, ms), fn };
    let i = this.timers.length;
    while (i > 0 && (this.timers[i - 1] as SimulatedTimer).due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    return timer.id;
  }

  /** @example clock.clearTimeout(h); */
  clearTimeout(handle: TimerHandle): void {
    const i = this.timers.findIndex((t) => t.id === handle);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /**
   * Moves time forward by `ms`, firing due timers in order.
   *
   * @example
   * clock.advance(1000);
   */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      const next = this.timers[0];
      if (next === undefined || next.due > target) break;
      this.timers.shift();
      this.current = next.due;
      next.fn();
    }
    this.current = target;
  }

  /**
   * Jumps to an absolute time (never backwards), firing due timers on the way.
   *
   * @example
   * clock.set(5000);
   */
  set(time: number): void {
    if (time > this.current) this.advance(time - this.current);
  }

  /**
   * The due time of the earliest pending timer, if any; lets tests step from timer to timer.
   *
   * @example
   * const due = clock.nextDue(); if (due !== undefined) clock.set(due);
   */
  nextDue(): number | undefined {
    return this.timers[0]?.due;
  }

  /** Number of pending timers. @example expect(clock.pending).toBe(0); */
  get pending(): number {
    return this.timers.length;
  }
}
