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
import type { FieldRef } from "./field-cipher.ts";

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
}

/** An encrypted store with the connection it holds. */
export type OpenEncryptedStore = EncryptedStore & { close(): Promise<void> };

/**
 * Opens every store with encrypted fields on a store's database: the shell's list
 * (app/encrypted-stores.ts), given to what works on all of them without knowing the features
 * (the `keys.encrypt_existing` step).
 */
export type EncryptedStoresOpener = (store: Pick<Store, "openRepo">) => Promise<OpenEncryptedStore[]>;
