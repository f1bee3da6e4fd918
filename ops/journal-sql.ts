/**
 * {@link OpsJournal} over SQL, one implementation for both dialects through a tiny port: SQLite
 * (bun:sqlite, prepared statements cached, each record one synchronous transaction) or PostgreSQL
 * (postgres-js, each record one transaction). The tables are created by the shared migrations
 * (ops/journal-schema-{sqlite,postgres}.ts); this module only reads and writes rows.
 *
 * @example
 * const journal = await openOpsJournal(config, store); // same database as the store, own connection
 * await journal.listRuns({ limit: 20 });
 * await journal.close();
 */
import type { Database, SQLQueryBindings } from "bun:sqlite";
import type { Config } from "../runtime/config.ts";
import { openPgPool, type PgPool } from "../runtime/store/pg-pool.ts";
import { openSqliteDatabase } from "../runtime/store/sqlite.ts";
import type { Store } from "../runtime/store/store.ts";
import type { ApprovalRow, JournalEntry, OpsJournal, RunPatch, RunRecord, RunStatus, StepRecord } from "./journal.ts";

type Param = string | number | null;
interface Statement {
  sql: string;
  params: Param[];
}

/** The few things the journal needs from a database; `?` placeholders in both dialects. */
interface SqlPort {
  all(sql: string, params: Param[]): Promise<Record<string, unknown>[]>;
  /** Run statements in one transaction; resolves with the changed-row count of each. */
  batch(statements: Statement[]): Promise<number[]>;
  close(): Promise<void>;
}

function sqlitePort(db: Database): SqlPort {
  const cache = new Map<string, ReturnType<Database["query"]>>();
  const prepared = (sql: string) => {
    let q = cache.get(sql);
    if (!q) {
      q = db.query(sql);
      cache.set(sql, q);
    }
    return q;
  };
  const tx = db.transaction((statements: Statement[]) =>
    statements.map((s) => prepared(s.sql).run(...(s.params as SQLQueryBindings[])).changes),
  );
  return {
    async all(sql, params) {
      return prepared(sql).all(...(params as SQLQueryBindings[])) as Record<string, unknown>[];
    },
    async batch(statements) {
      return tx(statements);
    },
    async close() {
      for (const q of cache.values()) q.finalize();
      db.close(false);
    },
  };
}

/** The port on PostgreSQL, through a {@link PgPool}: reads run again on a lost connection, every statement has a deadline. */
function postgresPort(pool: PgPool): SqlPort {
  const numbered = (text: string) => {
    let n = 0;
    return text.replace(/\?/g, () => `$${++n}`);
  };
  return {
    async all(text, params) {
      // Every `all` of the journal is a SELECT: safe to run again.
      return (await pool.read((sql) => sql.unsafe(numbered(text), params))) as unknown as Record<string, unknown>[];
    },
    async batch(statements) {
      return pool.run((sql) =>
        sql.begin(async (tx) => {
          const counts: number[] = [];
          for (const s of statements) counts.push((await tx.unsafe(numbered(s.sql), s.params)).count);
          return counts;
        }),
      ) as Promise<number[]>;
    },
    async close() {
      await pool.end(5);
    },
  };
}

/**
 * Open the journal on the same database as `store`, with its own connection (SQLite in WAL lets
 * several connections and processes share the file; the store's migrations created the tables).
 */
export async function openOpsJournal(config: Config, store: Pick<Store, "kind" | "sqlitePath">): Promise<OpsJournal> {
  if (store.kind === "sqlite") {
    if (!store.sqlitePath) throw new Error("the SQLite store has no file path");
    return new SqlOpsJournal(sqlitePort(openSqliteDatabase(store.sqlitePath, config.sqliteBusyTimeoutMs)));
  }
  if (!config.databaseUrl) throw new Error("a PostgreSQL store needs DATABASE_URL");
  // The driver loads only on PostgreSQL deployments (openPgPool imports it).
  const pool = await openPgPool(config.databaseUrl, {
    max: 2,
    connectTimeoutS: config.dbPoolTimeoutSeconds,
    name: "ops journal",
  });
  return new SqlOpsJournal(postgresPort(pool));
}

const RUN_COLUMNS: Record<keyof RunPatch, string> = {
  status: "status",
  heartbeatAt: "heartbeat_at",
  finishedAt: "finished_at",
  currentStep: "current_step",
  error: "error",
  cancelRequested: "cancel_requested",
  decision: "decision",
  executor: "executor",
};

function patchStatement(runId: string, patch: RunPatch): Statement | undefined {
  const sets: string[] = [];
  const params: Param[] = [];
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    sets.push(`${RUN_COLUMNS[key as keyof RunPatch]} = ?`);
    params.push(
      key === "cancelRequested" ? (value ? 1 : 0) : key === "executor" ? JSON.stringify(value) : (value as Param),
    );
  }
  if (sets.length === 0) return undefined;
  return { sql: `UPDATE ops_runs SET ${sets.join(", ")} WHERE id = ?`, params: [...params, runId] };
}

