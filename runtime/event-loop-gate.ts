/**
 * Lets waiters through one per turn of the event loop. Many continuations released at once (a
 * group commit resolving the writes of a thousand debates, a thousand requests creating debates
 * in one burst) would otherwise each run their next stretch of work in the same macrotask: a
 * thousand receipts signed back to back held the event loop for tens of milliseconds, and every
 * timer, socket and request waited. Passing the gate first spreads that work over the loop's
 * turns, with timers and I/O between them; each waiter costs one setImmediate hop.
 *
 * @example
 * const gate = new EventLoopGate();
 * await gate.pass(); // now alone in this turn of the loop
 * const doc = issueReceipt(input, key);
 */
import { RingQueue } from "./actor/ring-queue.ts";

export class EventLoopGate {
  private readonly waiting = new RingQueue<() => void>(64);
  private scheduled = false;
  private readonly release = () => {
    this.waiting.shift()?.();
    if (this.waiting.size > 0) setImmediate(this.release);
    else this.scheduled = false;
  };

  /** Resolves in a turn of the event loop of its own. @example await gate.pass() */
  pass(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.release);
      }
    });
  }

  /** Waiters not let through yet. */
  get waiters(): number {
    return this.waiting.size;
  }
}
