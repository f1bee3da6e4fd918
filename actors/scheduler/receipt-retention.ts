/**
 * The receipt retention schedule: every ARAGORA_RECEIPT_CLEANUP_INTERVAL_HOURS, delete decision
 * receipts older than ARAGORA_RECEIPT_RETENTION_DAYS. Its status document is the runbook's
 * (`GET /api/admin/schedulers/receipt-retention/status`), built from the schedule's persisted
 * totals, so the stats survive restarts.
 *
 * @example
 * const def = receiptRetentionSchedule({ receipts: debateStore, retentionDays: 2555, intervalHours: 24 });
 * receiptRetentionStatus(def, status, { retentionDays: 2555, intervalHours: 24 });
 * // { running: true, interval_hours: 24, retention_days: 2555, stats: { total_runs: 5, ... } }
 */
import { metrics } from "../../runtime/metrics.ts";
import type { DebateStore } from "../debate/debate-store.ts";
import type { ScheduleDefinition, ScheduleStatus } from "./scheduler-actor.ts";

export const RECEIPT_RETENTION = "receipt-retention";
const DAY_MS = 86_400_000;

export interface ReceiptRetentionOptions {
  /** Where the receipts are: the debate store owns them and prunes them. */
  receipts: Pick<DebateStore, "deleteReceiptsBefore">;
  retentionDays: number;
  intervalHours: number;
  now?: () => Date;
}

/** The schedule definition; a run reports the receipts it deleted as its items. */
export function receiptRetentionSchedule(options: ReceiptRetentionOptions): ScheduleDefinition {
  const now = options.now ?? (() => new Date());
  return {
    name: RECEIPT_RETENTION,
    description: `delete decision receipts older than ${options.retentionDays} days`,
    timing: { everyMs: options.intervalHours * 3_600_000 },
    // Retention is idempotent and cheap: catching up once after downtime is right.
    missed: "run_once",
    async job() {
      const started = performance.now();
      try {
        const cutoff = new Date(now().getTime() - options.retentionDays * DAY_MS);
        const deleted = await options.receipts.deleteReceiptsBefore(cutoff);
        metrics.receiptCleanups.inc({ status: "success" });
        metrics.receiptsDeleted.inc(deleted);
        return { items: deleted, summary: `deleted ${deleted} receipt(s) created before ${cutoff.toISOString()}` };
      } catch (err) {
        metrics.receiptCleanups.inc({ status: "failure" });
        throw err;
      } finally {
        metrics.receiptCleanupDuration.observe((performance.now() - started) / 1000);
      }
    },
  };
}

/** The runbook's status document for the receipt retention scheduler. */
export function receiptRetentionStatus(
  status: ScheduleStatus | undefined,
  options: { retentionDays: number; intervalHours: number },
) {
  const runs = status?.stats.runs ?? 0;
  const failures = status?.stats.failures ?? 0;
  return {
    running: status !== undefined,
    interval_hours: options.intervalHours,
    retention_days: options.retentionDays,
    stats: {
      total_runs: runs,
      total_receipts_deleted: status?.stats.items ?? 0,
      failures,
      success_rate: runs === 0 ? 1.0 : (runs - failures) / runs,
    },
    next_run_at: status?.next_run_at ?? null,
    last_run: status?.last_run ?? null,
  };
}
