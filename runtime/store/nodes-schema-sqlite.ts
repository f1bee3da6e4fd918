/**
 * `nodes` for SQLite: one row per server process start. The server registers itself on start,
 * heartbeats while it runs and marks itself stopped on graceful shutdown, so `ops run` can find a
 * live server for the same data directory. Keep in agreement with ./nodes-schema-postgres.ts.
 *
 * @example
 * import { nodes } from "./nodes-schema-sqlite.ts";
 * db.select().from(nodes).where(isNull(nodes.stoppedAt));
 */
import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const nodes = sqliteTable(
  "nodes",
  {
    id: text("id").primaryKey(),
    hostname: text("hostname").notNull(),
    pid: integer("pid").notNull(),
    apiPort: integer("api_port").notNull(),
    wsPort: integer("ws_port").notNull(),
    version: text("version").notNull(),
    // Milliseconds since the epoch: sorts and compares as a number in the sqlite3 shell too.
    startedAt: integer("started_at", { mode: "timestamp_ms" }).notNull(),
    heartbeatAt: integer("heartbeat_at", { mode: "timestamp_ms" }).notNull(),
    stoppedAt: integer("stopped_at", { mode: "timestamp_ms" }),
    stopReason: text("stop_reason"),
    // The node's encryption key ids as a JSON array, the active one first ("[]": no key, secrets
    // stored unencrypted; null: a node of a version that did not report them). Written at every
    // heartbeat and right after a key reload: the rotation waits until every live node reports
    // the new key first (runtime/store/node-keys.ts).
    encryptionKeyIds: text("encryption_key_ids"),
  },
  (t) => [index("nodes_started_at_idx").on(t.startedAt)],
);
