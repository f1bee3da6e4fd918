/**
 * The PostgreSQL store: drizzle-orm/postgres-js over the `postgres` driver, chosen when
 * DATABASE_URL is set.
 *
 * @example
 * const store = await openPostgresStore({ ...config, databaseUrl: "postgres://localhost/aragora" }, log);
 * await store.ping();
 */
import type { Column, InferColumnsDataTypes } from "drizzle-orm";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { migrationsDir } from "./migrations.ts";
import { type AppliedMigration, createMigrator, MIGRATIONS_TABLE, type MigrationDriver } from "./migrator.ts";
import { nodeTables, SqlNodeRepository } from "./nodes.ts";
import { applicationName, openPgPool, type PgPool, sessionParameters } from "./pg-pool.ts";
import {
  type DialectTables,
  driverErrors,
  type Prepared,
  type Repo,
  type RepoDb,
  type RepoDriver,
  type RepoOptions,
  type Slots,
  type StatementResults,
  type TableSet,
} from "./repo.ts";
import type { Store } from "./store.ts";

/** pg_advisory_xact_lock key for migrations: the bytes of "arag" read as an integer. */
export const MIGRATION_LOCK_KEY = 0x61726167;

type Sql = postgres.Sql;

/**
 * Migration bookkeeping for PostgreSQL. Each transaction first takes a transaction-scoped advisory
 * lock, so concurrent starters serialise; DDL is transactional, so a failed migration leaves nothing.
 */
export function postgresMigrationDriver(sql: Sql): MigrationDriver {
  const table = `"${MIGRATIONS_TABLE}"`;
  const readAll = async (q: postgres.TransactionSql | Sql): Promise<AppliedMigration[]> => {
    const rows = await q.unsafe<{ tag: string; hash: string; applied_at: string }[]>(
      `SELECT tag, hash, applied_at FROM ${table} ORDER BY tag`,
    );
    return rows.map((r) => ({ tag: r.tag, hash: r.hash, appliedAt: r.applied_at }));
  };
  return {
    async readApplied() {
      const [row] = await sql<{ present: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS present`;
      return row?.present ? readAll(sql) : [];
    },
    async locked(work) {
      const result = await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`;
        await tx.unsafe(
          `CREATE TABLE IF NOT EXISTS ${table} (tag text PRIMARY KEY NOT NULL, hash text NOT NULL, applied_at text NOT NULL)`,
        );
        return {
          value: await work({
            applied: () => readAll(tx),
            execute: async (statement) => {
              await tx.unsafe(statement);
            },
            record: async (m) => {
              await tx.unsafe(`INSERT INTO ${table} (tag, hash, applied_at) VALUES ($1, $2, $3)`, [
                m.tag,
                m.hash,
                m.appliedAt,
              ]);
            },
            forget: async (tag) => {
              await tx.unsafe(`DELETE FROM ${table} WHERE tag = $1`, [tag]);
            },
          }),
        };
      });
      return result.value;
    },
  };
}

/**
 * {@link Repo} on a {@link PgPool}: every operation has the pool's deadline (past it the pool is
 * replaced), and `read` runs again while connections turn out lost. A replaced pool is a new
 * postgres.js client, so each client gets its own drizzle instance (drizzle sets the client's
 * timestamp parsers when it wraps it).
 *
 * @example const repo = new PostgresRepo(await openPgPool(url, { max: 2, connectTimeoutS: 5, name: "nodes" }), nodeTables.postgres);
 */
export class PostgresRepo<T extends TableSet> implements Repo<T> {
  readonly dialect = "postgres";
  readonly driver: RepoDriver;
  private readonly dbs = new WeakMap<Sql, RepoDb>();

  constructor(
    private readonly pool: PgPool,
    readonly tables: T,
  ) {
    this.driver = { dialect: "postgres", pool };
  }

  private db(client: Sql): RepoDb {
    let db = this.dbs.get(client);
    if (!db) {
      db = drizzle({ client });
      this.dbs.set(client, db);
    }
    return db;
  }

