/**
 * Writes what the target actors (./target-actor.ts) do to the ledger, group-committed: every attempt recorded and
 * every delivery marked IN_PROGRESS within one turn of the event loop goes in one transaction
 * (a thousand targets sending at once would otherwise be a thousand commits), in the order they
 * were asked for, one batch at a time, so a delivery's IN_PROGRESS never lands after its outcome.
 * A batch that fails is written again record by record: one record that cannot be written (its
 * endpoint was just deleted) fails only its own promise.
 *
 * IN_PROGRESS is written only for an attempt still in flight {@link MARK_AFTER_MS} after it
 * started: most attempts have their outcome by then, and the outcome's write makes the marking's
 * unnecessary (at thousands of deliveries a second it was a third of the ledger's writes). The
 * state is informative only: PENDING and IN_PROGRESS are both open, loaded again after a crash and
 * sent again with the same delivery id; what a reader sees is an attempt that takes a while.
 *
 * @example
 * const journal = new DeliveryJournal(store, log);
 * journal.markInProgress("dlv-1", new Date());
 * await journal.record({ deliveryId: "dlv-1", attempt: 1, state: "DELIVERED", ... });
 */
import type { Logger } from "../../runtime/log.ts";
import type { AttemptRecord, DeliveryStore } from "./delivery-store.ts";

type Entry =
  | { kind: "in_progress"; id: string; at: Date }
  | { kind: "attempt"; record: AttemptRecord; resolve: (written: boolean) => void; reject: (err: unknown) => void };

/** How long an attempt is in flight before its delivery is marked IN_PROGRESS (see the module's comment). */
export const MARK_AFTER_MS = 250;

export class DeliveryJournal {
  private pending: Entry[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;
  /** Markings not yet due, oldest first, with when they were asked for (monotonic ms). */
  private readonly unmarked = new Map<string, { at: Date; since: number }>();
  private sweep: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly store: Pick<DeliveryStore, "recordAttempts">,
    private readonly log: Logger,
  ) {}

  /**
   * Marks a delivery IN_PROGRESS (as of `at`) if its attempt's outcome is not recorded within
   * {@link MARK_AFTER_MS}; a failure is only logged (the state is informative).
   */
  markInProgress(id: string, at: Date): void {
    // Deleted first: a delivery marked again (its attempt was fenced) goes to the end, in order.
    this.unmarked.delete(id);
    this.unmarked.set(id, { at, since: performance.now() });
    this.sweep ??= setTimeout(() => this.markDue(), MARK_AFTER_MS);
  }

  /**
   * Records an attempt and its delivery's next state; resolves once committed: true, or false when
   * nothing was written because the node no longer holds the lease the attempt began under
   * (`record.lease`, several nodes: see DeliveryStore.recordAttempts).
   */
  record(record: AttemptRecord): Promise<boolean> {
    // The outcome supersedes a marking not yet written.
    this.unmarked.delete(record.deliveryId);
    return new Promise<boolean>((resolve, reject) => {
      this.pending.push({ kind: "attempt", record, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything asked for so far is written (or has failed). */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.running !== undefined) {
      if (this.running === undefined) this.run();
      await this.running;
    }
  }

  /** Stops marking: what was not yet due is dropped (the feature is stopping; its attempts are abandoned). */
  stop(): void {
    clearTimeout(this.sweep);
    this.sweep = undefined;
    this.unmarked.clear();
  }

  /** Hands the markings that are due to the next batch, and waits for the next to fall due. */
  private markDue(): void {
    this.sweep = undefined;
    const now = performance.now();
    for (const [id, m] of this.unmarked) {
      const wait = m.since + MARK_AFTER_MS - now;
      if (wait > 0) {
        this.sweep = setTimeout(() => this.markDue(), wait);
        break;
      }
      this.unmarked.delete(id);
      this.pending.push({ kind: "in_progress", id, at: m.at });
    }
    if (this.pending.length > 0) this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.running !== undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === undefined) this.run();
    });
  }

  private run(): void {
    this.running = (async () => {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        await this.write(batch);
      }
    })().finally(() => {
      this.running = undefined;
    });
  }

  private async write(batch: Entry[]): Promise<void> {
    // The markings go first, in one statement, and the attempts after them, all in one
    // transaction: a batch is one commit.
    // A marking followed in the same batch by its delivery's outcome is left out: the outcome
    // lands in the same transaction, so no reader could ever see the IN_PROGRESS it wrote.
    const settled = new Set<string>();
    const marks: Extract<Entry, { kind: "in_progress" }>[] = [];
    const attempts: Extract<Entry, { kind: "attempt" }>[] = [];
    for (let i = batch.length - 1; i >= 0; i--) {
      const e = batch[i] as Entry;
      if (e.kind === "attempt") {
        attempts.push(e);
        settled.add(e.record.deliveryId);
      } else if (!settled.has(e.id)) marks.push(e);
    }
    marks.reverse();
    attempts.reverse();
    const inProgress =
      marks.length === 0 ? undefined : { ids: marks.map((m) => m.id), at: marks[marks.length - 1]?.at ?? new Date() };
    try {
      const fenced = await this.store.recordAttempts(
        attempts.map((a) => a.record),
        inProgress,
      );
      for (const a of attempts) a.resolve(!fenced.has(a.record.deliveryId));
      return;
    } catch (err) {
      if (attempts.length === 0) {
        this.log.warn({ err, deliveries: marks.length }, "could not mark deliveries in progress");
        return;
      }
    }
    // The batch failed: the markings on their own, then each attempt on its own, so one record
    // that cannot be written fails only its own promise.
    if (inProgress !== undefined) {
      try {
        await this.store.recordAttempts([], inProgress);
      } catch (err) {
        this.log.warn({ err, deliveries: marks.length }, "could not mark deliveries in progress");
      }
    }
    for (const a of attempts) {
      try {
        const fenced = await this.store.recordAttempts([a.record]);
        a.resolve(!fenced.has(a.record.deliveryId));
      } catch (err) {
        a.reject(err);
      }
    }
  }
}
