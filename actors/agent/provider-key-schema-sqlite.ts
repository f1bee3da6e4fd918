/**
 * The provider keys organisations store for their own debates, for SQLite: one row per
 * (organisation, provider), the key sealed (runtime/security/field-sealer.ts: an `_encrypted`
 * envelope bound to this table, the row's id and the field `secret`; plaintext only when the
 * server has no encryption key), its last four characters to show, and who set it when. The row's
 * id is `<org id>/<provider>`, so a sealed key is bound to its organisation and provider: copied
 * to another row it does not decrypt. Keep in agreement with ./provider-key-schema-postgres.ts.
 *
 * @example
 * import { providerKeys } from "./provider-key-schema-sqlite.ts";
 * db.select().from(providerKeys).where(eq(providerKeys.orgId, "org-1"));
 */
import { integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// Milliseconds since the epoch, like the other tables: comparable as numbers in the sqlite3 shell.
const instant = (name: string) => integer(name, { mode: "timestamp_ms" });

export const providerKeys = sqliteTable(
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
