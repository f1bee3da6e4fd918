/**
 * Organisations' integrations (Slack, Discord, Teams, a generic OAuth2 API), for SQLite: one row
 * per integration, its settings that are not secret as JSON, its credentials (a chat webhook URL,
 * an OAuth2 client secret and tokens) as one sealed JSON field (runtime/security/field-sealer.ts:
 * an `_encrypted` envelope bound to this table, the row's id and the field `credentials`). Keep in
 * agreement with ./integration-schema-postgres.ts.
 *
 * @example
 * import { integrations } from "./integration-schema-sqlite.ts";
 * db.select().from(integrations).where(eq(integrations.orgId, "org-1"));
 */
import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

const instant = (name: string) => integer(name, { mode: "timestamp_ms" });

export const integrations = sqliteTable(
  "integrations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    kind: text("kind").notNull(),
    name: text("name").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    /** Why it was disabled by the server (its service answered 410 Gone); null when enabled or by a person. */
    disabledReason: text("disabled_reason"),
    /** JSON: the settings that are not secret (an OAuth2 token URL, client id ...). */
    settings: text("settings").notNull(),
    /** The sealed JSON of the secrets. */
    credentials: text("credentials").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: instant("created_at").notNull(),
    updatedBy: text("updated_by").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  // Also the index of an organisation's integrations (its prefix).
  (t) => [uniqueIndex("integrations_org_name").on(t.orgId, t.name)],
);

/**
 * One row per (integration, debate): the outcome posted to it, kept until delivered or given up
 * on, so a crash loses none. The unique (integration, event key) makes turning a debate's end
 * into deliveries idempotent, as webhook deliveries are.
 */
export const integrationDeliveries = sqliteTable(
  "integration_deliveries",
  {
    id: text("id").primaryKey(),
    integrationId: text("integration_id")
      .notNull()
      .references(() => integrations.id, { onDelete: "cascade" }),
    orgId: text("org_id").notNull(),
    eventType: text("event_type").notNull(),
    /** `<debate id>:<seq>` of the event that caused it. */
    eventKey: text("event_key").notNull(),
    /** The debate's outcome as JSON (schemas/integrations.ts DebateOutcome), formatted at each attempt. */
    payload: text("payload").notNull(),
    state: text("state").notNull(),
    attempts: integer("attempts").notNull(),
    nextAttemptAt: instant("next_attempt_at").notNull(),
    lastError: text("last_error"),
    lastStatus: integer("last_status"),
    createdAt: instant("created_at").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("integration_deliveries_integration_event").on(t.integrationId, t.eventKey),
    index("integration_deliveries_due_idx").on(t.integrationId, t.state, t.nextAttemptAt),
  ],
);
