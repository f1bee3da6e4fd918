/**
 * The contract every store with encrypted fields offers to the key commands (`aragora keys verify`
 * counts records per key id; `aragora encrypt-existing` re-encrypts them): a scan of its sealed
 * fields in id order, and a compare-and-set write, so a migration running beside live servers never
 * overwrites a value a server changed after the migration read it.
 *
 * A store implements it over its own table (the feature owns its schema); the shell lists the
 * stores (app/), and the commands work on any of them alike.
 *
 * @example
 * for (let after: string | null = null; ; ) {
 *   const batch = await store.scan(after, 500);
 *   if (batch.length === 0) break;
 *   after = batch[batch.length - 1].id;
 *   const kids = batch.map((r) => keyIdOfSealedText(r.stored)); // null: plaintext
 * }
 */
import type { Store } from "../store/store.ts";
import { type FieldRef, isSealedText, keyIdOfSealedText } from "./field-cipher.ts";

/** One stored value of one encrypted field of one record. */
export interface StoredField {
  /** The record's id (the scan's order). */
  readonly id: string;
  /** Where the value lives: what its ciphertext is bound to. */
  readonly ref: FieldRef;
  /** The value as stored: a sealed envelope, or plaintext written before encryption. */
  readonly stored: string;
}

/** One field's replacement: written only while the field still holds `previous`. */
export interface FieldReplacement {
  readonly ref: FieldRef;
  readonly previous: string;
  readonly next: string;
}

export interface EncryptedStore {
  /** The store's name: the `store` label of the metrics and `encrypt-existing --store <name>`. */
  readonly name: string;
  /** What the store holds, for people (`keys verify`): "TOTP secrets", "provider keys", ... */
  readonly description: string;
  /**
   * The encrypted fields of up to `limit` records with ids after `after` (null: from the first), in
   * id order; a record with several encrypted fields gives one entry per field (null fields none).
   */
  scan(after: string | null, limit: number): Promise<StoredField[]>;
  /**
   * Writes each replacement in one transaction, each only if its field still holds `previous`; for
   * each, whether it was written (false: a server changed it meanwhile, and the new value stands).
   */
  replace(replacements: readonly FieldReplacement[]): Promise<boolean[]>;
  /**
   * The records per key id counted by the database, without reading them out (what start-up and
   * `keys verify` need of a store that may hold millions); undefined when a value is in a form the
   * count cannot classify, and then the caller scans. A store without it is scanned.
   */
  countByKeyId?(): Promise<KeyIdCounts | undefined>;
}

/** What a store's values need: sealed values per key id, and values stored before encryption. */
export interface KeyIdCounts {
  readonly byKeyId: ReadonlyMap<string, number>;
  readonly plaintext: number;
}

/**
 * Counts `scan`'s values per key id by reading them all in pages of `page`: what a store without
 * {@link EncryptedStore.countByKeyId} (or with values it cannot classify) is asked. Sealed values
 * naming no key are `malformed`.
 *
 * @example const { byKeyId, plaintext } = await countByKeyId(store);
 */
export async function countByKeyId(
  store: Pick<EncryptedStore, "scan" | "countByKeyId">,
  page = 1000,
): Promise<KeyIdCounts & { malformed: number }> {
  const counted = await store.countByKeyId?.();
  if (counted !== undefined) return { ...counted, malformed: 0 };
  const byKeyId = new Map<string, number>();
  let plaintext = 0;
  let malformed = 0;
  for (let after: string | null = null; ; ) {
    const batch = await store.scan(after, page);
    if (batch.length === 0) break;
    for (const field of batch) {
      const kid = keyIdOfSealedText(field.stored);
      if (kid !== null) byKeyId.set(kid, (byKeyId.get(kid) ?? 0) + 1);
      else if (isSealedText(field.stored)) malformed++;
      else plaintext++;
    }
    after = (batch[batch.length - 1] as { id: string }).id;
  }
  return { byKeyId, plaintext, malformed };
}

/** An encrypted store with the connection it holds. */
export type OpenEncryptedStore = EncryptedStore & { close(): Promise<void> };

/**
 * Opens every store with encrypted fields on a store's database: the shell's list
 * (app/encrypted-stores.ts), given to what works on all of them without knowing the features
 * (the `keys.encrypt_existing` step).
 */
export type EncryptedStoresOpener = (store: Pick<Store, "openRepo">) => Promise<OpenEncryptedStore[]>;
