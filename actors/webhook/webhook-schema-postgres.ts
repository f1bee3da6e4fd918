/**
 * The webhooks feature's tables for PostgreSQL; see ./webhook-schema-sqlite.ts, with which it must agree.
 *
 * @example
 * import { webhookEndpoints } from "./webhook-schema-postgres.ts";
 * db.select().from(webhookEndpoints).where(eq(webhookEndpoints.orgId, "org-1"));
 */
import {
  boolean,
  doublePrecision,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    url: text("url").notNull(),
    eventTypes: text("event_types").notNull(),
    description: text("description").notNull(),
    enabled: boolean("enabled").notNull(),
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

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    // The target: a webhook endpoint's id, or an integration's (`target_kind` says which). No
    // foreign key: a target's deliveries are removed with it by its store.
    endpointId: text("endpoint_id").notNull(),
    targetKind: text("target_kind").notNull().default("webhook"),
    orgId: text("org_id").notNull(),
    eventType: text("event_type").notNull(),
    eventKey: text("event_key").notNull(),
    payload: text("payload").notNull(),
    state: text("state").notNull(),
    attempts: integer("attempts").notNull(),
    retryBase: integer("retry_base").notNull(),
    nextAttemptAt: instant("next_attempt_at").notNull(),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: instant("created_at").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_endpoint_event").on(t.endpointId, t.eventKey),
    index("webhook_deliveries_due_idx").on(t.endpointId, t.state, t.nextAttemptAt),
    index("webhook_deliveries_endpoint_created_idx").on(t.endpointId, t.createdAt),
    index("webhook_deliveries_org_state_idx").on(t.orgId, t.state, t.updatedAt),
  ],
);

export const webhookAttempts = pgTable(
  "webhook_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => webhookDeliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    at: instant("at").notNull(),
    status: integer("status"),
    latencyMs: doublePrecision("latency_ms").notNull(),
    responseBody: text("response_body"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);
