/**
 * Backup archives of a data dir: `aragora-backup-<UTC stamp>.tar.gz` holding one consistent copy
 * of every SQLite database plus `manifest.json` (name, bytes and sha256 of each copy).
 *
 * A copy is taken with `VACUUM INTO`, which reads the source inside one read transaction: in WAL
 * mode the server keeps writing meanwhile and the copy is the database as of that transaction's
 * start, so every commit acknowledged before the backup began is in it. The archive is written
 * under a temporary name and renamed, so `cleanup` and `db.restore` never see half an archive.
 *
 * @example
 * const result = await createBackupArchive({ dataDir: ".nomic", backupDir: ".nomic/backups", busyTimeoutMs: 5000 });
 * result.archive; // ".nomic/backups/aragora-backup-20261128T031500Z.tar.gz"
 * const checked = await verifyArchiveInMemory(result.archive); // { manifest, problems: [] }
 */
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, join } from "node:path";
import { create, list } from "tar";
import { type DatabaseFile, integrityProblems, openExisting } from "../actions/db-files.ts";

export const MANIFEST = "manifest.json";
export const ARCHIVE_PREFIX = "aragora-backup-";
export const ARCHIVE_SUFFIX = ".tar.gz";
/** Names allowed inside an archive: flat, no path separators, no leading dot (no traversal on extract). */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface ManifestEntry {
  name: string;
  bytes: number;
  sha256: string;
}

export interface BackupManifest {
  format: "aragora-backup";
  version: 1;
  created_at: string;
  databases: ManifestEntry[];
}

export interface BackupResult {
  archive: string;
  archiveBytes: number;
  archiveSha256: string;
  manifest: BackupManifest;
}

export interface CreateBackupOptions {
  dataDir: string;
  backupDir: string;
  databases: DatabaseFile[];
  busyTimeoutMs: number;
  now?: Date;
  signal?: AbortSignal;
  progress?: (message: string, fraction?: number) => void;
}

/** `20261128T031500Z` for an instant: sortable, and safe in file names. @example archiveStamp(new Date(0)) // "19700101T000000Z" */
export function archiveStamp(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replaceAll("-", "")
    .replaceAll(":", "");
}

/** The archive name for an instant. @example archiveName(new Date(0)) // "aragora-backup-19700101T000000Z.tar.gz" */
export function archiveName(at: Date): string {
  return `${ARCHIVE_PREFIX}${archiveStamp(at)}${ARCHIVE_SUFFIX}`;
}

/** True for names `db.backup` writes. @example isArchiveName("aragora-backup-20261128T031500Z.tar.gz") // true */
export function isArchiveName(name: string): boolean {
  return name.startsWith(ARCHIVE_PREFIX) && name.endsWith(ARCHIVE_SUFFIX);
}

/**
 * sha256 (hex) of a file, streamed. Only for files no SQLite connection has open (the `VACUUM INTO`
 * copies in the staging folder, archives): closing a descriptor of a live database would drop the
 * process's locks on it (see ../actions/db-files.ts).
 *
 * @example await sha256File(join(staging, "core.db"))
 */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/**
 * Write one archive of `databases` into `backupDir` (created if absent). Each copy is checked with
 * `PRAGMA integrity_check` before it goes into the archive, so a backup that finishes is restorable.
 */
