/**
 * The stored debates as `aragora verify` reads them: ids a page at a time, then each debate (its
 * record, seats, event chunks and receipt) in one short read transaction, so what is compared is
 * one consistent state and a live server is never held up for longer than one debate's read.
 * SQLite is opened read-only through SQLite itself (never through the file system: see the data
 * safety notes in runtime/store/sqlite.ts); PostgreSQL through its own one-connection pool.
 *
 * @example
 * const source = await openDebateSnapshots(config); // throws NoDatabase when there is none to read
 * const ids = await source.ids("", 100);
 * const debate = await source.debate(ids[0]);
 * await source.close();
 */
import { Database } from "bun:sqlite";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../../runtime/config.ts";
import { storeDialect } from "../../runtime/store/open.ts";
import type { PgPool } from "../../runtime/store/pg-pool.ts";
import { SQLITE_FILE } from "../../runtime/store/sqlite.ts";
import type { DebateSnapshots, StoredDebate } from "./debate-verify.ts";

/** There is no database where the configuration points. */
export class NoDatabase extends Error {
  override name = "NoDatabase";
}

interface DebateRowColumns {
  id: string;
  question: string;
  config: string;
  status: string;
  stop_reason: string | null;
  consensus: string | null;
  baseline: string | null;
  last_seq: number | string;
  finished_at: number | Date | null;
}

interface ChunkColumns {
  first_seq: number | string;
  last_seq: number | string;
  hashes: string;
  events: string;
}

const DEBATE_COLUMNS = "id, question, config, status, stop_reason, consensus, baseline, last_seq, finished_at";
const ORPHANS = `SELECT DISTINCT debate_id, 'debate_receipts' AS "table" FROM debate_receipts WHERE debate_id NOT IN (SELECT id FROM debates)
  UNION ALL SELECT DISTINCT debate_id, 'debate_event_chunks' AS "table" FROM debate_event_chunks WHERE debate_id NOT IN (SELECT id FROM debates)`;

function storedDebate(
  row: DebateRowColumns,
  seats: { agent: string }[],
  chunks: ChunkColumns[],
  receipt: string | null,
): StoredDebate {
  const finished = row.finished_at;
  return {
    id: row.id,
    question: row.question,
    config: row.config,
    status: row.status,
    stopReason: row.stop_reason,
    consensus: row.consensus,
    baseline: row.baseline,
    lastSeq: Number(row.last_seq),
    finishedAt: finished === null ? null : finished instanceof Date ? finished.getTime() : Number(finished),
    participants: seats.map((s) => s.agent),
    chunks: chunks.map((c) => ({
      firstSeq: Number(c.first_seq),
      lastSeq: Number(c.last_seq),
      hashes: c.hashes,
      events: c.events,
    })),
    receipt,
  };
}

/** The embedded store's `core.db`, through a read-only connection. */
export class SqliteDebateSnapshots implements DebateSnapshots {
  private readonly db: Database;

  constructor(path: string, busyTimeoutMs: number) {
    this.db = new Database(path, { readonly: true });
    this.db.run(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  }

  async ids(after: string, limit: number): Promise<string[]> {
    return this.db
      .query<{ id: string }, [string, number]>("SELECT id FROM debates WHERE id > ? ORDER BY id LIMIT ?")
      .all(after, limit)
      .map((r) => r.id);
  }

  async debate(id: string): Promise<StoredDebate | null> {
    // A deferred transaction: one snapshot of the WAL for the four reads, ended at once.
    return this.db.transaction(() => {
      const row = this.db
        .query<DebateRowColumns, [string]>(`SELECT ${DEBATE_COLUMNS} FROM debates WHERE id = ?`)
        .get(id);
      if (!row) return null;
      const seats = this.db
        .query<{ agent: string }, [string]>("SELECT agent FROM debate_participants WHERE debate_id = ? ORDER BY seat")
        .all(id);
      const chunks = this.db
        .query<ChunkColumns, [string]>(
          "SELECT first_seq, last_seq, hashes, events FROM debate_event_chunks WHERE debate_id = ? ORDER BY first_seq",
        )
        .all(id);
      const receipt = this.db
        .query<{ receipt: string }, [string]>("SELECT receipt FROM debate_receipts WHERE debate_id = ?")
        .get(id);
      return storedDebate(row, seats, chunks, receipt?.receipt ?? null);
    })();
  }

  async orphans() {
    return this.db
      .query<{ debate_id: string; table: "debate_receipts" | "debate_event_chunks" }, []>(ORPHANS)
      .all()
      .map((r) => ({ debateId: r.debate_id, table: r.table }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** The PostgreSQL store (DATABASE_URL), each debate in a read-only repeatable-read transaction. */
export class PostgresDebateSnapshots implements DebateSnapshots {
  constructor(private readonly pool: PgPool) {}

  ids(after: string, limit: number): Promise<string[]> {
    return this.pool.read(async (sql) => {
      const rows = await sql<{ id: string }[]>`SELECT id FROM debates WHERE id > ${after} ORDER BY id LIMIT ${limit}`;
      return rows.map((r) => r.id);
    });
  }

  debate(id: string): Promise<StoredDebate | null> {
    return this.pool.read((sql) =>
      sql.begin("isolation level repeatable read read only", async (tx) => {
        const [row] = await tx.unsafe<DebateRowColumns[]>(`SELECT ${DEBATE_COLUMNS} FROM debates WHERE id = $1`, [id]);
        if (!row) return null;
        const seats = await tx<
          { agent: string }[]
        >`SELECT agent FROM debate_participants WHERE debate_id = ${id} ORDER BY seat`;
        const chunks = await tx<
          ChunkColumns[]
        >`SELECT first_seq, last_seq, hashes, events FROM debate_event_chunks WHERE debate_id = ${id} ORDER BY first_seq`;
        const [receipt] = await tx<{ receipt: string }[]>`SELECT receipt FROM debate_receipts WHERE debate_id = ${id}`;
        return storedDebate(row, [...seats], [...chunks], receipt?.receipt ?? null);
      }),
    );
  }

  orphans() {
    return this.pool.read(async (sql) => {
      const rows = await sql.unsafe<{ debate_id: string; table: "debate_receipts" | "debate_event_chunks" }[]>(ORPHANS);
      return rows.map((r) => ({ debateId: r.debate_id, table: r.table }));
    });
  }

  async close(): Promise<void> {
    await this.pool.end(5);
  }
}

/**
 * The snapshots of the configured store: PostgreSQL when DATABASE_URL is set, else the data dir's
 * `core.db`, which must exist (nothing is created).
 *
 * @example const source = await openDebateSnapshots(loadConfig(process.env));
 */
export async function openDebateSnapshots(config: Config): Promise<DebateSnapshots> {
  if (storeDialect(config) === "postgres") {
    const { openPgPool } = await import("../../runtime/store/pg-pool.ts");
    const pool = await openPgPool(config.databaseUrl as string, {
      max: 1,
      connectTimeoutS: config.dbPoolTimeoutSeconds,
      name: "verify",
    });
    return new PostgresDebateSnapshots(pool);
  }
  const path = join(config.dataDir, SQLITE_FILE);
  if (!existsSync(path)) throw new NoDatabase(`no database at ${path} (ARAGORA_DATA_DIR is ${config.dataDir})`);
  return new SqliteDebateSnapshots(path, config.sqliteBusyTimeoutMs);
}
