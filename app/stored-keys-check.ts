/**
 * What the stored secrets need of the keys, checked at start and after every key reload: every
 * encrypted store (app/encrypted-stores.ts) is scanned for the key ids its sealed values carry.
 *
 * - No key configured while sealed values exist: the server would serve requests it cannot answer
 *   and store new secrets unencrypted beside them, so it refuses to start (exit 2) naming
 *   ARAGORA_ENCRYPTION_KEY and the key ids the data needs.
 * - Keys configured that lack a key id the data uses: a warning naming the missing ids (the
 *   operator may be mid-rotation, or chose to drop a key), counted in
 *   aragora_encryption_missing_key_checks_total and shown in aragora_encryption_missing_key_ids;
 *   reading such a record answers 503 `encryption_key_missing`.
 *
 * @example
 * const usage = await checkStoredKeys({ store, keys, dataDir, log, phase: "start" }); // throws ConfigError to refuse
 */
import { join } from "node:path";
import { ConfigError } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import { countByKeyId } from "../runtime/security/encrypted-store.ts";
import { parseKeyFile } from "../runtime/security/encryption-keys.ts";
import type { KeySource } from "../runtime/security/key-source.ts";
import { DEV_ENCRYPTION_KEY_FILE, readSecretFile } from "../runtime/security/secret-file.ts";
import type { Store } from "../runtime/store/store.ts";
import { closeEncryptedStores, openEncryptedStores } from "./encrypted-stores.ts";

/** What one store holds: records per key id, and plaintext records. */
export interface StoreKeyUsage {
  readonly store: string;
  readonly description: string;
  /** Sealed values per key id. */
  readonly byKeyId: ReadonlyMap<string, number>;
  /** Values stored before encryption (or while none was configured). */
  readonly plaintext: number;
}

/**
 * Every encrypted store's values counted per key id (and plaintext): by the database where the
 * store can (a GROUP BY, not a read of every record), else by scanning it in batches.
 *
 * @example for (const u of await storedKeyUsage(store)) console.log(u.store, [...u.byKeyId]);
 */
export async function storedKeyUsage(store: Pick<Store, "openRepo">): Promise<StoreKeyUsage[]> {
  const stores = await openEncryptedStores(store);
  try {
    const usage: StoreKeyUsage[] = [];
    for (const s of stores) {
      const { byKeyId, plaintext } = await countByKeyId(s);
      usage.push({ store: s.name, description: s.description, byKeyId, plaintext });
    }
    return usage;
  } finally {
    await closeEncryptedStores(stores);
  }
}

/** "mfa_totp: 3 with key k1, 1 with key k2": what needs the ids in `ids`. */
function whatNeeds(usage: readonly StoreKeyUsage[], ids: readonly string[]): string {
  return usage
    .flatMap((u) =>
      ids
        .filter((id) => u.byKeyId.has(id))
        .map((id) => `${u.store}: ${u.byKeyId.get(id)} record${u.byKeyId.get(id) === 1 ? "" : "s"} with key ${id}`),
    )
    .join(", ");
}

/** The key id of the development key left in the data dir, if any (for a hint; never its key). */
function devKeyIdIn(dataDir: string): { id: string; path: string } | undefined {
  const path = join(dataDir, DEV_ENCRYPTION_KEY_FILE);
  try {
    return { id: parseKeyFile(readSecretFile(path), path).active.id, path };
  } catch {
    return undefined;
  }
}

export interface StoredKeysCheck {
  store: Pick<Store, "openRepo">;
  keys: KeySource;
  dataDir: string;
  log: Logger;
  /** At start a missing key with sealed data refuses; after a reload it is only reported. */
  phase: "start" | "reload";
}

/**
 * Checks the stored secrets against the keys (see the module's comment); the key ids the data
 * needs that are not configured. Throws {@link ConfigError} at start when no key is configured
 * and sealed data exists.
 *
 * @example const missing = await checkStoredKeys({ store, keys, dataDir, log, phase: "start" });
 */
export async function checkStoredKeys(check: StoredKeysCheck): Promise<string[]> {
  const { keys, log } = check;
  const usage = await storedKeyUsage(check.store);
  const needed = [...new Set(usage.flatMap((u) => [...u.byKeyId.keys()]))];
  const ring = keys.current();
  const missing = needed.filter((id) => !ring?.byId.has(id));
  metrics.encryptionMissingKeyIds.set(missing.length);
  const plaintext = usage.reduce((n, u) => n + u.plaintext, 0);
  if (ring !== undefined && plaintext > 0 && check.phase === "start") {
    log.info(
      { plaintext_records: plaintext, stores: usage.filter((u) => u.plaintext > 0).map((u) => u.store) },
      `${plaintext} stored secret${plaintext === 1 ? " is" : "s are"} not encrypted yet (stored before a key was configured); they stay readable, and aragora encrypt-existing seals them`,
    );
  }
  if (missing.length === 0) return [];
  metrics.encryptionMissingKeyChecks.inc();
  const dev = devKeyIdIn(check.dataDir);
  const hint =
    dev !== undefined && missing.includes(dev.id) && keys.status().kind !== "dev_file"
      ? ` (key ${dev.id} is the development key in ${dev.path}: add its line to your keys, after the active one, or set ARAGORA_ENCRYPTION_KEY_FILE=${dev.path})`
      : "";
  if (ring === undefined && check.phase === "start") {
    throw new ConfigError([
      `ARAGORA_ENCRYPTION_KEY: is required: stored secrets are encrypted (${whatNeeds(usage, missing)}) and no key is configured; expected ARAGORA_ENCRYPTION_KEY or ARAGORA_ENCRYPTION_KEY_FILE holding key ${missing.join(", ")}${hint}`,
    ]);
  }
  log.warn(
    { missing_key_ids: missing, configured_key_ids: ring?.ids ?? [], needed_by: whatNeeds(usage, missing) },
    `Key not found: stored secrets need key${missing.length === 1 ? "" : "s"} ${missing.join(", ")}, which ${missing.length === 1 ? "is" : "are"} not configured (${whatNeeds(usage, missing)}); reading them fails until ${missing.length === 1 ? "it is" : "they are"} added to ARAGORA_ENCRYPTION_KEY or the key file, after the active key${hint}`,
  );
  return missing;
}
