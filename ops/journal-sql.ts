/**
 * {@link OpsJournal} on the database, one implementation for both dialects on drizzle's query
 * builder through a {@link Repo} (the repository style of runtime/store/repo.ts). The tables are in
 * ./journal-schema-{sqlite,postgres}.ts and created by the shared migrations; this module only
 * reads and writes rows. Each record is one transaction: the journal line, the step's row, the
 * run's patch and, when the line is a webhook event, its outbox row (./event-outbox.ts) are
 * durable together or not at all.
 *
 * @example
 * const journal = await openOpsJournal(store); // same database as the store, own connection
 * await journal.listRuns({ limit: 20 });
 * await journal.close();
 */
import { and, desc, eq, getTableColumns, gt, inArray, or } from "drizzle-orm";
import { dialectTables, type Prepared, type Repo, type RepoDb, slotsAsValues } from "../runtime/store/repo.ts";
import type { Store } from "../runtime/store/store.ts";
import { type OpsEventOutbox, type OpsOutboxEvent, opsEventTypeOf } from "./event-outbox.ts";
import type { ApprovalRow, JournalEntry, OpsJournal, RunPatch, RunRecord, RunStatus, StepRecord } from "./journal.ts";
import * as postgres from "./journal-schema-postgres.ts";
import * as sqlite from "./journal-schema-sqlite.ts";

/** The journal's tables in each dialect. */
export const journalTables = dialectTables({
  sqlite: {
    runs: sqlite.opsRuns,
    steps: sqlite.opsSteps,
    lines: sqlite.opsJournal,
    approvals: sqlite.opsApprovals,
    outbox: sqlite.opsEventOutbox,
  },
  postgres: {
    runs: postgres.opsRuns,
    steps: postgres.opsSteps,
    lines: postgres.opsJournal,
    approvals: postgres.opsApprovals,
    outbox: postgres.opsEventOutbox,
  },
});

type Tables = typeof journalTables.postgres;
type RunRow = Tables["runs"]["$inferSelect"];
type StepRow = Tables["steps"]["$inferSelect"];

/**
 * Open the journal on the same database as `store`, with its own connection (SQLite in WAL lets
 * several connections and processes share the file) or its own pool of two (PostgreSQL).
 */
export async function openOpsJournal(store: Pick<Store, "openRepo">): Promise<SqlOpsJournal> {
  return new SqlOpsJournal(await store.openRepo(journalTables, { name: "ops journal", maxConnections: 2 }));
}

function runRow(run: RunRecord): RunRow {
  return {
    id: run.id,
    playbook: run.playbook,
    file: run.file,
    source: run.source,
    params: JSON.stringify(run.params),
    status: run.status,
    startedBy: run.startedBy,
    executor: JSON.stringify(run.executor),
    createdAt: run.createdAt,
    heartbeatAt: run.heartbeatAt,
    finishedAt: run.finishedAt,
    currentStep: run.currentStep,
    error: run.error,
    cancelRequested: run.cancelRequested ? 1 : 0,
    decision: run.decision,
  };
}

function toRun(r: RunRow): RunRecord {
  return {
    id: r.id,
    playbook: r.playbook,
    file: r.file,
    source: r.source,
    params: JSON.parse(r.params),
    status: r.status as RunStatus,
    dryRun: false,
    startedBy: r.startedBy,
    executor: JSON.parse(r.executor),
    createdAt: r.createdAt,
    heartbeatAt: r.heartbeatAt,
    finishedAt: r.finishedAt,
    currentStep: r.currentStep,
    error: r.error,
    cancelRequested: r.cancelRequested === 1,
    decision: r.decision as RunRecord["decision"],
  };
}

/** The columns a patch sets; undefined fields are left alone. */
function patchColumns(patch: RunPatch): Partial<RunRow> {
  const set: Partial<RunRow> = {};
  if (patch.status !== undefined) set.status = patch.status;
  if (patch.heartbeatAt !== undefined) set.heartbeatAt = patch.heartbeatAt;
  if (patch.finishedAt !== undefined) set.finishedAt = patch.finishedAt;
  if (patch.currentStep !== undefined) set.currentStep = patch.currentStep;
  if (patch.error !== undefined) set.error = patch.error;
  if (patch.cancelRequested !== undefined) set.cancelRequested = patch.cancelRequested ? 1 : 0;
  if (patch.decision !== undefined) set.decision = patch.decision;
  if (patch.executor !== undefined) set.executor = JSON.stringify(patch.executor);
  return set;
}

