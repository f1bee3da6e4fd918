/**
 * {@link LeaseRepository} over `delivery_leases` (./leases-schema-postgres.ts): while several server
 * processes share one PostgreSQL database, each webhook endpoint and each integration is delivered
 * for by the one node holding its lease. Every time here is the database's (`now()`), so the
 * nodes' clocks need not agree; a lease's holder changes only once it has expired, atomically (an
 * upsert whose update applies only to an expired row), and each change adds one to its `epoch`
 * (a released lease keeps its row, held by no node, so the count never starts again).
 *
 * PostgreSQL only: on SQLite one server holds the store (the server lock), so nothing is leased.
 *
 * @example
 * const leases = new LeaseRepository(await store.openRepo(leaseTables, { name: "leases" }));
 * const won = await leases.claim("webhook", nodeId, ["wh_1", "wh_2"], 15_000); // [{ resourceId: "wh_1", epoch: 1 }]
 * const kept = await leases.renew("webhook", nodeId, 15_000);
 */
import { and, count, eq, gt, inArray, ne, type SQL, sql } from "drizzle-orm";
import { deliveryLeases as postgresLeases } from "./leases-schema-postgres.ts";
import { deliveryLeases as sqliteLeases } from "./leases-schema-sqlite.ts";
import { dialectTables, type Repo } from "./repo.ts";

/** The `delivery_leases` table in each dialect. */
export const leaseTables = dialectTables({
  sqlite: { leases: sqliteLeases },
  postgres: { leases: postgresLeases },
});

/** What is leased: a webhook endpoint or an integration. */
export type LeaseKind = "webhook" | "integration";

/**
 * The kind of the rows saying which nodes take part in leasing `kind` (one per node, resource id
 * the node's id, renewed with its leases): a node whose row expired is gone.
 */
const presenceOf = (kind: LeaseKind) => `${kind}.nodes`;

/**
 * The holder of a released lease: its row stays (expired, held by no node) so that the next claim
 * counts its epoch on from there. Deleting it would start the next holder again at epoch 1, and an
 * attempt its old holder began under that epoch would pass the fencing check.
 */
const RELEASED = "";

/** A lease this node holds. */
export interface HeldLease {
  resourceId: string;
  /** The fencing token: one more at every change of holder. */
  epoch: number;
}

/** A lease as every node sees it. */
export interface LeaseView {
  resourceId: string;
  nodeId: string;
  /** Past its expiry: any node may take it. */
  expired: boolean;
  /** Expired for longer than a whole lease: its holder is gone. */
  abandoned: boolean;
}

export class LeaseRepository {
  constructor(private readonly repo: Repo<typeof leaseTables.postgres>) {
    if (repo.dialect !== "postgres")
      throw new Error("delivery leases are for PostgreSQL: one server holds a SQLite store");
  }

  /** `now() + ttlMs`, in the database. */
  private expiry(ttlMs: number): SQL {
    return sql`now() + (${ttlMs}::double precision * interval '1 millisecond')`;
  }

  /**
   * Extends every unexpired lease of `kind` that `nodeId` holds to `ttlMs` from now; returns those
   * (a lease missing from the answer is no longer this node's).
   */
  renew(kind: LeaseKind, nodeId: string, ttlMs: number): Promise<HeldLease[]> {
    const { leases } = this.repo.tables;
    return this.repo.write((db) =>
      db
        .update(leases)
        .set({ expiresAt: this.expiry(ttlMs) })
        .where(and(eq(leases.kind, kind), eq(leases.nodeId, nodeId), gt(leases.expiresAt, sql`now()`)))
        .returning({ resourceId: leases.resourceId, epoch: leases.epoch }),
    );
  }

  /**
   * Says that `nodeId` takes part in leasing `kind` for `ttlMs` from now, and returns every node
   * that does (its own row included): the nodes the leases are shared among.
   */
  async present(kind: LeaseKind, nodeId: string, ttlMs: number): Promise<string[]> {
    const { leases } = this.repo.tables;
    const presence = presenceOf(kind);
    const [, rows] = await this.repo.transaction((tx) => [
      tx
        .insert(leases)
        .values({
          kind: presence,
          resourceId: nodeId,
          nodeId,
          epoch: 1,
          acquiredAt: sql`now()`,
          expiresAt: this.expiry(ttlMs),
        })
        .onConflictDoUpdate({ target: [leases.kind, leases.resourceId], set: { expiresAt: this.expiry(ttlMs) } }),
      tx
        .select({ nodeId: leases.nodeId })
        .from(leases)
        .where(and(eq(leases.kind, presence), gt(leases.expiresAt, sql`now()`))),
    ]);
    return rows.map((r) => r.nodeId);
  }

