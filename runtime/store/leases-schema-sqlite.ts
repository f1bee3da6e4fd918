/**
 * `delivery_leases` for SQLite: the same table as ./leases-schema-postgres.ts, with which it must
 * agree. One server holds a SQLite store (the server lock), so nothing leases there and the table
 * stays empty; it exists so both dialects have the same schema.
 *
 * @example
 * import { deliveryLeases } from "./leases-schema-sqlite.ts";
 */
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const deliveryLeases = sqliteTable(
  "delivery_leases",
  {
    kind: text("kind").notNull(),
    resourceId: text("resource_id").notNull(),
    nodeId: text("node_id").notNull(),
    epoch: integer("epoch").notNull(),
    // Milliseconds since the epoch, as in the other SQLite tables.
    acquiredAt: integer("acquired_at", { mode: "timestamp_ms" }).notNull(),
    expiresAt: integer("expires_at", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.resourceId] }), index("delivery_leases_node_idx").on(t.kind, t.nodeId)],
);
