/**
 * The provider keys organisations store for their own debates, for PostgreSQL: one row per
 * (organisation, provider), the key sealed, its last four characters, who set it when. See
 * ./provider-key-schema-sqlite.ts, with which it must agree.
 *
 * @example
 * import { providerKeys } from "./provider-key-schema-postgres.ts";
 * db.select().from(providerKeys).where(eq(providerKeys.orgId, "org-1"));
 */
import { pgTable, text, timestamp, uniqueIndex } from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const providerKeys = pgTable(
  "provider_keys",
  {
    id: text("id").primaryKey(),
    orgId: text("org_id").notNull(),
    provider: text("provider").notNull(),
    secret: text("secret").notNull(),
    lastFour: text("last_four").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: instant("created_at").notNull(),
    updatedBy: text("updated_by").notNull(),
    updatedAt: instant("updated_at").notNull(),
  },
  (t) => [uniqueIndex("provider_keys_org_provider").on(t.orgId, t.provider)],
);
