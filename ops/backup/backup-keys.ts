/**
 * Which key each backup archive needs, for `aragora keys verify`: a rotation may only drop an old
 * key once no backup that must stay restorable is sealed with it.
 *
 * @example
 * for (const b of backupKeyIds(backupsDir(dataDir))) console.log(b.name, b.keyId ?? "not encrypted");
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { archiveKeyId, compareArchiveNames, isArchiveName } from "./archive.ts";

/** One backup archive and the key it needs. */
export interface BackupKeyUse {
  /** The file name (aragora-backup-<stamp>.tar.gz or .tar.gz.enc). */
  name: string;
  path: string;
  bytes: number;
  /** The id of the key the archive is sealed with; null: not encrypted (or unreadable, see `problem`). */
  keyId: string | null;
  /** Set when the archive's header cannot be read (damaged or cut short): it needs attention whatever the keys. */
  problem?: string;
}

/**
 * Every backup archive in `backupDir` (oldest first) with the key id it needs, read from each
 * file's header (the name is not trusted: a renamed sealed archive is still reported with its key).
 * A folder without backups gives an empty list.
 *
 * @example
 * backupKeyIds(".nomic/backups");
 * // [{ name: "aragora-backup-20261127T031500Z.tar.gz", keyId: null, ... },
 * //  { name: "aragora-backup-20261128T031500Z.tar.gz.enc", keyId: "k3f9a0c12b4de", ... }]
 */
export function backupKeyIds(backupDir: string): BackupKeyUse[] {
  if (!existsSync(backupDir)) return [];
  const out: BackupKeyUse[] = [];
  for (const name of readdirSync(backupDir).filter(isArchiveName).sort(compareArchiveNames)) {
    const path = join(backupDir, name);
    const stats = lstatSync(path);
    if (!stats.isFile()) continue;
    try {
      out.push({ name, path, bytes: stats.size, keyId: archiveKeyId(path) });
    } catch (err) {
      out.push({ name, path, bytes: stats.size, keyId: null, problem: (err as Error).message });
    }
  }
  return out;
}
