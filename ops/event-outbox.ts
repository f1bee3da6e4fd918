/**
 * The ops runs' webhook events: the journal lines other features act on once they are committed.
 * A line that is one ({@link opsEventTypeOf}) gets a row in `ops_event_outbox` in the same
 * transaction as the line (./journal-sql.ts), so a run journaled just before a kill -9, or by an
 * `ops` process while no server ran, is still delivered. The server's webhooks feature reads the
 * rows with the line and its run ({@link OpsEventOutbox.take}), makes its deliveries idempotently
 * (one per endpoint and `<run id>:<seq>`), then removes them. ops/ only writes and offers the rows:
 * who receives them is the webhooks feature's business (app/features.ts joins the two).
 *
 * @example
 * const rows = await outbox.take(500); // [{ runId, seq, type: "ops_run_finished", playbook, at, stepId, data }]
 * await makeDeliveries(rows);          // idempotent per (endpoint, run, seq)
 * await outbox.remove(rows);
 */
import type { OpsWebhookEventType } from "../schemas/webhooks.ts";
import type { JournalEntry } from "./journal.ts";

/**
 * The webhook event a journal line is, or undefined when it is none: `run_started`,
 * `step_finished` of a step that failed, `approval_waiting`, `run_paused` and `run_finished` (its
 * data names the status: succeeded, failed or cancelled).
 *
 * @example opsEventTypeOf({ kind: "step_finished", data: { status: "failed" } }) // "ops_step_failed"
 */
export function opsEventTypeOf(entry: Pick<JournalEntry, "kind" | "data">): OpsWebhookEventType | undefined {
  switch (entry.kind) {
    case "run_started":
      return "ops_run_started";
    case "step_finished":
      return entry.data.status === "failed" ? "ops_step_failed" : undefined;
    case "approval_waiting":
      return "ops_approval_waiting";
    case "run_paused":
      return "ops_run_paused";
    case "run_finished":
      return "ops_run_finished";
    default:
      return undefined;
  }
}

/** One outbox row with the journal line it stands for and the run's playbook. */
export interface OpsOutboxEvent {
  runId: string;
  seq: number;
  type: OpsWebhookEventType;
  playbook: string;
  startedBy: string;
  /** Epoch milliseconds the line was journaled. */
  at: number;
  stepId: string | null;
  /** The line's data, secrets already replaced by "***". */
  data: Record<string, unknown>;
}

/**
 * A delivery's `data` for an ops event: the run, its playbook, the line's seq and step, then the
 * line's own fields (secrets were redacted before the line was written).
 *
 * @example opsEventData(row) // { run_id: "r-20261205-1a2b3c4d", playbook: "backup", seq: 9, step: null, started_by: "operator", status: "succeeded", error: null }
 */
export function opsEventData(row: OpsOutboxEvent): Record<string, unknown> {
  return {
    run_id: row.runId,
    playbook: row.playbook,
    seq: row.seq,
    step: row.stepId,
    started_by: row.startedBy,
    ...row.data,
  };
}

/** What the runbooks feature offers to those who act on its committed run events. */
export interface OpsEventOutbox {
  /** Up to `limit` rows, a run's in journal order (by run id, whose day comes first, then seq). */
  take(limit: number): Promise<OpsOutboxEvent[]>;
  /** Removes these rows (those already removed are ignored). */
  remove(rows: readonly Pick<OpsOutboxEvent, "runId" | "seq">[]): Promise<void>;
  /**
   * Calls `listener` after each commit of this process that held an outbox row, so a reader need
   * not poll to be prompt; returns the unsubscribe. Rows an `ops` process (or this one before a
   * crash) committed are only found by taking.
   */
  onCommitted(listener: () => void): () => void;
}
