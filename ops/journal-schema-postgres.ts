/**
 * The ops journal for PostgreSQL: one row per playbook run (`ops_runs`), one per step (`ops_steps`),
 * the append-only journal of every step start, attempt, output and end (`ops_journal`), and the
 * approvals recorded for gates (`ops_approvals`). Written by the runbook interpreter before a run
 * moves on, so a crashed run resumes where it stopped. Instants are epoch
 * milliseconds (bigint) in both dialects, so the repository code is shared. Keep in agreement with ./journal-schema-sqlite.ts.
 *
 * @example
 * import { opsRuns } from "./journal-schema-postgres.ts";
 * db.select().from(opsRuns).where(eq(opsRuns.status, "running"));
 */
import { bigint, index, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";

export const opsRuns = pgTable(
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
    createdAt: bigint("created_at", { mode: "number" }).notNull(),
    heartbeatAt: bigint("heartbeat_at", { mode: "number" }).notNull(),
    finishedAt: bigint("finished_at", { mode: "number" }),
    currentStep: text("current_step"),
    error: text("error"),
    cancelRequested: integer("cancel_requested").notNull().default(0),
    decision: text("decision"),
  },
  (t) => [index("ops_runs_created_at_idx").on(t.createdAt)],
);

export const opsSteps = pgTable(
  "ops_steps",
  {
    runId: text("run_id").notNull(),
    stepId: text("step_id").notNull(),
    idx: integer("idx").notNull(),
    action: text("action").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull(),
    idempotent: integer("idempotent").notNull(),
    startedAt: bigint("started_at", { mode: "number" }),
    finishedAt: bigint("finished_at", { mode: "number" }),
    outputs: text("outputs"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepId] })],
);

export const opsJournal = pgTable(
  "ops_journal",
  {
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    at: bigint("at", { mode: "number" }).notNull(),
    stepId: text("step_id"),
    kind: text("kind").notNull(),
    data: text("data").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);

export const opsApprovals = pgTable(
  "ops_approvals",
  {
    runId: text("run_id").notNull(),
    stepId: text("step_id").notNull(),
    approver: text("approver").notNull(),
    roles: text("roles").notNull(),
    at: bigint("at", { mode: "number" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.stepId, t.approver] })],
);

/**
 * The journal lines that are webhook events of the operator (./event-outbox.ts), written in
 * the same transaction as the line and removed once the webhooks feature made their deliveries.
 */
export const opsEventOutbox = pgTable(
  "ops_event_outbox",
  {
    runId: text("run_id").notNull(),
    seq: integer("seq").notNull(),
    type: text("type").notNull(),
  },
  (t) => [primaryKey({ columns: [t.runId, t.seq] })],
);
