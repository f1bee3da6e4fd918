/**
 * HTTP shapes of the schedulers' admin API (actors/scheduler/routes.ts).
 *
 * @example
 * SchedulersResponse({ schedulers: [] });
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

const LastRun = lazy(() =>
  type({
    started_at: "string | null",
    finished_at: "string | null",
    outcome: "'succeeded' | 'failed' | 'skipped' | 'missed' | null",
    error: "string | null",
    duration_ms: "number | null",
  }),
);

export const ScheduleStatusBody = lazy(() =>
  type({
    name: "string",
    description: "string",
    schedule: "string",
    missed_policy: "'run_once' | 'skip'",
    running: "boolean",
    running_since: "string | null",
    next_run_at: "string | null",
    last_run: LastRun.or("null"),
    stats: { runs: "number", failures: "number", items: "number" },
  }),
);

export const SchedulersResponse = lazy(() => type({ schedulers: ScheduleStatusBody.array() }));

export const ScheduleParams = lazy(() => type({ name: /^[a-z][a-z0-9-]{0,63}$/ }));

export const RunNowResponse = lazy(() =>
  type({
    started: "boolean",
    "reason?": "string",
    "outcome?": "'succeeded' | 'failed' | 'skipped' | 'missed'",
    "error?": "string | null",
    "result?": { "items?": "number", "summary?": "string" },
  }),
);

export const ReceiptRetentionStatus = lazy(() =>
  type({
    running: "boolean",
    interval_hours: "number",
    retention_days: "number",
    stats: { total_runs: "number", total_receipts_deleted: "number", failures: "number", success_rate: "number" },
    next_run_at: "string | null",
    last_run: LastRun.or("null"),
  }),
);

export const ReceiptCleanupResponse = lazy(() =>
  type({
    status: "'completed' | 'failed'",
    receipts_deleted: "number",
    error: "string | null",
  }),
);
