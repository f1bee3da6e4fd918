/**
 * {@link NodeRepository} over the PostgreSQL `nodes` table.
 *
 * @example
 * const nodes = new PostgresNodeRepository(drizzle({ client: postgres(url), schema }));
 * await nodes.register({ id, hostname, pid, apiPort, wsPort, version, startedAt: new Date() });
 */
import { and, desc, eq, gte, isNull, type SQL } from "drizzle-orm";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import { nodes } from "./nodes-schema-postgres.ts";
import {
  type NodeListOptions,
  type NodeRecord,
  type NodeRegistration,
  type NodeRepository,
  UnknownNodeError,
} from "./store.ts";

export class PostgresNodeRepository implements NodeRepository {
  constructor(private readonly db: PostgresJsDatabase) {}

  async register(node: NodeRegistration): Promise<void> {
    await this.db.insert(nodes).values({ ...node, heartbeatAt: node.startedAt });
  }

  async heartbeat(id: string, at: Date): Promise<void> {
    const rows = await this.db
      .update(nodes)
      .set({ heartbeatAt: at })
      .where(eq(nodes.id, id))
      .returning({ id: nodes.id });
    if (rows.length === 0) throw new UnknownNodeError(id);
  }

  async markStopped(id: string, at: Date, reason: string): Promise<void> {
    const rows = await this.db
      .update(nodes)
      .set({ stoppedAt: at, stopReason: reason })
      .where(eq(nodes.id, id))
      .returning({ id: nodes.id });
    if (rows.length === 0) throw new UnknownNodeError(id);
  }

  async list(options: NodeListOptions = {}): Promise<NodeRecord[]> {
    const conditions: SQL[] = [];
    if (options.activeOnly) conditions.push(isNull(nodes.stoppedAt));
    if (options.heartbeatSince) conditions.push(gte(nodes.heartbeatAt, options.heartbeatSince));
    return this.db
      .select()
      .from(nodes)
      .where(and(...conditions))
      .orderBy(desc(nodes.startedAt), nodes.id);
  }
}