const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toRun(r: Record<string, unknown>): RunRecord {
  return {
    id: r.id as string,
    playbook: r.playbook as string,
    file: r.file as string,
    source: r.source as string,
    params: JSON.parse(r.params as string),
    status: r.status as RunStatus,
    dryRun: false,
    startedBy: r.started_by as string,
    executor: JSON.parse(r.executor as string),
    createdAt: num(r.created_at),
    heartbeatAt: num(r.heartbeat_at),
    finishedAt: numOrNull(r.finished_at),
    currentStep: (r.current_step as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    cancelRequested: num(r.cancel_requested) === 1,
    decision: (r.decision as RunRecord["decision"]) ?? null,
  };
}

function toStep(r: Record<string, unknown>): StepRecord {
  return {
    runId: r.run_id as string,
    stepId: r.step_id as string,
    index: num(r.idx),
    action: r.action as string,
    status: r.status as StepRecord["status"],
    attempts: num(r.attempts),
    idempotent: num(r.idempotent) === 1,
    startedAt: numOrNull(r.started_at),
    finishedAt: numOrNull(r.finished_at),
    outputs: r.outputs === null || r.outputs === undefined ? null : JSON.parse(r.outputs as string),
    error: (r.error as string | null) ?? null,
  };
}

const UPSERT_STEP = `INSERT INTO ops_steps (run_id, step_id, idx, action, status, attempts, idempotent, started_at, finished_at, outputs, error)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, step_id) DO UPDATE SET idx = excluded.idx, action = excluded.action, status = excluded.status,
attempts = excluded.attempts, idempotent = excluded.idempotent, started_at = excluded.started_at,
finished_at = excluded.finished_at, outputs = excluded.outputs, error = excluded.error`;

const INSERT_ENTRY = "INSERT INTO ops_journal (run_id, seq, at, step_id, kind, data) VALUES (?, ?, ?, ?, ?, ?)";

/** The SQL journal; see {@link openOpsJournal}. */
export class SqlOpsJournal implements OpsJournal {
  constructor(private readonly port: SqlPort) {}

  async createRun(run: RunRecord): Promise<void> {
    await this.port.batch([
      {
        sql: `INSERT INTO ops_runs (id, playbook, file, source, params, status, started_by, executor, created_at, heartbeat_at, finished_at, current_step, error, cancel_requested, decision)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        params: [
          run.id,
          run.playbook,
          run.file,
          run.source,
          JSON.stringify(run.params),
          run.status,
          run.startedBy,
          JSON.stringify(run.executor),
          run.createdAt,
          run.heartbeatAt,
          run.finishedAt,
          run.currentStep,
          run.error,
          run.cancelRequested ? 1 : 0,
          run.decision,
        ],
      },
    ]);
  }

  async record(runId: string, entry: JournalEntry, step?: StepRecord, run?: RunPatch): Promise<void> {
    const statements: Statement[] = [
      { sql: INSERT_ENTRY, params: [runId, entry.seq, entry.at, entry.stepId, entry.kind, JSON.stringify(entry.data)] },
    ];
    if (step) {
      statements.push({
        sql: UPSERT_STEP,
        params: [
          runId,
          step.stepId,
          step.index,
          step.action,
          step.status,
          step.attempts,
          step.idempotent ? 1 : 0,
          step.startedAt,
          step.finishedAt,
          step.outputs === null ? null : JSON.stringify(step.outputs),
          step.error,
        ],
      });
    }
    const patch = run && patchStatement(runId, run);
    if (patch) statements.push(patch);
    await this.port.batch(statements);
  }

  async updateRun(runId: string, patch: RunPatch): Promise<void> {
    const statement = patchStatement(runId, patch);
    if (statement) await this.port.batch([statement]);
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const [row] = await this.port.all("SELECT * FROM ops_runs WHERE id = ?", [runId]);
    return row && toRun(row);
  }

  async listRuns(options: { limit?: number; status?: RunStatus } = {}): Promise<RunRecord[]> {
    const limit = options.limit ?? 50;
    const rows = options.status
      ? await this.port.all("SELECT * FROM ops_runs WHERE status = ? ORDER BY created_at DESC, id LIMIT ?", [
          options.status,
          limit,
        ])
      : await this.port.all("SELECT * FROM ops_runs ORDER BY created_at DESC, id LIMIT ?", [limit]);
    return rows.map(toRun);
  }

  async steps(runId: string): Promise<StepRecord[]> {
    return (await this.port.all("SELECT * FROM ops_steps WHERE run_id = ? ORDER BY idx", [runId])).map(toStep);
  }

  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    const rows = await this.port.all(
      "SELECT seq, at, step_id, kind, data FROM ops_journal WHERE run_id = ? AND seq > ? ORDER BY seq",
      [runId, afterSeq],
    );
    return rows.map((r) => ({
      seq: num(r.seq),
      at: num(r.at),
      stepId: (r.step_id as string | null) ?? null,
      kind: r.kind as string,
      data: JSON.parse(r.data as string),
    }));
  }

  async addApproval(runId: string, stepId: string, approval: ApprovalRow): Promise<boolean> {
    const [changed] = await this.port.batch([
      {
        sql: "INSERT INTO ops_approvals (run_id, step_id, approver, roles, at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        params: [runId, stepId, approval.approver, JSON.stringify(approval.roles), approval.at],
      },
    ]);
    return (changed ?? 0) > 0;
  }

  async approvals(runId: string, stepId: string): Promise<ApprovalRow[]> {
    const rows = await this.port.all(
      "SELECT approver, roles, at FROM ops_approvals WHERE run_id = ? AND step_id = ? ORDER BY at, approver",
      [runId, stepId],
    );
    return rows.map((r) => ({ approver: r.approver as string, roles: JSON.parse(r.roles as string), at: num(r.at) }));
  }

  async close(): Promise<void> {
    await this.port.close();
  }
}