export async function createBackupArchive(options: CreateBackupOptions): Promise<BackupResult> {
  const { backupDir, databases, busyTimeoutMs } = options;
  const now = options.now ?? new Date();
  const progress = options.progress ?? (() => {});
  mkdirSync(backupDir, { recursive: true });
  // Staged beside the archives (same file system, so the final rename is atomic); the leading dot
  // keeps it out of cleanup's and restore's view of "backups".
  const staging = mkdtempSync(join(backupDir, ".staging-"));
  try {
    const entries: ManifestEntry[] = [];
    for (const [i, file] of databases.entries()) {
      options.signal?.throwIfAborted();
      if (!SAFE_NAME.test(file.name))
        throw new Error(`cannot back up ${file.name}: unsupported characters in the name`);
      progress(`copy ${file.name}`, i / Math.max(databases.length, 1));
      const copy = join(staging, file.name);
      const source = openExisting(file.path, busyTimeoutMs);
      try {
        source.run(`VACUUM INTO ${sqlString(copy)}`);
      } finally {
        source.close(false);
      }
      const check = new Database(copy, { readonly: true });
      try {
        const problems = integrityProblems(check);
        if (problems.length > 0) throw new Error(`the copy of ${file.name} failed integrity_check: ${problems[0]}`);
      } finally {
        check.close(false);
      }
      entries.push({ name: file.name, bytes: statSync(copy).size, sha256: await sha256File(copy) });
    }
    const manifest: BackupManifest = {
      format: "aragora-backup",
      version: 1,
      created_at: now.toISOString(),
      databases: entries,
    };
    await Bun.write(join(staging, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
    progress("compress", 0.95);
    let archive = join(backupDir, archiveName(now));
    for (let n = 2; existsSync(archive); n++) {
      archive = join(backupDir, `${ARCHIVE_PREFIX}${archiveStamp(now)}-${n}${ARCHIVE_SUFFIX}`);
    }
    const partial = join(staging, "archive.partial");
    await create({ gzip: true, portable: true, file: partial, cwd: staging }, [
      MANIFEST,
      ...entries.map((e) => e.name),
    ]);
    const archiveSha256 = await sha256File(partial);
    renameSync(partial, archive);
    progress(`wrote ${basename(archive)}`, 1);
    return { archive, archiveBytes: statSync(archive).size, archiveSha256, manifest };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Parse and shape-check a manifest; throws naming what is wrong. */
export function parseManifest(text: string): BackupManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${MANIFEST} is not JSON: ${(err as Error).message}`);
  }
  const m = raw as Partial<BackupManifest>;
  if (m.format !== "aragora-backup" || m.version !== 1 || !Array.isArray(m.databases)) {
    throw new Error(`${MANIFEST} is not an aragora-backup v1 manifest`);
  }
  for (const e of m.databases) {
    if (typeof e?.name !== "string" || !SAFE_NAME.test(e.name) || e.name === MANIFEST) {
      throw new Error(`${MANIFEST} lists an unsafe database name ${JSON.stringify(e?.name)}`);
    }
    if (typeof e.bytes !== "number" || typeof e.sha256 !== "string") {
      throw new Error(`${MANIFEST}: entry ${e.name} lacks bytes or sha256`);
    }
  }
  return m as BackupManifest;
}

/** Compare what an archive holds with its manifest: one problem line per mismatch. */
export function manifestProblems(manifest: BackupManifest, found: Map<string, { bytes: number; sha256: string }>) {
  const problems: string[] = [];
  for (const e of manifest.databases) {
    const got = found.get(e.name);
    if (!got) problems.push(`${e.name}: listed in the manifest but missing from the archive`);
    else if (got.sha256 !== e.sha256)
      problems.push(`${e.name}: sha256 ${got.sha256} differs from the manifest's ${e.sha256}`);
    else if (got.bytes !== e.bytes) problems.push(`${e.name}: ${got.bytes} bytes, the manifest says ${e.bytes}`);
  }
  const listed = new Set(manifest.databases.map((e) => e.name));
  for (const name of found.keys())
    if (!listed.has(name)) problems.push(`${name}: in the archive but not in the manifest`);
  return problems;
}

export interface VerifiedArchive {
  manifest: BackupManifest;
  problems: string[];
}

/**
 * Verify an archive without writing anything: stream it, hash every entry, and run
 * `PRAGMA integrity_check` on each database deserialized in memory. Used by dry runs, which must
 * not create files. Memory use is bounded by the largest database in the archive.
 */
export async function verifyArchiveInMemory(archive: string): Promise<VerifiedArchive> {
  const found = new Map<string, { bytes: number; sha256: string }>();
  const problems: string[] = [];
  let manifestText: string | undefined;
  const pending: Promise<void>[] = [];
  await list({
    file: archive,
    onReadEntry(entry) {
      const name = entry.path;
      if (entry.type !== "File" || !SAFE_NAME.test(name)) {
        problems.push(`${name}: unexpected ${entry.type} entry (archives hold flat files only)`);
        entry.resume();
        return;
      }
      const chunks: Buffer[] = [];
      entry.on("data", (c: Buffer) => chunks.push(c));
      pending.push(
        new Promise<void>((resolveEntry) => {
          entry.on("end", () => {
            const bytes = Buffer.concat(chunks);
            if (name === MANIFEST) {
              manifestText = bytes.toString("utf8");
            } else {
              found.set(name, { bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
              const problem = memoryIntegrity(name, bytes);
              if (problem) problems.push(problem);
            }
            resolveEntry();
          });
        }),
      );
    },
  });
  await Promise.all(pending);
  if (manifestText === undefined) throw new Error(`${archive}: no ${MANIFEST} inside; not an aragora backup`);
  const manifest = parseManifest(manifestText);
  return { manifest, problems: [...manifestProblems(manifest, found), ...problems] };
}

function memoryIntegrity(name: string, bytes: Buffer): string | undefined {
  try {
    const db = Database.deserialize(bytes, true);
    try {
      const problems = integrityProblems(db);
      return problems.length > 0 ? `${name}: integrity_check: ${problems.slice(0, 3).join("; ")}` : undefined;
    } finally {
      db.close(false);
    }
  } catch (err) {
    return `${name}: not a readable SQLite database (${(err as Error).message})`;
  }
}

/**
 * Verify files already extracted into `dir` against the manifest there: sha256, size and
 * `PRAGMA integrity_check` on each database.
 */
export async function verifyExtracted(dir: string): Promise<VerifiedArchive> {
  const manifestPath = join(dir, MANIFEST);
  if (!existsSync(manifestPath)) throw new Error(`no ${MANIFEST} in the archive; not an aragora backup`);
  const manifest = parseManifest(readFileSync(manifestPath, "utf8"));
  const found = new Map<string, { bytes: number; sha256: string }>();
  const problems: string[] = [];
  for (const e of manifest.databases) {
    const path = join(dir, e.name);
    if (!existsSync(path)) continue;
    found.set(e.name, { bytes: statSync(path).size, sha256: await sha256File(path) });
    try {
      const db = new Database(path, { readonly: true });
      try {
        const bad = integrityProblems(db);
        if (bad.length > 0) problems.push(`${e.name}: integrity_check: ${bad.slice(0, 3).join("; ")}`);
      } finally {
        db.close(false);
      }
    } catch (err) {
      problems.push(`${e.name}: not a readable SQLite database (${(err as Error).message})`);
    }
  }
  return { manifest, problems: [...manifestProblems(manifest, found), ...problems] };
}
