/**
 * {@link NodeRepository} over the `nodes` table, one class for both dialects (the style of
 * ./repo.ts): the server registers itself on start, heartbeats while it runs and marks itself
 * stopped on graceful shutdown, so `ops run` can find a live server.
 *
 * @example
 * const nodes = new SqlNodeRepository(await store.openRepo(nodeTables, { name: "nodes" }));
 * await nodes.register({ id, hostname, pid, apiPort, wsPort, version, startedAt: new Date() });
 */
import { and, desc, eq, gte, isNull, type SQL } from "drizzle-orm";
import { nodes as postgresNodes } from "./nodes-schema-postgres.ts";
import { nodes as sqliteNodes } from "./nodes-schema-sqlite.ts";
import { dialectTables, type Repo } from "./repo.ts";
import {
  type NodeListOptions,
  type NodeRecord,
  type NodeRegistration,
  type NodeRepository,
  UnknownNodeError,
} from "./store.ts";

/** The `nodes` table in each dialect. */
export const nodeTables = dialectTables({ sqlite: { nodes: sqliteNodes }, postgres: { nodes: postgresNodes } });

export class SqlNodeRepository implements NodeRepository {
  constructor(private readonly repo: Repo<typeof nodeTables.postgres>) {}

  async register(node: NodeRegistration): Promise<void> {
    const { nodes } = this.repo.tables;
    const { encryptionKeyIds, ...row } = node;
    await this.repo.write((db) =>
      db.insert(nodes).values({
        ...row,
        heartbeatAt: node.startedAt,
        encryptionKeyIds: encryptionKeyIds === undefined ? null : JSON.stringify(encryptionKeyIds),
      }),
    );
  }

  async heartbeat(id: string, at: Date, encryptionKeyIds?: readonly string[]): Promise<void> {
    await this.update(
      id,
      encryptionKeyIds === undefined
        ? { heartbeatAt: at }
        : { heartbeatAt: at, encryptionKeyIds: JSON.stringify(encryptionKeyIds) },
    );
  }

  async markStopped(id: string, at: Date, reason: string): Promise<void> {
    await this.update(id, { stoppedAt: at, stopReason: reason });
  }

  private async update(id: string, set: Partial<NodeRecord>): Promise<void> {
    const { nodes } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db.update(nodes).set(set).where(eq(nodes.id, id)).returning({ id: nodes.id }),
    );
    if (rows.length === 0) throw new UnknownNodeError(id);
  }

  list(options: NodeListOptions = {}): Promise<NodeRecord[]> {
    const { nodes } = this.repo.tables;
    const conditions: SQL[] = [];
    if (options.activeOnly) conditions.push(isNull(nodes.stoppedAt));
    if (options.heartbeatSince) conditions.push(gte(nodes.heartbeatAt, options.heartbeatSince));
    return this.repo.read((db) =>
      db
        .select()
        .from(nodes)
        .where(and(...conditions))
        .orderBy(desc(nodes.startedAt), nodes.id),
    );
  }
}
