/**
 * `delivery_leases` for PostgreSQL: which node delivers for which webhook endpoint or integration
 * while several server processes share one database. A row is a lease: held by `node_id` until
 * `expires_at` (the database's clock, so the nodes' clocks need not agree), renewed while held,
 * taken over once expired; `epoch` counts the changes of holder (the fencing token). Written and
 * read by ./leases.ts. Keep in agreement with ./leases-schema-sqlite.ts.
 *
 * @example
 * import { deliveryLeases } from "./leases-schema-postgres.ts";
 * db.select().from(deliveryLeases).where(eq(deliveryLeases.nodeId, nodeId));
 */
import { index, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";

export const deliveryLeases = pgTable(
  "delivery_leases",
  {
    /** What is leased: "webhook" (an endpoint) or "integration". */
    kind: text("kind").notNull(),
    /** The endpoint's or integration's id. */
    resourceId: text("resource_id").notNull(),
    nodeId: text("node_id").notNull(),
    epoch: integer("epoch").notNull(),
    acquiredAt: timestamp("acquired_at", { withTimezone: true, precision: 3, mode: "date" }).notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3, mode: "date" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.resourceId] }), index("delivery_leases_node_idx").on(t.kind, t.nodeId)],
);
