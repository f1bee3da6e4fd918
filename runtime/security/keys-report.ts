/**
 * The one report of the encryption keys' state, shared by `aragora keys verify` (for people),
 * `aragora keys status` (JSON) and `GET /api/admin/keys` (the same JSON): whether encryption is
 * configured, the active key's id, the configured ids, and for every store with encrypted fields
 * its records per key id and in plaintext. A record on a key that is not configured (it cannot be
 * read) or a malformed envelope is a problem; plaintext is not (it is readable, and
 * `aragora encrypt-existing` encrypts it).
 *
 * Records are counted from the key id each stored envelope names, without decrypting anything, so
 * the report needs no key to be built and carries no key material: ids only.
 *
 * @example
 * const report = await buildKeysReport(config.encryptionKeys, stores);
 * process.stdout.write(keysReportText(report));
 * process.exit(report.ok ? 0 : 1);
 */
import type { KeysStatus } from "../../schemas/keys.ts";
import { countByKeyId, type EncryptedStore } from "./encrypted-store.ts";
import type { KeyRing } from "./encryption-keys.ts";

/** A backup archive and the key it needs (ops/backup/backup-keys.ts lists them). */
export interface BackupKeyUse {
  readonly name: string;
  /** null: not encrypted (or unreadable, see `problem`). */
  readonly keyId: string | null;
  readonly problem?: string;
}

/** Records read from a store at a time while counting. */
const PAGE = 1000;

/**
 * Counts every store's records per key id (scanning each in pages) and names what is wrong.
 *
 * @example const report = await buildKeysReport(ring, [await totpSecretsStore(store)]);
 */
export async function buildKeysReport(
  ring: KeyRing | undefined,
  stores: readonly Pick<EncryptedStore, "name" | "description" | "scan" | "countByKeyId">[],
  backups: readonly BackupKeyUse[] = [],
): Promise<KeysStatus> {
  const report: KeysStatus = {
    configured: ring !== undefined,
    active_key_id: ring?.active.id ?? null,
    key_ids: ring === undefined ? [] : [...ring.ids],
    stores: [],
    backups: [],
    ok: true,
    problems: [],
  };
  for (const store of stores) {
    const { byKeyId: perKey, plaintext, malformed } = await countByKeyId(store, PAGE);
    let records = plaintext + malformed;
    for (const n of perKey.values()) records += n;
    const byKey = [...perKey]
      .map(([keyId, n]) => ({
        key_id: keyId,
        records: n,
        configured: ring?.byId.has(keyId) ?? false,
        active: ring?.active.id === keyId,
      }))
      .sort((a, b) => b.records - a.records || a.key_id.localeCompare(b.key_id));
    report.stores.push({
      name: store.name,
      description: store.description,
      records,
      plaintext,
      malformed,
      by_key: byKey,
    });
    for (const k of byKey) {
      if (!k.configured) {
        report.problems.push(
          `${store.name}: ${plural(k.records, "record")} encrypted with key ${k.key_id}, which is not configured: ` +
            `${k.records === 1 ? "it" : "they"} cannot be read until that key is added to ARAGORA_ENCRYPTION_KEY after the active one`,
        );
      }
    }
    if (malformed > 0) {
      report.problems.push(
        `${store.name}: ${plural(malformed, "record")} marked encrypted but naming no key (a malformed envelope); aragora encrypt-existing names ${malformed === 1 ? "it" : "them"}`,
      );
    }
  }
  for (const b of backups) {
    const configured = b.keyId === null ? b.problem === undefined : (ring?.byId.has(b.keyId) ?? false);
    report.backups.push({
      name: b.name,
      key_id: b.keyId,
      configured,
      ...(b.problem === undefined ? {} : { problem: b.problem }),
    });
    if (b.problem !== undefined) report.problems.push(`backup ${b.name}: ${b.problem}`);
    else if (!configured) {
      report.problems.push(
        `backup ${b.name} is encrypted with key ${b.keyId}, which is not configured: it cannot be restored until that key is added after the active one`,
      );
    }
  }
  report.ok = report.problems.length === 0;
  return report;
}

