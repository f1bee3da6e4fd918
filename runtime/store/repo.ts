/**
 * The one way a store is written: a repository class written ONCE against a {@link Repo}, a typed
 * handle holding a drizzle query builder and the tables of whichever dialect the server opened
 * (decided once, in ./open.ts). The tables stay per dialect (sqlite-core and pg-core files beside
 * the feature that owns them, for drizzle-kit's generated migrations); {@link dialectTables} pairs
 * them, checks at compile time that both dialects give the same row types, and is where the one
 * cast lives: repository code sees the PostgreSQL builder's types, and on SQLite gets the SQLite
 * builder and tables, which answer the same calls.
 *
 * The portable subset, used by every repository: select/insert/update/delete with where, orderBy,
 * limit, `.returning()`, `onConflictDoUpdate` / `onConflictDoNothing`, and `sql` fragments naming
 * columns. Count changed rows with `.returning()`; the result of a statement without it differs
 * by driver, so never read it. Row types come from the schema (`typeof table.$inferSelect`).
 *
 * Every statement runs through `read`, `write`, `transaction` or `snapshot` (reads that must see one
 * state): on PostgreSQL that is the {@link PgPool}'s deadline (and, for `read` and `snapshot`,
 * running it again on a lost connection). A transaction is given as the list of its statements,
 * not as a callback that awaits them: on SQLite the list runs synchronously between BEGIN IMMEDIATE
 * and COMMIT, so the write lock is never held while the event loop runs something else (another
 * connection of this process wanting the lock would spin on busy_timeout, blocking the very loop
 * that would release it). A statement on a hot path is built once with `prepare` and run with each
 * call's values (the ops journal's record: building it with drizzle on every call doubled the
 * interpreter's overhead per step).
 * Hand-written SQL is only for a measured hot path the builder cannot serve (the debate event log),
 * on the Repo's own connection ({@link Repo.driver}).
 *
 * @example
 * // actors/widgets/widget-schema-sqlite.ts and -postgres.ts each export `widgets`; then:
 * export const widgetTables = dialectTables({ sqlite: { widgets: sqliteWidgets }, postgres: { widgets: pgWidgets } });
 * export type Widget = typeof pgWidgets.$inferSelect;
 *
 * export class WidgetRepository {
 *   constructor(private readonly repo: Repo<typeof widgetTables.postgres>) {}
 *   get(id: string): Promise<Widget | undefined> {
 *     const { widgets } = this.repo.tables;
 *     return this.repo.read(async (db) => (await db.select().from(widgets).where(eq(widgets.id, id)))[0]);
 *   }
 *   async move(from: string, to: string): Promise<void> {
 *     const { widgets, parts } = this.repo.tables;
 *     await this.repo.transaction((tx) => [
 *       tx.insert(widgets).values({ id: to, name: to }),
 *       tx.update(parts).set({ widgetId: to }).where(eq(parts.widgetId, from)),
 *       tx.delete(widgets).where(eq(widgets.id, from)),
 *     ]);
 *   }
 *   async rename(id: string, name: string): Promise<boolean> {
 *     const { widgets } = this.repo.tables;
 *     const rows = await this.repo.write((db) =>
 *       db.update(widgets).set({ name }).where(eq(widgets.id, id)).returning({ id: widgets.id }),
 *     );
 *     return rows.length > 0;
 *   }
 * }
 * const widgets = new WidgetRepository(await store.openRepo(widgetTables, { name: "widgets" }));
 */
import type { Database } from "bun:sqlite";
import {
  type Column,
  DrizzleQueryError,
  type InferColumnsDataTypes,
  type Placeholder,
  sql,
  type Table,
} from "drizzle-orm";
import type { PgDatabase, PgTable } from "drizzle-orm/pg-core";
import type { PostgresJsQueryResultHKT } from "drizzle-orm/postgres-js";
import type { BaseSQLiteDatabase, SQLiteTable } from "drizzle-orm/sqlite-core";
import type { PgPool } from "./pg-pool.ts";

export type Dialect = "sqlite" | "postgres";

/**
 * The query builder a repository writes against: the PostgreSQL builder's type, which the SQLite
 * builder matches for the portable subset described above.
 */
export type RepoDb = PgDatabase<PostgresJsQueryResultHKT>;

/** A repository's tables by name, typed as the PostgreSQL ones (see {@link dialectTables}). */
export type TableSet = Record<string, PgTable>;

