/**
 * An {@link EncryptedStore} over one sealed text column of one table keyed by a text id: what the
 * TOTP secrets and the organisations' provider keys both are. The scan pages in id order; the
 * replace is a compare-and-set built once ({@link Repo.prepare}): a migration writes every record
 * through it, and building the statement with drizzle each time cost ten times what SQLite takes to
 * run it (bench:crypto's encrypt_existing_100k).
 *
 * @example
 * const repo = await store.openRepo(mfaTables, { name: "mfa-secrets", maxConnections: 1 });
 * const { mfaTotp } = repo.tables;
 * return sealedColumnStore(repo, {
 *   name: "mfa_totp", description: "TOTP secrets (second factor)",
 *   table: mfaTotp, id: mfaTotp.userId, column: mfaTotp.secret, columnKey: "secret",
 *   refOf: (id) => ({ table: "mfa_totp", id, field: "secret" }),
 * });
 */
import { and, asc, count, eq, gt, isNotNull, sql } from "drizzle-orm";
import type { PgColumn, PgTable } from "drizzle-orm/pg-core";
import type { EncryptedStore, FieldReplacement, KeyIdCounts, StoredField } from "../security/encrypted-store.ts";
import { type FieldRef, keyIdOfSealedHead, SEALED_HEAD_LENGTH, SEALED_MARK } from "../security/field-cipher.ts";
import { type Repo, slotsAsValues, type TableSet } from "./repo.ts";

export interface SealedColumn {
  /** The store's name (metrics, `encrypt-existing --store`). */
  name: string;
  description: string;
  table: PgTable;
  /** The record's text id: the scan's order. */
  id: PgColumn;
  /** The sealed text column. */
  column: PgColumn;
  /** `column`'s key in `table` (what `set` names). */
  columnKey: string;
  /** Where a record's value lives: what its ciphertext is bound to. */
  refOf(id: string): FieldRef;
}

/** The store over `spec`; `close` closes `repo`. */
export function sealedColumnStore<T extends TableSet>(
  repo: Repo<T>,
  spec: SealedColumn,
): EncryptedStore & { close(): Promise<void> } {
  const { table, id, column, columnKey, refOf } = spec;
  const swap = repo.prepare({ id, previous: column, next: column }, (db, v) =>
    db
      .update(table)
      .set(slotsAsValues({ [columnKey]: v.next }) as never)
      .where(and(eq(id, v.id), eq(column, v.previous)))
      .returning({ id }),
  );
  return {
    name: spec.name,
    description: spec.description,
    async scan(after: string | null, limit: number): Promise<StoredField[]> {
      const rows = await repo.read((db) =>
        db
          .select({ id, stored: column })
          .from(table)
          .where(after === null ? undefined : gt(id, after))
          .orderBy(asc(id))
          .limit(limit),
      );
      return rows.map((r) => ({ id: r.id as string, ref: refOf(r.id as string), stored: r.stored as string }));
    },
    async countByKeyId(): Promise<KeyIdCounts | undefined> {
      // Sealed values grouped by their head (envelope start and key id), every plaintext value in
      // one group (null): plaintext values all differ and would each make a group of their own.
      // Constants, not parameters: PostgreSQL matches the GROUP BY to the select list by text.
      const head = sql<
        string | null
      >`case when ${column} like ${sql.raw(`'${SEALED_MARK}%'`)} then substr(${column}, 1, ${sql.raw(String(SEALED_HEAD_LENGTH))}) end`;
      const groups = await repo.read((db) =>
        db.select({ head, n: count() }).from(table).where(isNotNull(column)).groupBy(head),
      );
      const byKeyId = new Map<string, number>();
      let plaintext = 0;
      for (const g of groups) {
        if (g.head === null) {
          plaintext += Number(g.n);
          continue;
        }
        const kid = keyIdOfSealedHead(String(g.head));
        if (kid === undefined) return undefined;
        byKeyId.set(kid, (byKeyId.get(kid) ?? 0) + Number(g.n));
      }
      return { byKeyId, plaintext };
    },
    async replace(replacements: readonly FieldReplacement[]): Promise<boolean[]> {
      for (const r of replacements) {
        const expected = refOf(r.ref.id);
        if (r.ref.table !== expected.table || r.ref.field !== expected.field) {
          throw new Error(`${r.ref.table}.${r.ref.field} is not a field of the ${spec.name} store`);
        }
      }
      if (replacements.length === 0) return [];
      const results = await repo.transaction((tx) =>
        replacements.map((r) => swap.on(tx, { id: r.ref.id, previous: r.previous, next: r.next })),
      );
      return results.map((rows) => (rows as unknown[]).length > 0);
    },
    close: () => repo.close(),
  };
}