function plural(n: number, word: string): string {
  return `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * What in `report` still needs one of the keys `ids`: a sentence per store holding records on one
 * of them and per backup sealed with one, and how many records and backups that is. The key
 * rotation asks it twice: `keys.verify` (`retired`) reports it, `keys.retire` refuses while it is
 * not empty.
 *
 * @example stillOnKeys(report, ["k0123456789ab"]) // { count: 3, needs: ["provider_keys: 3 records still encrypted with the old key k0123456789ab"] }
 */
export function stillOnKeys(report: KeysStatus, ids: readonly string[]): { count: number; needs: string[] } {
  const keys = new Set(ids);
  const needs: string[] = [];
  let count = 0;
  for (const s of report.stores) {
    for (const k of s.by_key) {
      if (!keys.has(k.key_id)) continue;
      count += k.records;
      needs.push(`${s.name}: ${k.records} records still encrypted with the old key ${k.key_id}`);
    }
  }
  for (const b of report.backups) {
    if (b.key_id === null || !keys.has(b.key_id)) continue;
    count++;
    needs.push(`backup ${b.name} is still encrypted with the old key ${b.key_id}`);
  }
  return { count, needs };
}

/**
 * The report for people (`aragora keys verify`): one line per fact, the stores' counts as a small
 * table, then the verdict.
 *
 * @example keysReportText(report)
 * // encryption: configured; active key k3f9a0c12b4de
 * // configured keys: k3f9a0c12b4de (active), k77e1d0a9c3b2
 * //
 * // mfa_totp (TOTP secrets (second factor)): 3 records
 * //   k3f9a0c12b4de  2  active
 * //   plaintext      1  not encrypted: aragora encrypt-existing --all --execute encrypts it
 * //
 * // ok: every record can be read with the configured keys
 */
export function keysReportText(report: KeysStatus): string {
  const lines: string[] = [];
  if (report.configured) {
    lines.push(`encryption: configured; active key ${report.active_key_id}`);
    lines.push(
      `configured keys: ${report.key_ids.map((id) => (id === report.active_key_id ? `${id} (active)` : id)).join(", ")}`,
    );
  } else {
    lines.push("encryption: NOT configured (ARAGORA_ENCRYPTION_KEY is unset): secrets are stored as plaintext");
  }
  for (const store of report.stores) {
    lines.push("", `${store.name} (${store.description}): ${plural(store.records, "record")}`);
    const rows: [string, number, string][] = store.by_key.map((k) => [
      k.key_id,
      k.records,
      k.active ? "active" : k.configured ? "" : "NOT CONFIGURED: cannot be read",
    ]);
    if (store.plaintext > 0) {
      rows.push([
        "plaintext",
        store.plaintext,
        report.configured ? "not encrypted: aragora encrypt-existing --all --execute encrypts it" : "not encrypted",
      ]);
    }
    if (store.malformed > 0) rows.push(["malformed", store.malformed, "marked encrypted, naming no key"]);
    const width = Math.max(9, ...rows.map((r) => r[0].length));
    const countWidth = Math.max(1, ...rows.map((r) => r[1].toLocaleString("en").length));
    for (const [label, n, note] of rows) {
      lines.push(
        `  ${label.padEnd(width)}  ${n.toLocaleString("en").padStart(countWidth)}${note ? `  ${note}` : ""}`.trimEnd(),
      );
    }
  }
  if (report.backups.length > 0) {
    lines.push("", `backups: ${plural(report.backups.length, "archive")}`);
    const width = Math.max(...report.backups.map((b) => b.name.length));
    for (const b of report.backups) {
      const needs =
        b.problem !== undefined
          ? `UNREADABLE: ${b.problem}`
          : b.key_id === null
            ? "not encrypted"
            : `${b.key_id}${b.configured ? (b.key_id === report.active_key_id ? " (active)" : "") : "  NOT CONFIGURED: cannot be restored"}`;
      lines.push(`  ${b.name.padEnd(width)}  ${needs}`);
    }
  }
  lines.push("");
  if (report.ok) {
    lines.push(
      report.configured
        ? "ok: every record can be read with the configured keys"
        : "ok: no record is encrypted with a key that is missing",
    );
  } else {
    for (const p of report.problems) lines.push(`PROBLEM: ${p}`);
  }
  return `${lines.join("\n")}\n`;
}
