/**
 * Where schedulers keep their state between processes: the `schedules` table (one row per
 * schedule). Two implementations behind {@link ScheduleStore}: SQLite through its own connection
 * to core.db (WAL lets it share the file with the server's), PostgreSQL through a small pool.
 *
 * @example
 * const schedules = await openScheduleStore(config, dataDir);
 * await schedules.save({ ...row, nextRunAt: new Date(Date.now() + 3_600_000) });
 * await schedules.close();
 */
import type { Database } from "bun:sqlite";
import { join } from "node:path";
import type { Config } from "../../runtime/config.ts";
import { openPgPool, type PgPool } from "../../runtime/store/pg-pool.ts";
import { openSqliteDatabase, SQLITE_FILE } from "../../runtime/store/sqlite.ts";

/** One schedule's persisted state. */
export interface ScheduleRow {
  name: string;
  nextRunAt: Date;
  lastStartedAt: Date | null;
  lastFinishedAt: Date | null;
  lastOutcome: ScheduleOutcome | null;
  lastError: string | null;
  lastDurationMs: number | null;
  runs: number;
  failures: number;
  items: number;
}

/** succeeded | failed | skipped (the previous run was still going) | missed (down when due, policy skip). */
export type ScheduleOutcome = "succeeded" | "failed" | "skipped" | "missed";

export interface ScheduleStore {
  load(name: string): Promise<ScheduleRow | undefined>;
  /** Insert or replace the row of `row.name`. */
  save(row: ScheduleRow): Promise<void>;
  /** Delete decision receipts (`debate_receipts`) created before `cutoff`; returns how many. */
  deleteReceiptsBefore(cutoff: Date): Promise<number>;
  close(): Promise<void>;
}

interface SqlRow {
  name: string;
  next_run_at: number;
  last_started_at: number | null;
  last_finished_at: number | null;
  last_outcome: string | null;
  last_error: string | null;
  last_duration_ms: number | null;
  runs: number;
  failures: number;
  items: number;
}

const UPSERT_COLUMNS =
  "name, next_run_at, last_started_at, last_finished_at, last_outcome, last_error, last_duration_ms, runs, failures, items, updated_at";
const UPSERT_SET =
  "next_run_at = excluded.next_run_at, last_started_at = excluded.last_started_at, last_finished_at = excluded.last_finished_at, " +
  "last_outcome = excluded.last_outcome, last_error = excluded.last_error, last_duration_ms = excluded.last_duration_ms, " +
  "runs = excluded.runs, failures = excluded.failures, items = excluded.items, updated_at = excluded.updated_at";

const toDate = (v: number | string | Date | null): Date | null => (v === null ? null : new Date(v));

function fromSql(r: SqlRow): ScheduleRow {
  return {
    name: r.name,
    nextRunAt: new Date(r.next_run_at),
    lastStartedAt: toDate(r.last_started_at),
    lastFinishedAt: toDate(r.last_finished_at),
    lastOutcome: r.last_outcome as ScheduleOutcome | null,
    lastError: r.last_error,
    lastDurationMs: r.last_duration_ms,
    runs: Number(r.runs),
    failures: Number(r.failures),
    items: Number(r.items),
  };
}

/** {@link ScheduleStore} on `<dataDir>/core.db`. */
export class SqliteScheduleStore implements ScheduleStore {
  private readonly db: Database;

  constructor(path: string, busyTimeoutMs: number) {
    this.db = openSqliteDatabase(path, busyTimeoutMs);
  }

  async load(name: string): Promise<ScheduleRow | undefined> {
    const row = this.db.query<SqlRow, [string]>("SELECT * FROM schedules WHERE name = ?").get(name);
    return row ? fromSql(row) : undefined;
  }

  async save(row: ScheduleRow): Promise<void> {
    this.db
      .query(
        `INSERT INTO schedules (${UPSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET ${UPSERT_SET}`,
      )
      .run(
        row.name,
        row.nextRunAt.getTime(),
        row.lastStartedAt?.getTime() ?? null,
        row.lastFinishedAt?.getTime() ?? null,
        row.lastOutcome,
        row.lastError,
        row.lastDurationMs,
        row.runs,
        row.failures,
        row.items,
        Date.now(),
      );
  }

  async deleteReceiptsBefore(cutoff: Date): Promise<number> {
    return this.db.query("DELETE FROM debate_receipts WHERE created_at < ?").run(cutoff.getTime()).changes;
  }

  async close(): Promise<void> {
    this.db.close(false);
  }
}

/**
 * {@link ScheduleStore} on PostgreSQL (DATABASE_URL) through a {@link PgPool} (a deadline on every
 * statement, reads run again on a lost connection); schedulers write rarely, so two connections suffice.
 */
export class PostgresScheduleStore implements ScheduleStore {
  constructor(private readonly pool: PgPool) {}

  async load(name: string): Promise<ScheduleRow | undefined> {
    const rows = await this.pool.read((sql) => sql.unsafe<SqlRow[]>("SELECT * FROM schedules WHERE name = $1", [name]));
    return rows[0] ? fromSql(rows[0]) : undefined;
  }

  async save(row: ScheduleRow): Promise<void> {
    const ts = (d: Date | null) => (d === null ? null : d.toISOString());
    await this.pool.run((sql) =>
      sql.unsafe(
        `INSERT INTO schedules (${UPSERT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (name) DO UPDATE SET ${UPSERT_SET}`,
        [
          row.name,
          ts(row.nextRunAt),
          ts(row.lastStartedAt),
          ts(row.lastFinishedAt),
          row.lastOutcome,
          row.lastError,
          row.lastDurationMs,
          row.runs,
          row.failures,
          row.items,
          new Date().toISOString(),
        ],
      ),
    );
  }

  async deleteReceiptsBefore(cutoff: Date): Promise<number> {
    const result = await this.pool.run((sql) =>
      sql.unsafe("DELETE FROM debate_receipts WHERE created_at < $1", [cutoff.toISOString()]),
    );
    return result.count;
  }

  async close(): Promise<void> {
    await this.pool.end(5);
  }
}

/**
 * The store for the configured backend (the migrations that create `schedules` ran when the
 * server opened its store).
 *
 * @example
 * const schedules = await openScheduleStore(config, "/data/aragora");
 */
export async function openScheduleStore(config: Config, dataDir: string): Promise<ScheduleStore> {
  if (config.databaseUrl === undefined) {
    return new SqliteScheduleStore(join(dataDir, SQLITE_FILE), config.sqliteBusyTimeoutMs);
  }
  // The driver loads only on PostgreSQL deployments (openPgPool imports it).
  return new PostgresScheduleStore(
    await openPgPool(config.databaseUrl, { max: 2, connectTimeoutS: config.dbPoolTimeoutSeconds, name: "schedules" }),
  );
}