  read<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R> {
    return this.pool.read((client) => driverErrors(op(this.db(client))));
  }

  write<R>(op: (db: RepoDb) => PromiseLike<R>): Promise<R> {
    return this.pool.run((client) => driverErrors(op(this.db(client))));
  }

  transaction<S extends readonly PromiseLike<unknown>[]>(build: (tx: RepoDb) => [...S]): Promise<StatementResults<S>> {
    return this.pool.run((client) =>
      driverErrors(
        this.db(client).transaction(async (tx) => {
          const results: unknown[] = [];
          for (const statement of build(tx)) results.push(await statement);
          return results as StatementResults<S>;
        }),
      ),
    );
  }

  snapshot<S extends readonly PromiseLike<unknown>[]>(build: (tx: RepoDb) => [...S]): Promise<StatementResults<S>> {
    return this.pool.read((client) =>
      driverErrors(
        this.db(client).transaction(
          async (tx) => {
            const results: unknown[] = [];
            for (const statement of build(tx)) results.push(await statement);
            return results as StatementResults<S>;
          },
          { isolationLevel: "repeatable read", accessMode: "read only" },
        ),
      ),
    );
  }

  /** Built on each call's `db` or `tx`: a drizzle prepared query runs on the connection it was prepared on. */
  prepare<C extends Record<string, Column>, R>(
    _columns: C,
    build: (db: RepoDb, slots: Slots<C>) => PromiseLike<R>,
  ): Prepared<InferColumnsDataTypes<C>, R> {
    return { on: (db, values) => build(db, values as Slots<C>) };
  }

  close(): Promise<void> {
    return this.pool.end(5);
  }
}

export interface PostgresStoreOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Where the drizzle-kit migrations live (default migrations/postgres). */
  migrationsDir?: string;
  /** Every session's transactions read-only (default_transaction_read_only), and no migration. */
  readOnly?: boolean;
}

/** Connect to `config.databaseUrl` with a pool of `config.dbPoolSize` connections. */
export async function openPostgresStore(config: Config, log: Logger, opts: PostgresStoreOptions = {}): Promise<Store> {
  const url = config.databaseUrl;
  if (url === undefined) throw new Error("openPostgresStore needs DATABASE_URL");
  const readOnly = opts.readOnly === true;
  const client = postgres(url, {
    max: config.dbPoolSize,
    connect_timeout: config.dbPoolTimeoutSeconds,
    onnotice: () => {},
    connection: { application_name: applicationName("store"), ...sessionParameters({ readOnly }) },
  });
  const repoPool = (options: RepoOptions) =>
    openPgPool(url, {
      max: options.maxConnections ?? 2,
      connectTimeoutS: config.dbPoolTimeoutSeconds,
      name: options.name,
      log,
      readOnly,
      ...(options.lockTimeoutMs !== undefined ? { lockTimeoutMs: options.lockTimeoutMs } : {}),
      ...(options.idleInTransactionTimeoutMs !== undefined
        ? { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }
        : {}),
    });
  // Node rows get a pool of their own with deadlines, as every repository does; the client above
  // serves migrations, which may run longer than a statement's deadline.
  const nodes = new PostgresRepo(await repoPool({ name: "nodes" }), nodeTables.postgres);
  const migrator = createMigrator(postgresMigrationDriver(client), opts.migrationsDir ?? migrationsDir("postgres"));
  let closed = false;
  const store: Store = {
    kind: "postgres",
    nodes: new SqlNodeRepository(nodes),
    migrator,
    async openRepo<T extends TableSet>(tables: DialectTables<T>, options: RepoOptions): Promise<Repo<T>> {
      return new PostgresRepo(await repoPool(options), tables.postgres);
    },
    async ping() {
      await client`SELECT 1`;
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([nodes.close(), client.end({ timeout: 5 })]);
    },
  };
  try {
    await store.ping();
    if (!readOnly && (opts.migrate ?? true)) {
      const applied = await migrator.apply();
      if (applied.length > 0) log.info({ store: "postgres", applied }, "migrations applied");
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  log.debug({ store: "postgres" }, "store opened");
  return store;
}
