/**
 * Public surface of the store; import from here, not from the dialect modules.
 *
 * @example
 * import { openStore, type Store } from "../store/index.ts";
 */
export { MigrationError } from "./migrator.ts";
export { type OpenStoreOptions, openStore, storeDialect } from "./open.ts";
export {
  type Dialect,
  type DialectTables,
  dialectTables,
  type Repo,
  type RepoDb,
  type RepoOptions,
  type TableSet,
} from "./repo.ts";
export { SQLITE_FILE } from "./sqlite.ts";
export type {
  MigrationStatus,
  Migrator,
  NodeListOptions,
  NodeRecord,
  NodeRegistration,
  NodeRepository,
  Store,
} from "./store.ts";
export { NoDatabase, UnknownNodeError } from "./store.ts";
