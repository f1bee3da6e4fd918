/**
 * What the stored secrets need of the keys, checked at start and after every key reload: the
 * keys report (runtime/security/keys-report.ts, what `aragora keys verify|status` and
 * `GET /api/admin/keys` answer) is built over every encrypted store (app/encrypted-stores.ts), so
 * the start-up check and the report never disagree about what cannot be read.
 *
 * - No key configured while sealed values exist: the server would serve requests it cannot answer
 *   and store new secrets unencrypted beside them, so it refuses to start (exit 2) naming
 *   ARAGORA_ENCRYPTION_KEY and the key ids the data needs.
 * - Keys configured that lack a key id the data uses: a warning naming the missing ids (the
 *   operator may be mid-rotation, or chose to drop a key), counted in
 *   aragora_encryption_missing_key_checks_total and shown in aragora_encryption_missing_key_ids;
 *   reading such a record answers 503 `encryption_key_missing`.
 * - Sealed values naming no key (a malformed envelope): a warning with the report's own sentence;
 *   no key can read them, so they do not refuse the start.
 *
 * @example
 * const missing = await checkStoredKeys({ store, keys, dataDir, log, phase: "start" }); // throws ConfigError to refuse
 */
import { join } from "node:path";
import { ConfigError } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import { type KeyRing, parseKeyFile } from "../runtime/security/encryption-keys.ts";
import type { KeySource } from "../runtime/security/key-source.ts";
import { buildKeysReport } from "../runtime/security/keys-report.ts";
import { DEV_ENCRYPTION_KEY_FILE, readSecretFile } from "../runtime/security/secret-file.ts";
import type { Store } from "../runtime/store/store.ts";
import type { KeysStatus } from "../schemas/keys.ts";
import { closeEncryptedStores, openEncryptedStores } from "./encrypted-stores.ts";

/**
 * The keys report over the stored secrets alone (no backups: a backup's key is not needed to
 * serve), with the encrypted stores opened for it and closed again.
 *
 * @example const report = await storedSecretsReport(store, keys.current()); // report.problems
 */
export async function storedSecretsReport(
  store: Pick<Store, "openRepo">,
  ring: KeyRing | undefined,
): Promise<KeysStatus> {
  const stores = await openEncryptedStores(store);
  try {
    return await buildKeysReport(ring, stores);
  } finally {
    await closeEncryptedStores(stores);
  }
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
  const ring = keys.current();
  const report = await storedSecretsReport(check.store, ring);
  const missing = [
    ...new Set(report.stores.flatMap((s) => s.by_key.filter((k) => !k.configured).map((k) => k.key_id))),
  ];
  metrics.encryptionMissingKeyIds.set(missing.length);
  const plaintext = report.stores.reduce((n, s) => n + s.plaintext, 0);
  if (ring !== undefined && plaintext > 0 && check.phase === "start") {
    log.info(
      { plaintext_records: plaintext, stores: report.stores.filter((s) => s.plaintext > 0).map((s) => s.name) },
      `${plaintext} stored secret${plaintext === 1 ? " is" : "s are"} not encrypted yet (stored before a key was configured); they stay readable, and aragora encrypt-existing seals them`,
    );
  }
  if (report.ok) return [];
  // The report's own sentences, as `aragora keys verify` prints them after PROBLEM:.
  const problems = report.problems.join("; ");
  if (missing.length === 0) {
    log.warn(
      { configured_key_ids: ring?.ids ?? [], problems: report.problems },
      `Stored secrets that no key can read: ${problems}`,
    );
    return [];
  }
  metrics.encryptionMissingKeyChecks.inc();
  const dev = devKeyIdIn(check.dataDir);
  const hint =
    dev !== undefined && missing.includes(dev.id) && keys.status().kind !== "dev_file"
      ? ` (key ${dev.id} is the development key in ${dev.path}: add its line to your keys, after the active one, or set ARAGORA_ENCRYPTION_KEY_FILE=${dev.path})`
      : "";
  if (ring === undefined && check.phase === "start") {
    throw new ConfigError([
      `ARAGORA_ENCRYPTION_KEY: is required: stored secrets are encrypted (${problems}) and no key is configured; expected ARAGORA_ENCRYPTION_KEY or ARAGORA_ENCRYPTION_KEY_FILE holding key ${missing.join(", ")}${hint}`,
    ]);
  }
  log.warn(
    { missing_key_ids: missing, configured_key_ids: ring?.ids ?? [], problems: report.problems },
    `Key not found: stored secrets need key${missing.length === 1 ? "" : "s"} ${missing.join(", ")}, which ${missing.length === 1 ? "is" : "are"} not configured (${problems}); reading them fails until ${missing.length === 1 ? "it is" : "they are"} added to ARAGORA_ENCRYPTION_KEY or the key file, after the active key${hint}`,
  );
  return missing;
}
