/**
 * The one column of the debates feature's table the access feature writes: `debates.org_id`, so
 * debates made before organisations existed (owned by the legacy `local` owner) move to the first
 * organisation on start. Declared here, outside the drizzle-kit schema lists (the debates feature
 * owns the table and its migrations), because features do not import each other.
 *
 * @example
 * db.update(legacyDebates).set({ orgId }).where(eq(legacyDebates.orgId, LEGACY_OWNER));
 */
import { pgTable, text as pgText } from "drizzle-orm/pg-core";
import { sqliteTable, text } from "drizzle-orm/sqlite-core";

/** The owner id every debate had before accounts existed (user and organisation alike). */
export const LEGACY_OWNER = "local";

export const sqliteLegacyDebates = sqliteTable("debates", {
  id: text("id").primaryKey(),
  orgId: text("org_id").notNull(),
});

export const postgresLegacyDebates = pgTable("debates", {
  id: pgText("id").primaryKey(),
  orgId: pgText("org_id").notNull(),
});