/** A feature's tables in both dialects, as made by {@link dialectTables}. */
export interface DialectTables<T extends TableSet> {
  sqlite: T;
  postgres: T;
}

/** Which store a repository connection serves, for its logs. */
export interface RepoOptions {
  /** Names the repository in logs ("a pool replaced"). */
  name: string;
  /** PostgreSQL connections of its own pool (default 2); SQLite always opens one connection. */
  maxConnections?: number;
  /**
   * PostgreSQL: how long a statement waits for a lock (lock_timeout, set on every session of the
   * pool) before failing with 55P03, which store health reports as `locked`; default: no limit.
   */
  lockTimeoutMs?: number;
  /**
   * PostgreSQL: how long a session may sit inside a transaction without sending anything
   * (idle_in_transaction_session_timeout) before the server ends it, releasing its row locks: a
   * process paused or cut off mid-transaction then holds up no other node; default: no limit.
   */
  idleInTransactionTimeoutMs?: number;
}

/**
 * The driver connection under a {@link Repo}, for the one measured hot path the builder cannot
 * serve (the debate event log: its chunks, SQLite's group commit, PostgreSQL's batches through
 * `unnest`): the Repo's own bun:sqlite connection, or the {@link PgPool} its statements run on.
 * On PostgreSQL drizzle has set the client's date and time types to pass text through: give a
 * timestamp as ISO text (a Date is refused), and never read one there.
 *
 * @example if (repo.driver.dialect === "sqlite") repo.driver.client.query("SELECT 1").get();
 */
export type RepoDriver = { dialect: "sqlite"; client: Database } | { dialect: "postgres"; pool: PgPool };

/**
 * A repository's handle on the database: the dialect's tables and its statements' runner.
 * A Repo owns its connection (SQLite) or pool (PostgreSQL); `close` releases it.
 */
export interface Repo<T extends TableSet> {
  readonly dialect: Dialect;
  readonly tables: T;
  /** A read: on PostgreSQL run again while the connection turns out lost (a read changes nothing). */
  read<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R>;
  /** One write statement (atomic by itself), run once. */
  write<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R>;
  /**
   * The statements `build` returns, in order, in one transaction: all of them or none. Resolves
   * with each statement's result (read only those of selects and `.returning()`).
   */
  transaction<S extends readonly PromiseLike<unknown>[]>(build: (tx: RepoDb) => [...S]): Promise<StatementResults<S>>;
  /**
   * The reads `build` returns, in order, in one read-only transaction, so that together they see one
   * state of the database: on SQLite a deferred transaction (one WAL snapshot, and no write lock:
   * it works on a read-only connection), on PostgreSQL `repeatable read, read only`, run again on a
   * lost connection as {@link read} is.
   */
  snapshot<S extends readonly PromiseLike<unknown>[]>(build: (tx: RepoDb) => [...S]): Promise<StatementResults<S>>;
  /**
   * A hot statement built once: `build` makes it with a slot for each of `columns` (their names are
   * the slots' names), and {@link Prepared.on} runs it with a call's values, on this Repo's `db`
   * or a transaction's `tx`. See {@link Prepared} for what each dialect does with it.
   */
  prepare<C extends Record<string, Column>, R>(
    columns: C,
    build: (db: RepoDb, slots: Slots<C>) => PromiseLike<R>,
  ): Prepared<InferColumnsDataTypes<C>, R>;
  /** The connection under this Repo, for hand-written SQL on a measured hot path only (see {@link RepoDriver}). */
  readonly driver: RepoDriver;
  close(): Promise<void>;
}

/**
 * Where a prepared statement's values go: a `sql.placeholder` named after the column (SQLite),
 * or the call's value itself (PostgreSQL). Put a slot only where a value goes (insert values,
 * update set, the right side of a comparison); the column's encoder applies in values and set.
 */
export type Slots<C extends Record<string, Column>> = {
  [K in keyof C]: Placeholder<K & string> | InferColumnsDataTypes<C>[K];
};

/**
 * A statement {@link Repo.prepare}d once. On SQLite it is compiled once, on its first call
 * (drizzle's `.prepare()` on the Repo's one connection, where its transactions run too), and each
 * call only binds values:
 * building a statement with drizzle costs more than SQLite takes to run it. On PostgreSQL it is
 * built again on each call's `db` or `tx`: drizzle's prepared queries are tied to the connection
 * they were prepared on (one prepared on the pool would run outside the transaction), and a
 * round trip to the server costs far more than the building.
 *
 * @example
 * const addLine = repo.prepare({ runId: lines.runId, seq: lines.seq }, (db, v) => db.insert(lines).values(v));
 * await repo.transaction((tx) => [addLine.on(tx, { runId: "r1", seq: 1 })]);
 */
