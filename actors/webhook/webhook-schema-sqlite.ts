/**
 * The webhooks feature's tables for SQLite. Keep in agreement with ./webhook-schema-postgres.ts.
 *
 * - `webhook_endpoints`: one row per endpoint of an organisation: its URL, the event types it takes
 *   (a JSON array; empty: all), whether it is enabled and why not, and its signing secret sealed
 *   (runtime/security/field-sealer.ts, bound to this table, the row's id and the field `secret`),
 *   with the secret it replaced (field `previous_secret`) while that one is still valid.
 * - `webhook_deliveries`: one row per (target, event), a target being a webhook endpoint or an
 *   integration (`target_kind`; one delivery engine, actors/delivery/): the body exactly as it is sent,
 *   its state (PENDING, IN_PROGRESS, DELIVERED, RETRYING, DEAD_LETTERED), attempts and when the
 *   next one is due. The unique (endpoint, event key) makes turning an event into deliveries
 *   idempotent: done twice (a crash between the two steps), it makes each delivery once.
 * - `webhook_attempts`: every attempt of a delivery: the HTTP status, latency, the start of the
 *   response body, or the error.
 *
 * @example
 * import { webhookEndpoints } from "./webhook-schema-sqlite.ts";
 * db.select().from(webhookEndpoints).where(eq(webhookEndpoints.orgId, "org-1"));
 */
import { index, integer, primaryKey, real, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Milliseconds since the epoch, like the other tables.
const instant = (name: string) => integer(name, { mode: "timestamp_ms" });

export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    url: text("url").notNull(),
    eventTypes: text("event_types").notNull(),
    description: text("description").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    disabledReason: text("disabled_reason"),
    secret: text("secret").notNull(),
    previousSecret: text("previous_secret"),
    previousSecretExpiresAt: instant("previous_secret_expires_at"),
    createdBy: text("created_by").notNull(),
    createdAt: instant("created_at").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [index("webhook_endpoints_org_idx").on(t.orgId, t.createdAt)],
);

export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    // The target: a webhook endpoint's id, or an integration's (`target_kind` says which). No
    // foreign key: a target's deliveries are removed with it by its store.
    endpointId: text("endpoint_id").notNull(),
    targetKind: text("target_kind").notNull().default("webhook"),
    orgId: text("org_id").notNull(),
    eventType: text("event_type").notNull(),
    // What the delivery is of: `<debate id>:<seq>` for a debate's event, `test:<uuid>` for a test.
    eventKey: text("event_key").notNull(),
    payload: text("payload").notNull(),
    state: text("state").notNull(),
    attempts: integer("attempts").notNull(),
    // Attempts made before the last manual retry: the retry budget counts from here.
    retryBase: integer("retry_base").notNull(),
    nextAttemptAt: instant("next_attempt_at").notNull(),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: instant("created_at").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_endpoint_event").on(t.endpointId, t.eventKey),
    // An endpoint actor loads what it still has to send, soonest first.
    index("webhook_deliveries_due_idx").on(t.endpointId, t.state, t.nextAttemptAt),
    index("webhook_deliveries_endpoint_created_idx").on(t.endpointId, t.createdAt),
    // Dead letters and the metrics summary read one organisation's deliveries by state.
    index("webhook_deliveries_org_state_idx").on(t.orgId, t.state, t.updatedAt),
  ],
);

export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    at: instant("at").notNull(),
    status: integer("status"),
    latencyMs: real("latency_ms").notNull(),
    responseBody: text("response_body"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
