/**
 * The run queue of actors with messages. Actors take turns of at most `throughput` messages;
 * the loop runs while there is work, but never holds the event loop longer than `sliceMs`:
 * past that it yields with setImmediate, a macrotask, so timers and I/O run under any flood.
 * The slice is measured across microtask-started runs too (a chain of asks or async handlers
 * never reaches the event loop on its own), and closed only when a macrotask really ran.
 */
import type { ActorCell } from "./cell.ts";
import { RingQueue } from "./ring-queue.ts";

export interface SchedulerOptions {
  /** Messages one actor handles per turn before the next actor runs. */
  throughput: number;
  /** Longest stretch of kernel work before yielding to the event loop. */
  sliceMs: number;
}

// Reading the time costs ~45 ns; look at it once per this many messages.
const CHECK_EVERY = 64;

export class Scheduler {
  private readonly queue = new RingQueue<ActorCell>(256);
  private pending = false;
  private running = false;
  private sliceOpen = false;
  private sliceStart = 0;
  private readonly throughput: number;
  private readonly sliceMs: number;
  private readonly runBound = () => this.run();
  private readonly closeSlice = () => {
    this.sliceOpen = false;
  };

  constructor(options: SchedulerOptions) {
    this.throughput = options.throughput;
    this.sliceMs = options.sliceMs;
  }

  /** True when no actor is waiting to run. */
  get idle(): boolean {
    return this.queue.size === 0 && !this.running;
  }

  enqueue(cell: ActorCell): void {
    this.queue.push(cell);
    if (!this.pending && !this.running) {
      this.pending = true;
      queueMicrotask(this.runBound);
    }
  }

  private run(): void {
    this.pending = false;
    const start = performance.now();
    if (!this.sliceOpen) {
      this.sliceOpen = true;
      this.sliceStart = start;
      setImmediate(this.closeSlice);
    } else if (start - this.sliceStart >= this.sliceMs) {
      this.yieldToEventLoop();
      return;
    }
    this.running = true;
    const queue = this.queue;
    const throughput = this.throughput;
    let untilCheck = CHECK_EVERY;
    try {
      while (queue.size > 0) {
        const cell = queue.shift() as ActorCell;
        const n = cell.runTurn(throughput);
        untilCheck -= n > 0 ? n : 1;
        if (untilCheck <= 0) {
          untilCheck = CHECK_EVERY;
          if (performance.now() - this.sliceStart >= this.sliceMs) {
            if (queue.size > 0) this.yieldToEventLoop();
            break;
          }
        }
      }
    } finally {
      this.running = false;
    }
  }

  private yieldToEventLoop(): void {
    this.pending = true;
    // closeSlice was queued before us, so the next run starts a fresh slice.
    setImmediate(this.runBound);
  }
}
