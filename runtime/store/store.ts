/**
 * The storage contract every caller sees. Whether the rows live in the embedded SQLite file or in
 * PostgreSQL is decided once, in {@link openStore} (./open.ts); nothing above these interfaces
 * knows which.
 *
 * @example
 * const store = await openStore(config, log);
 * await store.nodes.heartbeat(nodeId, new Date());
 * await store.close();
 */
import type { nodes } from "./nodes-schema-postgres.ts";
import type { DialectTables, Repo, RepoOptions, TableSet } from "./repo.ts";

/** One server process start, as recorded in the `nodes` table (the same in both dialects). */
export type NodeRecord = typeof nodes.$inferSelect;

/** What a starting server knows about itself; its first heartbeat is its start. */
export type NodeRegistration = Pick<
  NodeRecord,
  "id" | "hostname" | "pid" | "apiPort" | "wsPort" | "version" | "startedAt"
> & {
  /** Its encryption key ids, the active one first ([]: none); absent: not reported. */
  encryptionKeyIds?: readonly string[];
};

export interface NodeListOptions {
  /** Only nodes that have not marked themselves stopped. */
  activeOnly?: boolean;
  /** Only nodes whose last heartbeat is at or after this instant (a crashed node never marks itself stopped). */
  heartbeatSince?: Date;
}

/**
 * A store opened read-only (`aragora verify`) where there is none: no `core.db` in the data dir.
 * Nothing is created in its place.
 */
export class NoDatabase extends Error {
  override name = "NoDatabase";
}

/** Raised when a heartbeat or stop names a node that was never registered. */
export class UnknownNodeError extends Error {
  override name = "UnknownNodeError";
  constructor(readonly nodeId: string) {
    super(`no node with id "${nodeId}" is registered`);
  }
}

export interface NodeRepository {
  /** Record a server process start. */
  register(node: NodeRegistration): Promise<void>;
  /**
   * Move a node's heartbeat forward, with its encryption key ids when given (the active one first;
   * absent: left as they were); throws {@link UnknownNodeError} for an unregistered id.
   */
  heartbeat(id: string, at: Date, encryptionKeyIds?: readonly string[]): Promise<void>;
  /** Record a graceful shutdown; throws {@link UnknownNodeError} for an unregistered id. */
  markStopped(id: string, at: Date, reason: string): Promise<void>;
  /** Nodes, newest start first. */
  list(options?: NodeListOptions): Promise<NodeRecord[]>;
}

/** One migration as the database and the files see it. */
export interface MigrationStatus {
  tag: string;
  applied: boolean;
  /** ISO-8601 instant the migration was applied. */
  appliedAt?: string;
  /**
   * Set when database and files disagree: `modified` means the up file changed after it was
   * applied (its sha256 differs); `missing` means the database records a migration no file has.
   */
  problem?: "modified" | "missing";
}

export interface Migrator {
  /** Every known migration in order, then any applied migration that has no file. */
  status(): Promise<MigrationStatus[]>;
  /** Apply every pending migration, each in its own locked transaction; returns the applied tags. */
  apply(): Promise<string[]>;
  /** Undo the last applied migration with its down file; returns its tag, or null when none is applied. */
  rollback(): Promise<string | null>;
}

export interface Store {
  kind: "sqlite" | "postgres";
  nodes: NodeRepository;
  migrator: Migrator;
  /**
   * A {@link Repo} on this store's database for a feature's tables, with its own connection
   * (SQLite) or pool (PostgreSQL, `maxConnections`, default 2); the dialect is this store's.
   *
   * @example const journal = new SqlOpsJournal(await store.openRepo(journalTables, { name: "ops journal" }));
   */
  openRepo<T extends TableSet>(tables: DialectTables<T>, options: RepoOptions): Promise<Repo<T>>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  /** Release the connection(s); the store is unusable afterwards. */
  close(): Promise<void>;
  /** The SQLite database file (`<dataDir>/core.db`); absent for PostgreSQL. */
  sqlitePath?: string;
}
