/**
 * Organisations' integrations, for PostgreSQL. See ./integration-schema-sqlite.ts, with which it
 * must agree.
 *
 * @example
 * import { integrations } from "./integration-schema-postgres.ts";
 * db.select().from(integrations).where(eq(integrations.orgId, "org-1"));
 */
import { boolean, pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const integrations = pgTable(
  "integrations",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    kind: text("kind").notNull(),
    name: text("name").notNull(),
    enabled: boolean("enabled").notNull(),
    disabledReason: text("disabled_reason"),
    settings: text("settings").notNull(),
    credentials: text("credentials").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: instant("created_at").notNull(),
    updatedBy: text("updated_by").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  // Also the index of an organisation's integrations (its prefix).
  (t) => [uniqueIndex("integrations_org_name").on(t.orgId, t.name)],
);
