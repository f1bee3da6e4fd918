/**
 * The embedded store: `<dataDir>/core.db` through bun:sqlite and drizzle-orm/bun-sqlite.
 *
 * WAL lets the stock `sqlite3` shell run `PRAGMA integrity_check`, `.backup`, `ANALYZE`, `VACUUM`
 * and `PRAGMA wal_checkpoint(TRUNCATE)` on the live file: readers never block the server, and when
 * the shell holds the write lock the server's writes wait up to busy_timeout instead of failing.
 * The server never keeps a read transaction open (every drizzle query steps its statement to the
 * end), so a checkpoint is never held back by it.
 *
 * @example
 * const store = await openSqliteStore(config, log);
 * store.sqlitePath; // ".nomic/core.db"
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { Column, type InferColumnsDataTypes, is } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { migrationsDir } from "./migrations.ts";
import { type AppliedMigration, createMigrator, MIGRATIONS_TABLE, type MigrationDriver } from "./migrator.ts";
import { nodeTables, SqlNodeRepository } from "./nodes.ts";
import type {
  DialectTables,
  Prepared,
  Repo,
  RepoDb,
  RepoDriver,
  RepoOptions,
  Slots,
  StatementResults,
  TableSet,
} from "./repo.ts";
import { driverError, driverErrors, placeholders, sqliteAsRepoDb } from "./repo.ts";
import { NoDatabase, type Store } from "./store.ts";

export const SQLITE_FILE = "core.db";

/** Whether this process's connections leave WAL checkpoints to the background checkpointer. */
let checkpointsInBackground = false;

/**
 * From now on, connections this process opens do not checkpoint the WAL themselves: a server calls
 * this before opening its stores and runs {@link WalCheckpointer} instead. SQLite's automatic
 * checkpoint runs inside whichever commit crosses 1,000 WAL pages, copying ~4 MB into the database
 * file and fsyncing it on the committing thread: 10-80 ms during which the event loop is blocked.
 *
 * @example checkpointInBackground(); const store = await openStore(config, log);
 */
export function checkpointInBackground(): void {
  checkpointsInBackground = true;
}

/**
 * Open `path` with the pragmas every connection needs. busy_timeout comes first so that switching
 * to WAL waits for a lock held by another process rather than failing.
 *
 * @example const db = openSqliteDatabase(".nomic/core.db", 5000);
 */
