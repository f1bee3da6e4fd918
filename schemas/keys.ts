/**
 * The encryption keys' status: what `aragora keys status` prints and `GET /api/admin/keys` answers
 * (`aragora keys verify` prints the same for people). Key ids only, never key material: an id is
 * derived from its key by HMAC and tells nothing about it.
 *
 * @example
 * {"configured":true,"active_key_id":"k3f9a0c12b4de","key_ids":["k3f9a0c12b4de","k77e1d0a9c3b2"],
 *  "stores":[{"name":"mfa_totp","description":"TOTP secrets (second factor)","records":3,"plaintext":1,"malformed":0,
 *    "by_key":[{"key_id":"k3f9a0c12b4de","records":2,"configured":true,"active":true}]}],
 *  "ok":true,"problems":[]}
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

const KeyUse = lazy(() =>
  type({
    key_id: type("string").describe("the id of the key these records are encrypted with (never the key itself)"),
    records: "number.integer >= 0",
    configured: type("boolean").describe("whether that key is configured; false: these records cannot be read"),
    active: type("boolean").describe("whether it is the active key, the one new writes use"),
  }),
);

const StoreKeys = lazy(() =>
  type({
    name: type("string").describe("the store's name (encrypt-existing --store NAME)"),
    description: "string",
    records: type("number.integer >= 0").describe("encrypted fields in the store, whatever their state"),
    plaintext: type("number.integer >= 0").describe(
      "records stored before encryption was configured (aragora encrypt-existing encrypts them)",
    ),
    malformed: type("number.integer >= 0").describe("records marked encrypted whose envelope names no key"),
    by_key: KeyUse.array().describe("records per key id, the most used first"),
  }),
);

const BackupKey = lazy(() =>
  type({
    name: type("string").describe("the archive's file name in <data dir>/backups"),
    key_id: type("string | null").describe("the id of the key the archive is encrypted with; null: not encrypted"),
    configured: type("boolean").describe("whether it can be restored with the configured keys"),
    "problem?": type("string").describe("why the archive's header cannot be read (damaged or cut short)"),
  }),
);

export const KeysStatus = lazy(() =>
  type({
    configured: type("boolean").describe("whether an encryption key is configured (ARAGORA_ENCRYPTION_KEY)"),
    active_key_id: type("string | null").describe("the id of the key new writes are encrypted with"),
    key_ids: type("string[]").describe("the ids of every configured key, the active one first"),
    stores: StoreKeys.array(),
    backups: BackupKey.array().describe("every backup archive in the data dir, oldest first, with the key it needs"),
    ok: type("boolean").describe("false when a record or a backup is on a key that is not configured, or malformed"),
    problems: type("string[]").describe("what is wrong, one sentence each (key ids and counts, never values)"),
  }).describe("the encryption keys and, for every store with encrypted fields, its records per key"),
);

/** The keys' status as {@link KeysStatus} describes it. */
export type KeysStatus = typeof KeysStatus.infer;
