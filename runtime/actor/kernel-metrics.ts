/**
 * Kernel counters kept as plain numbers on the hot path (a field increment per message or turn)
 * and pushed to prom-client by {@link KernelMetrics.flush} on a timer, at shutdown, or on demand.
 * Gauges move by deltas, so several actor systems in one process (tests) add up instead of
 * overwriting each other.
 */
import { metrics } from "../metrics.ts";
import type { DeadLetterOffice } from "./dead-letters.ts";

/** Counters for one actor kind. */
export class KindStats {
  alive = 0;
  /** Messages enqueued and not yet taken: the summed mailbox depth of the kind. */
  queued = 0;
  processed = 0;
  restarts = 0;
  private flushedAlive = 0;
  private flushedQueued = 0;
  private flushedProcessed = 0;
  private flushedRestarts = 0;

  constructor(readonly kind: string) {}

  flush(): void {
    const labels = { kind: this.kind };
    moveGauge(metrics.actorsAlive, labels, this.alive - this.flushedAlive);
    this.flushedAlive = this.alive;
    moveGauge(metrics.actorMailboxDepth, labels, this.queued - this.flushedQueued);
    this.flushedQueued = this.queued;
    const processed = this.processed - this.flushedProcessed;
    if (processed > 0) metrics.actorMessagesProcessed.inc(labels, processed);
    this.flushedProcessed = this.processed;
    const restarts = this.restarts - this.flushedRestarts;
    if (restarts > 0) metrics.actorRestarts.inc(labels, restarts);
    this.flushedRestarts = this.restarts;
  }
}

function moveGauge(gauge: typeof metrics.actorsAlive, labels: { kind: string }, delta: number): void {
  if (delta > 0) gauge.inc(labels, delta);
  else if (delta < 0) gauge.dec(labels, -delta);
}

/** System-wide counters that are not per kind. */
export interface KernelCounters {
  askTimeouts: number;
  lateReplies: number;
}

export class KernelMetrics {
  readonly kinds = new Map<string, KindStats>();
  readonly counters: KernelCounters = { askTimeouts: 0, lateReplies: 0 };
  private flushedAskTimeouts = 0;
  private flushedLateReplies = 0;

  stats(kind: string): KindStats {
    let s = this.kinds.get(kind);
    if (s === undefined) {
      s = new KindStats(kind);
      this.kinds.set(kind, s);
    }
    return s;
  }

  flush(deadLetters: DeadLetterOffice): void {
    for (const s of this.kinds.values()) s.flush();
    for (const [reason, n] of deadLetters.takeDeltas()) metrics.actorDeadLetters.inc({ reason }, n);
    const timeouts = this.counters.askTimeouts - this.flushedAskTimeouts;
    if (timeouts > 0) metrics.actorAskTimeouts.inc(timeouts);
    this.flushedAskTimeouts = this.counters.askTimeouts;
    const late = this.counters.lateReplies - this.flushedLateReplies;
    if (late > 0) metrics.actorLateReplies.inc(late);
    this.flushedLateReplies = this.counters.lateReplies;
  }
}
