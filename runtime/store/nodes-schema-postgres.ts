/**
 * `nodes` for PostgreSQL: one row per server process start. The server registers itself on start,
 * heartbeats while it runs and marks itself stopped on graceful shutdown, so `ops run` can find a
 * live server. Keep in agreement with ./nodes-schema-sqlite.ts.
 *
 * @example
 * import { nodes } from "./nodes-schema-postgres.ts";
 * db.select().from(nodes).where(isNull(nodes.stoppedAt));
 */
import { index, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

export const nodes = pgTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    pid: integer("pid").notNull(),
    apiPort: integer("api_port").notNull(),
    wsPort: integer("ws_port").notNull(),
    version: text("version").notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, precision: 3, mode: "date" }).notNull(),
    heartbeatAt: timestamp("heartbeat_at", { withTimezone: true, precision: 3, mode: "date" }).notNull(),
    stoppedAt: timestamp("stopped_at", { withTimezone: true, precision: 3, mode: "date" }),
    stopReason: text("stop_reason"),
    // The node's encryption key ids as a JSON array, the active one first ("[]": no key, secrets
    // stored unencrypted; null: a node of a version that did not report them). Written at every
    // heartbeat and right after a key reload: the rotation waits until every live node reports
    // the new key first (runtime/store/node-keys.ts).
    encryptionKeyIds: text("encryption_key_ids"),
  },
  (t) => [index("nodes_started_at_idx").on(t.startedAt)],
);