function stepRow(runId: string, step: StepRecord): StepRow {
  return {
    runId,
    stepId: step.stepId,
    idx: step.index,
    action: step.action,
    status: step.status,
    attempts: step.attempts,
    idempotent: step.idempotent ? 1 : 0,
    startedAt: step.startedAt,
    finishedAt: step.finishedAt,
    outputs: step.outputs === null ? null : JSON.stringify(step.outputs),
    error: step.error,
  };
}

function toStep(r: StepRow): StepRecord {
  return {
    runId: r.runId,
    stepId: r.stepId,
    index: r.idx,
    action: r.action,
    status: r.status as StepRecord["status"],
    attempts: r.attempts,
    idempotent: r.idempotent === 1,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    outputs: r.outputs === null ? null : JSON.parse(r.outputs),
    error: r.error,
  };
}

type RunColumns = Tables["runs"]["_"]["columns"];
/** The columns a run's patch may set. */
type PatchColumns = Omit<RunColumns, "id">;
type LineRow = Tables["lines"]["$inferSelect"];
type OutboxRow = Tables["outbox"]["$inferSelect"];

/** The journal on the database; see {@link openOpsJournal}. */
export class SqlOpsJournal implements OpsJournal {
  private readonly t: Tables;
  /** The statements of {@link record}, each built once: building one with drizzle costs more than SQLite takes to run it. */
  private readonly addLine: Prepared<LineRow, unknown>;
  private readonly saveStep: Prepared<StepRow, unknown>;
  private readonly addOutbox: Prepared<OutboxRow, unknown>;
  /** Told after a commit of this process that wrote an outbox row ({@link OpsEventOutbox.onCommitted}). */
  private readonly committed = new Set<() => void>();
  /** The UPDATE of a run for each set of columns a patch sets (a handful: heartbeat, current step, finish, ...). */
  private readonly patches = new Map<string, Prepared<Partial<RunRow> & { id: string }, unknown>>();

  constructor(private readonly repo: Repo<Tables>) {
    this.t = repo.tables;
    const { lines, steps } = this.t;
    this.addLine = repo.prepare(getTableColumns(lines), (db, line) => db.insert(lines).values(line));
    const { outbox } = this.t;
    this.addOutbox = repo.prepare(getTableColumns(outbox), (db, row) => db.insert(outbox).values(row));
    this.saveStep = repo.prepare(getTableColumns(steps), (db, step) => {
      const { runId: _, stepId: __, ...columns } = step;
      return db
        .insert(steps)
        .values(step)
        .onConflictDoUpdate({ target: [steps.runId, steps.stepId], set: slotsAsValues(columns) });
    });
  }

  async createRun(run: RunRecord): Promise<void> {
    await this.repo.write((db) => db.insert(this.t.runs).values(runRow(run)));
  }

  async record(runId: string, entry: JournalEntry, step?: StepRecord, run?: RunPatch): Promise<void> {
    const event = opsEventTypeOf(entry);
    await this.repo.transaction((tx) => {
      const statements: PromiseLike<unknown>[] = [
        this.addLine.on(tx, {
          runId,
          seq: entry.seq,
          at: entry.at,
          stepId: entry.stepId,
          kind: entry.kind,
          data: JSON.stringify(entry.data),
        }),
      ];
      // A webhook event is in the outbox exactly when its line is in the journal: one transaction.
      if (event) statements.push(this.addOutbox.on(tx, { runId, seq: entry.seq, type: event }));
      if (step) statements.push(this.saveStep.on(tx, stepRow(runId, step)));
      const patch = run && this.patch(tx, runId, run);
      if (patch) statements.push(patch);
      return statements;
    });
    if (event) {
      // The line is committed: a listener's failure (a fan-out not running) must not fail the record.
      for (const listener of this.committed) {
        try {
          listener();
        } catch {
          // The fan-out's poll finds the row all the same.
        }
      }
    }
  }

  /**
   * The run events' outbox (./event-outbox.ts), on this journal's connection: the server's
   * webhooks feature reads and empties it.
   */
  readonly outbox: OpsEventOutbox = {
    take: (limit) => this.outboxTake(limit),
    remove: (rows) => this.outboxRemove(rows),
    onCommitted: (listener) => {
      this.committed.add(listener);
      return () => this.committed.delete(listener);
    },
  };