export function openSqliteDatabase(path: string, busyTimeoutMs: number): Database {
  const db = new Database(path, { create: true, readwrite: true });
  try {
    db.run(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
    const mode = db.query<{ journal_mode: string }, []>("PRAGMA journal_mode = WAL").get()?.journal_mode;
    if (mode !== "wal") throw new Error(`${path}: journal_mode is "${mode}", WAL could not be enabled`);
    db.run("PRAGMA synchronous = NORMAL");
    db.run("PRAGMA foreign_keys = ON");
    if (checkpointsInBackground) db.run("PRAGMA wal_autocheckpoint = 0");
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/**
 * Open `path`, which must exist, for reading only: nothing this connection runs can change the file
 * (SQLite refuses with SQLITE_READONLY), and reads wait up to busy_timeout behind a writer.
 *
 * @example const db = openReadOnlySqliteDatabase(".nomic/core.db", 5000);
 */
export function openReadOnlySqliteDatabase(path: string, busyTimeoutMs: number): Database {
  const db = new Database(path, { readonly: true });
  db.run(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  return db;
}

/**
 * Migration bookkeeping for SQLite. BEGIN IMMEDIATE takes the database's write lock at once
 * (waiting up to busy_timeout), so two processes starting together apply each migration once.
 * bun:sqlite is synchronous, so nothing else on this connection runs inside the transaction.
 */
export function sqliteMigrationDriver(db: Database): MigrationDriver {
  const create = `CREATE TABLE IF NOT EXISTS "${MIGRATIONS_TABLE}" (tag TEXT PRIMARY KEY NOT NULL, hash TEXT NOT NULL, applied_at TEXT NOT NULL)`;
  const readAll = (): AppliedMigration[] =>
    db
      .query<{ tag: string; hash: string; applied_at: string }, []>(
        `SELECT tag, hash, applied_at FROM "${MIGRATIONS_TABLE}" ORDER BY tag`,
      )
      .all()
      .map((r) => ({ tag: r.tag, hash: r.hash, appliedAt: r.applied_at }));
  return {
    async readApplied() {
      const exists = db
        .query<{ n: number }, [string]>("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name = ?")
        .get(MIGRATIONS_TABLE);
      return exists && exists.n > 0 ? readAll() : [];
    },
    async locked(work) {
      db.run("BEGIN IMMEDIATE");
      try {
        db.run(create);
        const result = await work({
          applied: async () => readAll(),
          execute: async (statement) => {
            db.run(statement);
          },
          record: async (m) => {
            db.query(`INSERT INTO "${MIGRATIONS_TABLE}" (tag, hash, applied_at) VALUES (?, ?, ?)`).run(
              m.tag,
              m.hash,
              m.appliedAt,
            );
          },
          forget: async (tag) => {
            db.query(`DELETE FROM "${MIGRATIONS_TABLE}" WHERE tag = ?`).run(tag);
          },
        });
        db.run("COMMIT");
        return result;
      } catch (err) {
        if (db.inTransaction) db.run("ROLLBACK");
        throw err;
      }
    },
  };
}

/**
 * {@link Repo} on one bun:sqlite connection. Every statement runs synchronously; a transaction's
 * statements run in one synchronous BEGIN IMMEDIATE ... COMMIT (bun's `transaction().immediate()`),
 * so no other code of this process runs while it holds the write lock, and the lock is taken at
 * once (waiting up to busy_timeout for another process) rather than upgraded from a read.
 *
 * @example const repo = new SqliteRepo(openSqliteDatabase(path, 5000), nodeTables.sqlite, { ownsClient: true });
 */
export class SqliteRepo<T extends TableSet> implements Repo<T> {
  readonly dialect = "sqlite";
  readonly driver: RepoDriver;
  private readonly db: RepoDb;
  /** Runs a transaction's statements; made once, as bun makes a transaction function anew on each call. */
  private readonly runAll: ReturnType<Database["transaction"]>;
  private closed = false;

  constructor(
    private readonly client: Database,
    readonly tables: T,
    private readonly options: { ownsClient: boolean },
  ) {
    // drizzle prepares every statement anew (client.prepare); bun's query() compiles each SQL text
    // once and keeps it, which makes a repository call about twice as fast.
    const cached = { prepare: (text: string) => client.query(text), exec: (text: string) => client.exec(text) };
    this.db = sqliteAsRepoDb(drizzle({ client: cached as unknown as Database }));
    this.driver = { dialect: "sqlite", client };
    // The SQLite builders (and prepared statements) run synchronously through all(), which returns
    // the rows of a select or a `.returning()` (an empty list otherwise).
    this.runAll = client.transaction((statements: readonly SyncStatement[]) => statements.map((s) => s.all()));
  }

  read<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R> {
    const work = op(this.db);
    if (work instanceof BoundStatement) {
      // A prepared statement runs now, as SQLite runs everything, and its result is handed back
      // settled: awaiting it as a thenable would cost a job and two promises on every page view.
      try {
        return Promise.resolve(work.all() as R);
      } catch (err) {
        return Promise.reject(driverError(err));
      }
    }
    return driverErrors(work);
  }

  write<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R> {
    return driverErrors(op(this.db));
  }

  async transaction<S extends readonly PromiseLike<unknown>[]>(
    build: (tx: RepoDb) => [...S],
  ): Promise<StatementResults<S>> {
    const statements = build(this.db) as unknown as SyncStatement[];
    return this.runAll.immediate(statements) as StatementResults<S>;
  }

  async snapshot<S extends readonly PromiseLike<unknown>[]>(
    build: (tx: RepoDb) => [...S],
  ): Promise<StatementResults<S>> {
    const statements = build(this.db) as unknown as SyncStatement[];
    return this.runAll.deferred(statements) as StatementResults<S>;
  }

  /**
   * Compiled once, on its first call, on this Repo's connection, where its transactions run too;
   * each call binds values. Not when declared: stores declare theirs as the server starts, and
   * building them all there delayed its first answer.
   */
  prepare<C extends Record<string, Column>, R>(
    columns: C,
    build: (db: RepoDb, slots: Slots<C>) => PromiseLike<R>,
  ): Prepared<InferColumnsDataTypes<C>, R> {
    // Compiled on first call (start-up declares many statements that a given run may never use),
    // and read through a row mapper built once from drizzle's own columns where it can be.
    let run: ((values: object) => R) | undefined;
    const compiled = () => {
      if (run === undefined) {
        const builder = build(this.db, placeholders(columns)) as unknown as { prepare(): DrizzlePrepared };
        const statement = builder.prepare();
        const toRows = plainRowMapper(statement);
        run =
          toRows === undefined
            ? (values: object) => statement.all(values) as R
            : (values: object) => toRows(statement.values(values)) as R;
      }
      return run;
    };
    return { on: (_db, values) => new BoundStatement(() => compiled()(values)) };
  }

  /** Closes the connection if this repository opened it. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.options.ownsClient) this.client.close(false);
  }
}

/** drizzle's prepared SQLite query (drizzle-orm/bun-sqlite's PreparedQuery), as far as it is used here. */
interface DrizzlePrepared {
  all(values: object): unknown;
  /** The rows as arrays of driver values, in the order of `fields`. */
  values(values: object): unknown[][];
  fields?: { path: string[]; field: unknown }[];
  customResultMapper?: unknown;
}

/**
 * For a prepared select of plain columns (no joins, no nested or computed fields), what drizzle's
 * `all()` does to the driver's rows, made once: each column's value through the column's own
 * `mapFromDriverValue` (a timestamp to a Date, a 0/1 to a boolean) under its key, null kept. drizzle
 * does it generically per row, walking each field's path with an iterator, about 2 KB of garbage
 * per debate read (bench/http.ts). Undefined for any other statement, which keeps drizzle's.
 *
 * @example const toRows = plainRowMapper(statement); toRows?.(statement.values({ id: "d-1" }));
 */
function plainRowMapper(statement: DrizzlePrepared): ((rows: unknown[][]) => Record<string, unknown>[]) | undefined {
  const { fields, customResultMapper } = statement;
  if (fields === undefined || customResultMapper !== undefined) return undefined;
  // drizzle reads its joinsNotNullableMap only for two-part paths (a joined table's columns).
  if (!fields.every((f) => f.path.length === 1 && is(f.field, Column))) return undefined;
  const keys = fields.map((f) => f.path[0] as string);
  const columns = fields.map((f) => f.field as Column);
  return (rows) => {
    const out: Record<string, unknown>[] = new Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as unknown[];
      const mapped: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const value = row[i];
        mapped[keys[i] as string] = value === null ? null : (columns[i] as Column).mapFromDriverValue(value);
      }
      out[r] = mapped;
    }
    return out;
  };
}

/** A statement as SQLite runs it: synchronously, through all(). */
interface SyncStatement {
  all(): unknown;
}

/**
 * A prepared statement with a call's values, run when a transaction calls all() or when awaited.
 * Nothing runs before: a statement listed in a transaction runs inside it.
 */
class BoundStatement<R> implements PromiseLike<R>, SyncStatement {
  constructor(private readonly run: () => R) {}

  all(): R {
    return this.run();
  }

  // biome-ignore lint/suspicious/noThenProperty: a statement is awaited like drizzle's builders are
  then<A = R, B = never>(
    ok?: ((r: R) => A | PromiseLike<A>) | null,
    fail?: ((e: unknown) => B | PromiseLike<B>) | null,
  ) {
    return new Promise<R>((resolve) => resolve(this.run())).then(ok, fail);
  }
}

export interface SqliteStoreOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Where the drizzle-kit migrations live (default migrations/sqlite). */
  migrationsDir?: string;
  /** Open an existing `core.db` through read-only connections, migrating and creating nothing. */
  readOnly?: boolean;
}

/**
 * Open `<config.dataDir>/core.db`, creating the directory and file when absent; read-only, the
 * file must exist ({@link NoDatabase} otherwise).
 */
export async function openSqliteStore(config: Config, log: Logger, opts: SqliteStoreOptions = {}): Promise<Store> {
  const path = join(config.dataDir, SQLITE_FILE);
  const readOnly = opts.readOnly === true;
  if (readOnly && !existsSync(path)) {
    throw new NoDatabase(`no database at ${path} (ARAGORA_DATA_DIR is ${config.dataDir})`);
  }
  if (!readOnly) mkdirSync(config.dataDir, { recursive: true });
  const connect = () =>
    readOnly
      ? openReadOnlySqliteDatabase(path, config.sqliteBusyTimeoutMs)
      : openSqliteDatabase(path, config.sqliteBusyTimeoutMs);
  const client = connect();
  const migrator = createMigrator(sqliteMigrationDriver(client), opts.migrationsDir ?? migrationsDir("sqlite"));
  let closed = false;
  const store: Store = {
    kind: "sqlite",
    sqlitePath: path,
    // The store's own connection: node rows are written a few times a minute.
    nodes: new SqlNodeRepository(new SqliteRepo(client, nodeTables.sqlite, { ownsClient: false })),
    migrator,
    async openRepo<T extends TableSet>(tables: DialectTables<T>, _options: RepoOptions): Promise<Repo<T>> {
      // Its own connection: WAL lets several share the file, and its transactions queue only its own statements.
      return new SqliteRepo(connect(), tables.sqlite, { ownsClient: true });
    },
    async ping() {
      client.query("SELECT 1").get();
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        // Refreshes planner statistics where they have drifted; cheap when nothing changed.
        if (!readOnly) client.run("PRAGMA optimize");
      } finally {
        client.close(false);
      }
    },
  };
  if (!readOnly && (opts.migrate ?? true)) {
    try {
      const applied = await migrator.apply();
      if (applied.length > 0) log.info({ store: "sqlite", path, applied }, "migrations applied");
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  log.debug({ store: "sqlite", path }, "store opened");
  return store;
}
