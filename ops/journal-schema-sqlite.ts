/**
 * The ops journal for SQLite: one row per playbook run (`ops_runs`), one per step (`ops_steps`),
 * the append-only journal of every step start, attempt, output and end (`ops_journal`), and the
 * approvals recorded for gates (`ops_approvals`). Written by the runbook interpreter before a run
 * moves on, so a crashed run resumes where it stopped. Keep in agreement with ./journal-schema-postgres.ts.
 *
 * @example
 * import { opsRuns } from "./journal-schema-sqlite.ts";
 * db.select().from(opsRuns).where(eq(opsRuns.status, "running"));
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const opsRuns = sqliteTable(
  "ops_runs",
  {
    id: text("id").primaryKey(),
    playbook: text("playbook").notNull(),
    file: text("file").notNull(),
    // The playbook text as run, so a resume executes exactly what was started.
    source: text("source").notNull(),
    // JSON, secrets replaced by "***".
    params: text("params").notNull(),
    status: text("status").notNull(),
    startedBy: text("started_by").notNull(),
    // JSON {pid, host, node_id?}: who executes the run, to tell a live run from an orphaned one.
    executor: text("executor").notNull(),
    createdAt: integer("created_at").notNull(),
    heartbeatAt: integer("heartbeat_at").notNull(),
    finishedAt: integer("finished_at"),
    currentStep: text("current_step"),
    error: text("error"),
    cancelRequested: integer("cancel_requested").notNull().default(0),
    decision: text("decision"),
  },
  (t) => [index("ops_runs_created_at_idx").on(t.createdAt)],
);

export const opsSteps = sqliteTable(
  "ops_steps",
  {
    runId: text("run_id").notNull(),
    stepId: text("step_id").notNull(),
    idx: integer("idx").notNull(),
    action: text("action").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull(),
    idempotent: integer("idempotent").notNull(),
    startedAt: integer("started_at"),
    finishedAt: integer("finished_at"),
    outputs: text("outputs"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepId] })],
);

export const opsJournal = sqliteTable(
  "ops_journal",
  {
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    at: integer("at").notNull(),
    stepId: text("step_id"),
    kind: text("kind").notNull(),
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

export const opsApprovals = sqliteTable(
  "ops_approvals",
  {
    runId: text("run_id").notNull(),
    stepId: text("step_id").notNull(),
    approver: text("approver").notNull(),
    roles: text("roles").notNull(),
    at: integer("at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepId, t.approver] })],
);

/**
 * The journal lines that are webhook events of the operator (`run_started`, a failed
 * `step_finished`, `approval_waiting`, `run_paused`, `run_finished`: ./event-outbox.ts), one
 * row each, written in the same transaction as the line: the server's webhooks feature turns each
 * into deliveries and then removes it, so a run journaled by `ops` while no server ran, or just
 * before a crash, still reaches its receivers. The line itself holds the data.
 */
export const opsEventOutbox = sqliteTable(
  "ops_event_outbox",
  {
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);
