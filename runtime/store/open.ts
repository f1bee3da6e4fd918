/**
 * The one place that decides where rows live: PostgreSQL when DATABASE_URL is set, otherwise
 * the embedded SQLite file `<ARAGORA_DATA_DIR>/core.db`.
 *
 * @example
 * const store = await openStore(config, log); // pending migrations applied
 * const live = await store.nodes.list({ activeOnly: true });
 * await store.close();
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { Dialect } from "./repo.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  /** Apply pending migrations before returning (default true; `aragora migrate` passes false). */
  migrate?: boolean;
  /** Override the migrations directory (tests); default migrations/<dialect>. */
  migrationsDir?: string;
  /**
   * Open an existing store for reading only (`aragora verify`): SQLite through read-only
   * connections to a `core.db` that must exist (else `NoDatabase`, and nothing is created),
   * PostgreSQL through sessions whose transactions are read-only; no migration runs.
   */
  readOnly?: boolean;
}

/**
 * The dialect of the configured store. A process that holds a {@link Store} reads `store.kind`;
 * this is for the few that must know before (or without) opening one, such as a read-only check.
 *
 * @example storeDialect(loadConfig({ DATABASE_URL: "postgres://db/aragora" })) // "postgres"
 */
export function storeDialect(config: Pick<Config, "databaseUrl">): Dialect {
  return config.databaseUrl !== undefined ? "postgres" : "sqlite";
}

/** Open the configured store; rejects when the database is unreachable or a migration fails. */
export async function openStore(config: Config, log: Logger, opts: OpenStoreOptions = {}): Promise<Store> {
  // Each dialect's driver is loaded only when chosen: start-up time is a feature.
  if (storeDialect(config) === "postgres") return (await import("./postgres.ts")).openPostgresStore(config, log, opts);
  return (await import("./sqlite.ts")).openSqliteStore(config, log, opts);
}