export interface Prepared<V, R> {
  /** The statement with `values`, on `db` (the Repo's or a transaction's): await it, or list it in a transaction. */
  on(db: RepoDb, values: V): PromiseLike<R>;
}

/**
 * Slots as the values of an update's `set` (or an upsert's): drizzle binds a placeholder there as it
 * does a value, with the column's encoder, but its types for `set` list values only.
 *
 * @example db.update(runs).set(slotsAsValues(rest)).where(eq(runs.id, id))
 */
export function slotsAsValues<V extends Record<string, unknown>>(
  slots: {
    [K in keyof V]: V[K] | Placeholder;
  },
): V {
  return slots as V;
}

/**
 * A placeholder for each of `columns`, named after its key: the slots a SQLite Repo prepares a
 * statement with.
 *
 * @example placeholders({ id: runs.id }) // { id: sql.placeholder("id") }
 */
export function placeholders<C extends Record<string, Column>>(columns: C): Slots<C> {
  const slots: Record<string, Placeholder> = {};
  for (const name of Object.keys(columns)) slots[name] = sql.placeholder(name);
  return slots as Slots<C>;
}

/** What each statement of a {@link Repo.transaction} resolves with. */
export type StatementResults<S extends readonly PromiseLike<unknown>[]> = { -readonly [K in keyof S]: Awaited<S[K]> };

type Same<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;

/** The names of the tables whose row types differ between the dialects (never when all agree). */
type Disagreeing<S extends Record<string, Table>, P extends TableSet> = {
  [K in keyof P & keyof S]: Same<S[K]["$inferSelect"], P[K]["$inferSelect"]> extends true
    ? Same<S[K]["$inferInsert"], P[K]["$inferInsert"]> extends true
      ? never
      : K
    : K;
}[keyof P & keyof S];

/**
 * Pair a feature's SQLite and PostgreSQL tables for {@link Repo}. Refuses to compile (naming the
 * table) when a table's selected or inserted row type differs between the dialects, which is what
 * makes handing the SQLite tables to code typed against the PostgreSQL ones sound.
 *
 * @example
 * export const nodeTables = dialectTables({ sqlite: { nodes: sqliteNodes }, postgres: { nodes: pgNodes } });
 */
export function dialectTables<P extends TableSet, S extends { [K in keyof P]: SQLiteTable }>(
  tables: { sqlite: S; postgres: P } & ([Disagreeing<S, P>] extends [never]
    ? unknown
    : { rowTypesDifferBetweenDialects: Disagreeing<S, P> }),
): DialectTables<P> {
  // The one cast: the SQLite tables answer every call of the portable subset (checked above).
  return { sqlite: tables.sqlite as unknown as P, postgres: tables.postgres };
}

/**
 * The other cast, beside {@link dialectTables}'s: the SQLite query builder seen as {@link RepoDb}.
 * Only the SQLite {@link Repo} (./sqlite.ts) calls it.
 *
 * @example const db = sqliteAsRepoDb(drizzle({ client }));
 */
export function sqliteAsRepoDb(db: BaseSQLiteDatabase<"sync", unknown>): RepoDb {
  return db as unknown as RepoDb;
}

/**
 * `work`, failing with the driver's own error rather than drizzle's wrapper around it: the
 * driver's error carries the code callers and {@link PgPool} look at (a lost connection is run
 * again, a constraint is told apart), and the wrapper's message lists the statement's parameters,
 * which must not reach a log or a client. Both Repos run every operation through it.
 *
 * @example return driverErrors(op(db));
 */
export async function driverErrors<R>(work: PromiseLike<R>): Promise<R> {
  try {
    return await work;
  } catch (err) {
    throw driverError(err);
  }
}

/**
 * The driver's own error inside drizzle's wrapper (see {@link driverErrors}), or `err` itself.
 *
 * @example return Promise.reject(driverError(err));
 */
export function driverError(err: unknown): unknown {
  return err instanceof DrizzleQueryError && err.cause !== undefined ? err.cause : err;
}
