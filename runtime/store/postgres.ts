/**
 * The PostgreSQL store: drizzle-orm/postgres-js over the `postgres` driver, chosen when
 * DATABASE_URL is set.
 *
 * @example
 * const store = await openPostgresStore({ ...config, databaseUrl: "postgres://localhost/aragora" }, log);
 * await store.ping();
 */
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { migrationsDir } from "./migrations.ts";
import { type AppliedMigration, createMigrator, MIGRATIONS_TABLE, type MigrationDriver } from "./migrator.ts";
import { PostgresNodeRepository } from "./nodes-postgres.ts";
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

export interface PostgresStoreOptions {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Where the drizzle-kit migrations live (default migrations/postgres). */
  migrationsDir?: string;
}

/** Connect to `config.databaseUrl` with a pool of `config.dbPoolSize` connections. */
export async function openPostgresStore(config: Config, log: Logger, opts: PostgresStoreOptions = {}): Promise<Store> {
  const url = config.databaseUrl;
  if (url === undefined) throw new Error("openPostgresStore needs DATABASE_URL");
  const client = postgres(url, {
    max: config.dbPoolSize,
    connect_timeout: config.dbPoolTimeoutSeconds,
    onnotice: () => {},
  });
  const db = drizzle({ client });
  const migrator = createMigrator(postgresMigrationDriver(client), opts.migrationsDir ?? migrationsDir("postgres"));
  let closed = false;
  const store: Store = {
    kind: "postgres",
    nodes: new PostgresNodeRepository(db),
    migrator,
    async ping() {
      await client`SELECT 1`;
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.end({ timeout: 5 });
    },
  };
  try {
    await store.ping();
    if (opts.migrate ?? true) {
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
