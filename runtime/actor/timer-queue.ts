/**
 * One deadline heap per actor system, multiplexed onto a single armed clock timer.
 * Asks and actor timers are created and cancelled far more often than they fire; a heap entry
 * costs no host timer, and only a new earliest deadline re-arms the clock.
 */
import type { Clock, TimerHandle } from "./clock.ts";

/** Something with a deadline in the queue. Subclasses say what firing means. */
export abstract class TimerEntry {
  due = 0;
  seq = 0;
  heapIndex = -1;
  abstract fire(): void;
}

class CallbackEntry extends TimerEntry {
  constructor(private readonly fn: () => void) {
    super();
  }
  fire(): void {
    this.fn();
  }
}

export class TimerQueue {
  private heap: TimerEntry[] = [];
  private seq = 0;
  private armedDue = Number.POSITIVE_INFINITY;
  private armed: TimerHandle | undefined;
  private readonly onFire = () => this.fireDue();

  constructor(readonly clock: Clock) {}

  get size(): number {
    return this.heap.length;
  }

  /** Schedules `entry` to fire `delayMs` from now (re-scheduling it if already queued). */
  schedule(entry: TimerEntry, delayMs: number): void {
    this.scheduleAt(entry, this.clock.now() + Math.max(0, delayMs));
  }

  scheduleAt(entry: TimerEntry, due: number): void {
    if (entry.heapIndex >= 0) this.cancel(entry);
    entry.due = due;
    entry.seq = this.seq++;
    entry.heapIndex = this.heap.length;
    this.heap.push(entry);
    this.up(entry.heapIndex);
    if (due < this.armedDue) this.arm(due);
  }

  /** Runs `fn` after `delayMs`; returns the entry so it can be cancelled. */
  after(delayMs: number, fn: () => void): TimerEntry {
    const e = new CallbackEntry(fn);
    this.schedule(e, delayMs);
    return e;
  }

  cancel(entry: TimerEntry): void {
    const i = entry.heapIndex;
    if (i < 0) return;
    entry.heapIndex = -1;
    const last = this.heap.pop() as TimerEntry;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.heapIndex = i;
      this.up(i);
      this.down(last.heapIndex);
    }
    // The armed host timer is left in place: when it fires it simply re-arms for the new top.
  }

  dispose(): void {
    if (this.armed !== undefined) this.clock.clearTimeout(this.armed);
    this.armed = undefined;
    this.armedDue = Number.POSITIVE_INFINITY;
    for (const e of this.heap) e.heapIndex = -1;
    this.heap = [];
  }

  private arm(due: number): void {
    if (this.armed !== undefined) this.clock.clearTimeout(this.armed);
    this.armedDue = due;
    this.armed = this.clock.setTimeout(this.onFire, Math.max(0, due - this.clock.now()));
  }

  private fireDue(): void {
    this.armed = undefined;
    this.armedDue = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.due > now) break;
      this.cancel(top);
      top.fire();
    }
    const top = this.heap[0];
    if (top !== undefined && top.due < this.armedDue) this.arm(top.due);
  }

  private less(a: TimerEntry, b: TimerEntry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i] as TimerEntry;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pe = h[p] as TimerEntry;
      if (!this.less(e, pe)) break;
      h[i] = pe;
      pe.heapIndex = i;
      i = p;
    }
    h[i] = e;
    e.heapIndex = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    if (i < 0 || i >= n) return;
    const e = h[i] as TimerEntry;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.less(h[r] as TimerEntry, h[l] as TimerEntry) ? r : l;
      const ce = h[c] as TimerEntry;
      if (!this.less(ce, e)) break;
      h[i] = ce;
      ce.heapIndex = i;
      i = c;
    }
    h[i] = e;
    e.heapIndex = i;
  }
}
