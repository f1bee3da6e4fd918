/**
 * Where organisations' own provider keys live: one row per (organisation, provider) in
 * `provider_keys`, the key sealed with the configured encryption key (runtime/security/field-sealer.ts)
 * before it is written and opened only when a turn needs it ({@link ProviderKeyStore.secretOf}).
 * Nothing else reads the `secret` column: listing a organisation's keys answers their last four
 * characters and who set them when.
 *
 * {@link providerKeysEncryptedStore} is the {@link EncryptedStore} of the table for `aragora keys
 * verify` and `aragora encrypt-existing` (app/encrypted-stores.ts lists it): a scan of the sealed
 * keys in id order and a compare-and-set replace, so a re-encryption running beside live servers
 * never overwrites a key an owner set meanwhile.
 *
 * A row's id is `<org id>/<provider>` ({@link providerKeyId}): each sealed key is bound to its
 * organisation and provider, so one copied to another row does not decrypt, and setting a key
 * twice at once cannot leave a ciphertext bound to an id its row does not have.
 *
 * @example
 * const keys = await openProviderKeyStore(ctx.store, ctx.sealer);
 * await keys.put("org-1", "openai", "sk-live-…", "u-1", new Date());
 * const [row] = await keys.list("org-1"); // { provider: "openai", lastFour: "…", ... } (secret sealed)
 * keys.secretOf(row); // the key itself
 */
import { and, asc, eq } from "drizzle-orm";
import type { EncryptedStore } from "../../runtime/security/encrypted-store.ts";
import type { FieldRef } from "../../runtime/security/field-cipher.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import { sealedColumnStore } from "../../runtime/store/sealed-column-store.ts";
import type { Store } from "../../runtime/store/store.ts";
import * as pg from "./provider-key-schema-postgres.ts";
import * as lite from "./provider-key-schema-sqlite.ts";

export const providerKeyTables = dialectTables({
  sqlite: { providerKeys: lite.providerKeys },
  postgres: { providerKeys: pg.providerKeys },
});

type Tables = typeof providerKeyTables.postgres;
/** A stored key: `secret` is as stored (sealed, or plaintext without an encryption key). */
export type ProviderKeyRow = Tables["providerKeys"]["$inferSelect"];

/** The store's name: the `store` label of the encryption metrics, `encrypt-existing --store provider_keys`. */
export const PROVIDER_KEY_STORE = "provider_keys";
const TABLE = "provider_keys";
const FIELD = "secret";

/**
 * The id of an organisation's key for a provider. Organisation ids and provider names have no
 * "/" (provider names are lowercase letters, digits, - and _), so the id names exactly one pair.
 *
 * @example providerKeyId("org-1", "openai") // "org-1/openai"
 */
export function providerKeyId(orgId: string, provider: string): string {
  return `${orgId}/${provider}`;
}

/** Where a key's ciphertext is bound: its row and field. */
function refOf(id: string): FieldRef {
  return { table: TABLE, id, field: FIELD };
}

/** What {@link ProviderKeyStore.put} did: the row as stored now, and whether it replaced a key. */
export interface PutKeyResult {
  row: ProviderKeyRow;
  replaced: boolean;
}

export class ProviderKeyStore {
  constructor(
    private readonly repo: Repo<Tables>,
    private readonly sealer: FieldSealer,
  ) {}

  /** The organisation's keys (sealed), by provider name. @example (await keys.list("org-1")).map((r) => r.provider) */
  async list(orgId: string): Promise<ProviderKeyRow[]> {
    const { providerKeys } = this.repo.tables;
    return this.repo.read((db) =>
      db.select().from(providerKeys).where(eq(providerKeys.orgId, orgId)).orderBy(asc(providerKeys.provider)),
    );
  }

  /**
   * Sets the organisation's key for `provider`, sealed, replacing the one it had; `by` is the user
   * (or "operator") who set it.
   *
   * @example const { replaced } = await keys.put("org-1", "anthropic", key, "u-1", new Date());
   */
  async put(orgId: string, provider: string, plaintext: string, by: string, now: Date): Promise<PutKeyResult> {
    const { providerKeys } = this.repo.tables;
    const id = providerKeyId(orgId, provider);
    const secret = this.sealer.seal(PROVIDER_KEY_STORE, plaintext, refOf(id));
    const lastFour = plaintext.slice(-4);
    const [before, after] = await this.repo.transaction((tx) => [
      tx.select({ id: providerKeys.id }).from(providerKeys).where(eq(providerKeys.id, id)),
      tx
        .insert(providerKeys)
        .values({ id, orgId, provider, secret, lastFour, createdBy: by, createdAt: now, updatedBy: by, updatedAt: now })
        .onConflictDoUpdate({
          target: providerKeys.id,
          set: { secret, lastFour, updatedBy: by, updatedAt: now },
        })
        .returning(),
    ]);
    const row = after[0];
    if (row === undefined) throw new Error(`the key ${id} was not stored`);
    return { row, replaced: before.length > 0 };
  }

  /** Removes the organisation's key for `provider`: the removed row, or undefined when it had none. */
  async remove(orgId: string, provider: string): Promise<ProviderKeyRow | undefined> {
    const { providerKeys } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .delete(providerKeys)
        .where(and(eq(providerKeys.id, providerKeyId(orgId, provider)), eq(providerKeys.orgId, orgId)))
        .returning(),
    );
    return row;
  }

  /**
   * The key itself, opened from its row: throws KeyNotFoundError (naming the key id it needs),
   * TamperedFieldError or EnvelopeFormatError, never garbage.
   *
   * @example const apiKey = keys.secretOf(row);
   */
  secretOf(row: Pick<ProviderKeyRow, "id" | "secret">): string {
    return this.sealer.open(PROVIDER_KEY_STORE, row.secret, refOf(row.id));
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The provider key store on the server's database (its table made by the migrations the server ran).
 *
 * @example const keys = await openProviderKeyStore(ctx.store, ctx.sealer);
 */
export async function openProviderKeyStore(
  store: Pick<Store, "openRepo">,
  sealer: FieldSealer,
): Promise<ProviderKeyStore> {
  return new ProviderKeyStore(await store.openRepo(providerKeyTables, { name: PROVIDER_KEY_STORE }), sealer);
}

/**
 * Organisations' provider keys as an {@link EncryptedStore}, for `aragora keys verify` and
 * `aragora encrypt-existing`: one field a row, in id order (`<org id>/<provider>`); a replacement
 * lands only while the row still holds the value the migration read (a key set or removed
 * meanwhile stands). Its last four and who set it do not change: the key is the same, only its
 * stored form is. Works on a read-only store for scans.
 *
 * @example const keys = await providerKeysEncryptedStore(store); await keys.scan(null, 500);
 */
export async function providerKeysEncryptedStore(
  store: Pick<Store, "openRepo">,
): Promise<EncryptedStore & { close(): Promise<void> }> {
  const repo = await store.openRepo(providerKeyTables, { name: "provider-key-secrets", maxConnections: 1 });
  const { providerKeys } = repo.tables;
  return sealedColumnStore(repo, {
    name: PROVIDER_KEY_STORE,
    description: "organisations' provider keys",
    table: providerKeys,
    id: providerKeys.id,
    column: providerKeys.secret,
    columnKey: "secret",
    refOf,
  });
}
