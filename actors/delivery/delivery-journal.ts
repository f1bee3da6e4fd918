/**
 * Writes what the target actors (./target-actor.ts) do to the ledger, group-committed: every attempt recorded and
 * every delivery marked IN_PROGRESS within one turn of the event loop goes in one transaction
 * (a thousand targets sending at once would otherwise be a thousand commits), in the order they
 * were asked for, one batch at a time, so a delivery's IN_PROGRESS never lands after its outcome.
 * A batch that fails is written again record by record: one record that cannot be written (its
 * endpoint was just deleted) fails only its own promise.
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
  | { kind: "attempt"; record: AttemptRecord; resolve: () => void; reject: (err: unknown) => void };

export class DeliveryJournal {
  private pending: Entry[] = [];
  private running: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly store: Pick<DeliveryStore, "recordAttempts">,
    private readonly log: Logger,
  ) {}

  /** Marks a delivery IN_PROGRESS in the next batch; a failure is only logged (the state is informative). */
  markInProgress(id: string, at: Date): void {
    this.pending.push({ kind: "in_progress", id, at });
    this.schedule();
  }

  /** Records an attempt and its delivery's next state; resolves once committed. */
  record(record: AttemptRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
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
    const marks = batch.filter((e) => e.kind === "in_progress");
    const attempts = batch.filter((e) => e.kind === "attempt");
    const inProgress =
      marks.length === 0 ? undefined : { ids: marks.map((m) => m.id), at: marks[marks.length - 1]?.at ?? new Date() };
    try {
      await this.store.recordAttempts(
        attempts.map((a) => a.record),
        inProgress,
      );
      for (const a of attempts) a.resolve();
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
        await this.store.recordAttempts([a.record]);
        a.resolve();
      } catch (err) {
        a.reject(err);
      }
    }
  }
}
