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
import { openPostgresStore } from "./postgres.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  /** Apply pending migrations before returning (default true; `aragora migrate` passes false). */
  migrate?: boolean;
  /** Override the migrations directory (tests); default migrations/<dialect>. */
  migrationsDir?: string;
}

/** Open the configured store; rejects when the database is unreachable or a migration fails. */
export function openStore(config: Config, log: Logger, opts: OpenStoreOptions = {}): Promise<Store> {
  return config.databaseUrl !== undefined ? openPostgresStore(config, log, opts) : openSqliteStore(config, log, opts);
}
