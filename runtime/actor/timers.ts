/**
 * Per-actor timers, keyed like Akka's TimerScheduler: starting a key replaces its previous timer,
 * and every timer dies with the incarnation that started it (stop or restart), including a tick
 * already sitting in the mailbox, which is skipped at delivery.
 */
import type { Sender } from "./actor-ref.ts";
import type { ActorCell } from "./cell.ts";
import { TimerEntry } from "./timer-queue.ts";

/** Marks a mailbox slot whose message is an {@link ActorTimer} rather than a user message. */
export const TIMER_SENDER: Sender = { tell() {}, path: "/temp/timer" };

export class ActorTimer extends TimerEntry {
  cancelled = false;
  constructor(
    readonly owner: ActorCell,
    readonly key: string,
    readonly msg: unknown,
    readonly intervalMs: number,
  ) {
    super();
  }

  fire(): void {
    if (this.cancelled) return;
    const owner = this.owner;
    if (this.intervalMs > 0) {
      // Fixed rate, but never a burst of catch-up ticks after a stall.
      const queue = owner.system.timers;
      const now = queue.clock.now();
      const next = this.due + this.intervalMs;
      queue.scheduleAt(this, next > now ? next : now + this.intervalMs);
    }
    owner.enqueue(this, TIMER_SENDER);
  }
}

/**
 * The timers of one actor, from `ctx.timers`. Each delivers a message to the actor itself.
 *
 * @example
 * preStart(state, ctx) { ctx.timers.startRepeating("heartbeat", { type: "beat" }, 1000); }
 */
export class ActorTimers<M> {
  private readonly byKey = new Map<string, ActorTimer>();

  constructor(private readonly cell: ActorCell) {}

  /**
   * Delivers `msg` once after `delayMs`, replacing any timer with the same key.
   *
   * @example
   * ctx.timers.startSingle("deadline", { type: "round_timeout" }, 30_000);
   */
  startSingle(key: string, msg: M, delayMs: number): void {
    this.start(key, msg, delayMs, 0);
  }

  /**
   * Delivers `msg` every `intervalMs`, replacing any timer with the same key.
   *
   * @example
   * ctx.timers.startRepeating("poll", { type: "poll" }, 5_000);
   */
  startRepeating(key: string, msg: M, intervalMs: number): void {
    if (!(intervalMs > 0)) throw new RangeError("intervalMs must be > 0");
    this.start(key, msg, intervalMs, intervalMs);
  }

  /** @example ctx.timers.cancel("deadline"); */
  cancel(key: string): void {
    const t = this.byKey.get(key);
    if (t === undefined) return;
    this.byKey.delete(key);
    t.cancelled = true;
    this.cell.system.timers.cancel(t);
  }

  /** @example if (!ctx.timers.isActive("poll")) ctx.timers.startRepeating("poll", msg, 1000); */
  isActive(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Number of active timers. @example expect(ctx.timers.size).toBe(0); */
  get size(): number {
    return this.byKey.size;
  }

  /** @example ctx.timers.cancelAll(); */
  cancelAll(): void {
    const queue = this.cell.system.timers;
    for (const t of this.byKey.values()) {
      t.cancelled = true;
      queue.cancel(t);
    }
    this.byKey.clear();
  }

  /** Called at delivery: a single-shot timer is no longer active once its message is handled. */
  delivered(t: ActorTimer): void {
    if (t.intervalMs === 0 && this.byKey.get(t.key) === t) this.byKey.delete(t.key);
  }

  private start(key: string, msg: M, delayMs: number, intervalMs: number): void {
    this.cancel(key);
    const t = new ActorTimer(this.cell, key, msg, intervalMs);
    this.byKey.set(key, t);
    this.cell.system.timers.schedule(t, delayMs);
  }
}