  private async outboxTake(limit: number): Promise<OpsOutboxEvent[]> {
    const { outbox, lines, runs } = this.t;
    const rows = await this.repo.read((db) =>
      db
        .select({
          runId: outbox.runId,
          seq: outbox.seq,
          type: outbox.type,
          playbook: runs.playbook,
          startedBy: runs.startedBy,
          at: lines.at,
          stepId: lines.stepId,
          data: lines.data,
        })
        .from(outbox)
        .innerJoin(lines, and(eq(lines.runId, outbox.runId), eq(lines.seq, outbox.seq)))
        .innerJoin(runs, eq(runs.id, outbox.runId))
        .orderBy(outbox.runId, outbox.seq)
        .limit(limit),
    );
    return rows.map((r) => ({ ...r, type: r.type as OpsOutboxEvent["type"], data: JSON.parse(r.data) }));
  }

  private async outboxRemove(rows: readonly Pick<OpsOutboxEvent, "runId" | "seq">[]): Promise<void> {
    if (rows.length === 0) return;
    const { outbox } = this.t;
    const seqs = new Map<string, number[]>();
    for (const r of rows) {
      const list = seqs.get(r.runId);
      if (list) list.push(r.seq);
      else seqs.set(r.runId, [r.seq]);
    }
    const which = [...seqs].map(([runId, list]) => and(eq(outbox.runId, runId), inArray(outbox.seq, list)));
    await this.repo.write((db) => db.delete(outbox).where(or(...which)));
  }

  /** The UPDATE of a run's patch; undefined when the patch sets nothing. */
  private patch(db: RepoDb, runId: string, patch: RunPatch): PromiseLike<unknown> | undefined {
    const set = patchColumns(patch);
    const names = Object.keys(set) as (keyof PatchColumns)[];
    if (names.length === 0) return undefined;
    const key = names.join(",");
    let statement = this.patches.get(key);
    if (!statement) {
      const { runs } = this.t;
      const columns: Partial<RunColumns> = { id: runs.id };
      for (const name of names) columns[name] = runs[name] as never;
      statement = this.repo.prepare(columns as Pick<RunColumns, "id">, (tx, { id, ...values }) =>
        tx.update(runs).set(slotsAsValues(values)).where(eq(runs.id, id)),
      );
      this.patches.set(key, statement);
    }
    return statement.on(db, { ...set, id: runId });
  }

  async updateRun(runId: string, patch: RunPatch): Promise<void> {
    await this.repo.write(async (db) => this.patch(db, runId, patch));
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const { runs } = this.t;
    const [row] = await this.repo.read((db) => db.select().from(runs).where(eq(runs.id, runId)));
    return row && toRun(row);
  }

  async listRuns(options: { limit?: number; status?: RunStatus } = {}): Promise<RunRecord[]> {
    const { runs } = this.t;
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(runs)
        .where(options.status === undefined ? undefined : eq(runs.status, options.status))
        .orderBy(desc(runs.createdAt), runs.id)
        .limit(options.limit ?? 50),
    );
    return rows.map(toRun);
  }

  async steps(runId: string): Promise<StepRecord[]> {
    const { steps } = this.t;
    const rows = await this.repo.read((db) => db.select().from(steps).where(eq(steps.runId, runId)).orderBy(steps.idx));
    return rows.map(toStep);
  }

  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    const { lines } = this.t;
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(lines)
        .where(and(eq(lines.runId, runId), gt(lines.seq, afterSeq)))
        .orderBy(lines.seq),
    );
    return rows.map((r) => ({ seq: r.seq, at: r.at, stepId: r.stepId, kind: r.kind, data: JSON.parse(r.data) }));
  }

  async addApproval(runId: string, stepId: string, approval: ApprovalRow): Promise<boolean> {
    const { approvals } = this.t;
    const added = await this.repo.write((db) =>
      db
        .insert(approvals)
        .values({ runId, stepId, approver: approval.approver, roles: JSON.stringify(approval.roles), at: approval.at })
        .onConflictDoNothing()
        .returning({ approver: approvals.approver }),
    );
    return added.length > 0;
  }

  async approvals(runId: string, stepId: string): Promise<ApprovalRow[]> {
    const { approvals } = this.t;
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(approvals)
        .where(and(eq(approvals.runId, runId), eq(approvals.stepId, stepId)))
        .orderBy(approvals.at, approvals.approver),
    );
    return rows.map((r) => ({ approver: r.approver, roles: JSON.parse(r.roles), at: r.at }));
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}
