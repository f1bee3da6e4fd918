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
import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

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