  /**
   * Every held lease of `kind` (a released one is as free as one never taken), with whether it has
   * expired (and for longer than `ttlMs`).
   */
  list(kind: LeaseKind, ttlMs: number): Promise<LeaseView[]> {
    const { leases } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select({
          resourceId: leases.resourceId,
          nodeId: leases.nodeId,
          expired: sql<boolean>`${leases.expiresAt} <= now()`,
          abandoned: sql<boolean>`${leases.expiresAt} <= now() - (${ttlMs}::double precision * interval '1 millisecond')`,
        })
        .from(leases)
        .where(and(eq(leases.kind, kind), ne(leases.nodeId, RELEASED))),
    );
  }

  /**
   * Takes the leases of `ids` that no node holds (no row, or expired) for `nodeId`, `ttlMs` from
   * now; returns those taken. Two nodes claiming one lease at once: one of them gets it.
   */
  async claim(kind: LeaseKind, nodeId: string, ids: readonly string[], ttlMs: number): Promise<HeldLease[]> {
    if (ids.length === 0) return [];
    const { leases } = this.repo.tables;
    // In one order on every node: two nodes inserting the same free leases in different orders
    // would each wait for a row the other holds (PostgreSQL reports a deadlock and fails one).
    const ordered = [...new Set(ids)].sort();
    return this.repo.write((db) =>
      db
        .insert(leases)
        .values(
          ordered.map((resourceId) => ({
            kind,
            resourceId,
            nodeId,
            epoch: 1,
            acquiredAt: sql`now()`,
            expiresAt: this.expiry(ttlMs),
          })),
        )
        .onConflictDoUpdate({
          target: [leases.kind, leases.resourceId],
          set: { nodeId, epoch: sql`${leases.epoch} + 1`, acquiredAt: sql`now()`, expiresAt: this.expiry(ttlMs) },
          // The row is locked and this condition checked again on its latest version: of two nodes
          // taking one expired lease, the second finds it unexpired and gets nothing.
          setWhere: sql`${leases.expiresAt} <= now()`,
        })
        .returning({ resourceId: leases.resourceId, epoch: leases.epoch }),
    );
  }

  /**
   * Gives up `nodeId`'s leases of `kind` (those of `ids`, or all): other nodes take them at their
   * next claim instead of waiting for them to expire.
   */
  async release(kind: LeaseKind, nodeId: string, ids?: readonly string[]): Promise<void> {
    if (ids !== undefined && ids.length === 0) return;
    const { leases } = this.repo.tables;
    const mine = and(eq(leases.kind, kind), eq(leases.nodeId, nodeId));
    await this.repo.transaction((tx) => [
      // Expired and held by nobody, its epoch kept (see RELEASED).
      tx
        .update(leases)
        .set({ nodeId: RELEASED, expiresAt: sql`now()` })
        .where(ids === undefined ? mine : and(mine, inArray(leases.resourceId, [...ids]))),
      // All: this node's presence goes too (it no longer takes part).
      ...(ids === undefined
        ? [tx.delete(leases).where(and(eq(leases.kind, presenceOf(kind)), eq(leases.nodeId, nodeId)))]
        : []),
    ]);
  }

  /** How many unexpired leases of `kind` each node holds. */
  holders(kind: LeaseKind): Promise<{ nodeId: string; held: number }[]> {
    const { leases } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select({ nodeId: leases.nodeId, held: count() })
        .from(leases)
        .where(and(eq(leases.kind, kind), gt(leases.expiresAt, sql`now()`)))
        .groupBy(leases.nodeId)
        .orderBy(leases.nodeId),
    );
  }

  /** The node holding each of `ids` (unexpired leases only). */
  async holderOf(kind: LeaseKind, ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const { leases } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select({ resourceId: leases.resourceId, nodeId: leases.nodeId })
        .from(leases)
        .where(and(eq(leases.kind, kind), inArray(leases.resourceId, [...ids]), gt(leases.expiresAt, sql`now()`))),
    );
    return new Map(rows.map((r) => [r.resourceId, r.nodeId]));
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}
