/**
 * Backup archives of a data dir: `aragora-backup-<UTC stamp>.tar.gz` holding one consistent copy
 * of every SQLite database plus `manifest.json` (name, bytes and sha256 of each copy). When an
 * encryption key is configured the archive is sealed with it as it is written
 * (`aragora-backup-<UTC stamp>.tar.gz.enc`, the streaming chunked AEAD of
 * runtime/security/sealed-stream.ts; the manifest inside still lists the plaintext databases'
 * sha256), and every reader here opens either form, a sealed one with the key its header names.
 *
 * A copy is taken with `VACUUM INTO`, which reads the source inside one read transaction: in WAL
 * mode the server keeps writing meanwhile and the copy is the database as of that transaction's
 * start, so every commit acknowledged before the backup began is in it. The archive is written
 * under a temporary name and renamed, so `cleanup` and `db.restore` never see half an archive.
 *
 * @example
 * const result = await createBackupArchive({ dataDir: ".nomic", backupDir: ".nomic/backups", busyTimeoutMs: 5000 });
 * result.archive; // ".nomic/backups/aragora-backup-20261128T031500Z.tar.gz"
 * const checked = await verifyArchiveInMemory(result.archive, ring); // { manifest, problems: [], keyId: null }
 */
import { Database } from "bun:sqlite";
import { createHash } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { basename, join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ReadEntry } from "tar";
import { metrics } from "../../runtime/metrics.ts";
import type { EncryptionKey, KeyRing } from "../../runtime/security/encryption-keys.ts";
import {
  openSealedStream,
  readSealedHeaderFile,
  SealedKeyNotFoundError,
  SealedStreamError,
  sealStream,
} from "../../runtime/security/sealed-stream.ts";
import { type DatabaseFile, integrityProblems, openExisting } from "../actions/db-files.ts";

export const MANIFEST = "manifest.json";
export const ARCHIVE_PREFIX = "aragora-backup-";
export const ARCHIVE_SUFFIX = ".tar.gz";
/** The suffix of an archive sealed with an encryption key. */
export const SEALED_ARCHIVE_SUFFIX = ".tar.gz.enc";
/**
 * The size of tar's file reads (its default is 16 MiB a read): archives are streamed, so memory
 * stays near this whatever their size.
 */
export const TAR_READ_BYTES = 1024 * 1024;

/**
 * The tar library, loaded when an archive is first written or read: the server imports this
 * module for archive names at start, where its ~20 ms of loading would delay the first request.
 */
const tar = () => import("tar");
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
  /** sha256 of the archive file as written (sealed, when it is). */
  archiveSha256: string;
  manifest: BackupManifest;
  /** The id of the key the archive is sealed with; null: not encrypted. */
  keyId: string | null;
}

export interface CreateBackupOptions {
  dataDir: string;
  backupDir: string;
  databases: DatabaseFile[];
  busyTimeoutMs: number;
  /** Seal the archive with this key (the ring's active key); absent: a plain tar.gz. */
  encryptWith?: EncryptionKey;
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

/**
 * The archive name for an instant, sealed or not.
 *
 * @example
 * archiveName(new Date(0)); // "aragora-backup-19700101T000000Z.tar.gz"
 * archiveName(new Date(0), true); // "aragora-backup-19700101T000000Z.tar.gz.enc"
 */
export function archiveName(at: Date, sealed = false): string {
  return `${ARCHIVE_PREFIX}${archiveStamp(at)}${sealed ? SEALED_ARCHIVE_SUFFIX : ARCHIVE_SUFFIX}`;
}

/**
 * True for names `db.backup` writes, sealed or not.
 *
 * @example
 * isArchiveName("aragora-backup-20261128T031500Z.tar.gz"); // true
 * isArchiveName("aragora-backup-20261128T031500Z.tar.gz.enc"); // true
 */
export function isArchiveName(name: string): boolean {
  return name.startsWith(ARCHIVE_PREFIX) && (name.endsWith(ARCHIVE_SUFFIX) || name.endsWith(SEALED_ARCHIVE_SUFFIX));
}

const STAMPED = /^aragora-backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.tar\.gz(?:\.enc)?$/;

/**
 * Orders archive names oldest first: by stamp, then by the `-2`, `-3` ... a second archive within
 * the same second gets (plain string order puts `...Z-2.tar.gz` before `...Z.tar.gz`).
 *
 * @example names.filter(isArchiveName).sort(compareArchiveNames).at(-1) // the newest
 */
export function compareArchiveNames(a: string, b: string): number {
  const key = (name: string): [string, number] => {
    const m = STAMPED.exec(name);
    return m ? [m[1] as string, Number(m[2] ?? 1)] : [name, 0];
  };
  const [sa, na] = key(a);
  const [sb, nb] = key(b);
  return sa < sb ? -1 : sa > sb ? 1 : na - nb || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The key a backup archive needs: its sealed header's key id, or null for a plain archive. Reads
 * only the first bytes; throws naming the file when a sealed header is damaged.
 *
 * @example archiveKeyId(".nomic/backups/aragora-backup-20261128T031500Z.tar.gz.enc") // "k3f9a0c12b4de"
 */
export function archiveKeyId(archive: string): string | null {
  return readSealedHeaderFile(archive)?.keyId ?? null;
}

/** Counted in the encryption metrics under the store "backups", one per archive. */
const STORE = "backups";

/** Counts a decryption that failed on the sealed format or its key (a tar or disk error is not counted). */
function countFailure(err: unknown, ring: KeyRing | undefined): void {
  if (!(err instanceof SealedStreamError)) return;
  let errorType = "tampered";
  if (err.reason === "key-not-found") errorType = ring === undefined ? "no_key" : "key_not_found";
  else if (err.reason === "not-sealed" || err.reason === "version" || err.reason === "header") errorType = "malformed";
  metrics.encryptionErrors.inc({ operation: "decrypt", error_type: errorType });
}

/**
 * The key id an archive needs (null: a plain archive), after checking `ring` holds it: throws
 * `SealedKeyNotFoundError` naming the key id otherwise, before anything is read or written.
 *
 * @example const keyId = requireArchiveKey(archive, ctx.encryptionKeys());
 */
export function requireArchiveKey(archive: string, ring: KeyRing | undefined): string | null {
  try {
    const keyId = archiveKeyId(archive);
    if (keyId !== null && !ring?.byId.has(keyId)) throw new SealedKeyNotFoundError(keyId, archive, ring?.ids ?? []);
    return keyId;
  } catch (err) {
    countFailure(err, ring);
    throw err;
  }
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
    const key = options.encryptWith;
    const suffix = key ? SEALED_ARCHIVE_SUFFIX : ARCHIVE_SUFFIX;
    // A stamp is used once, whichever form took it, so "latest" is never ambiguous.
    const taken = (stem: string) =>
      existsSync(`${stem}${ARCHIVE_SUFFIX}`) || existsSync(`${stem}${SEALED_ARCHIVE_SUFFIX}`);
    let stem = join(backupDir, `${ARCHIVE_PREFIX}${archiveStamp(now)}`);
    for (let n = 2; taken(stem); n++) stem = join(backupDir, `${ARCHIVE_PREFIX}${archiveStamp(now)}-${n}`);
    const archive = `${stem}${suffix}`;
    const partial = join(staging, "archive.partial");
    const files = [MANIFEST, ...entries.map((e) => e.name)];
    const { create } = await tar();
    if (key) {
      // tar.gz bytes go straight into the sealer: the plaintext archive never touches the disk.
      const pack = create(
        { gzip: true, portable: true, cwd: staging, maxReadSize: TAR_READ_BYTES },
        files,
      ) as unknown as AsyncIterable<Buffer>;
      await pipeline(pack, sealStream(key), createWriteStream(partial));
      metrics.encryptionOperations.inc({ operation: "encrypt", store: STORE });
    } else {
      await create({ gzip: true, portable: true, file: partial, cwd: staging, maxReadSize: TAR_READ_BYTES }, files);
    }
    const archiveSha256 = await sha256File(partial);
    renameSync(partial, archive);
    progress(`wrote ${basename(archive)}${key ? ` (encrypted with key ${key.id})` : ""}`, 1);
    return { archive, archiveBytes: statSync(archive).size, archiveSha256, manifest, keyId: key?.id ?? null };
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

export interface VerifiedFiles {
  manifest: BackupManifest;
  problems: string[];
}

export interface VerifiedArchive extends VerifiedFiles {
  /** The key the archive was sealed with; null: a plain archive. */
  keyId: string | null;
}

/** A tar stream parser (`list()` without a file), written to like a stream and done on `end`. */
interface TarSink {
  write(chunk: Buffer): boolean;
  end(): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** Writes `source` into a tar parser with backpressure, then ends it and waits until it is done. */
async function feedTar(source: AsyncIterable<Buffer>, sink: TarSink): Promise<void> {
  const done = new Promise<void>((resolveDone, reject) => {
    sink.on("end", () => resolveDone());
    sink.on("error", (err) => reject(err));
  });
  // A parser error while the source is still being read surfaces at the next await below.
  done.catch(() => {});
  for await (const chunk of source) {
    if (!sink.write(chunk)) {
      await Promise.race([new Promise<void>((r) => sink.once("drain", () => r())), done]);
    }
  }
  sink.end();
  await done;
}

/**
 * Decrypt a sealed archive into a plain tar.gz at `target`, streamed. The caller must discard
 * `target` unless this resolves: a sealed file cut short is only known at its end. Throws
 * `SealedKeyNotFoundError` naming the key id when `ring` lacks it.
 *
 * @example await decryptArchive(archive, ring, join(staging, "archive.tar.gz"));
 */
export async function decryptArchive(archive: string, ring: KeyRing | undefined, target: string): Promise<string> {
  const opener = openSealedStream(ring, { label: archive });
  try {
    await pipeline(createReadStream(archive), opener, createWriteStream(target));
  } catch (err) {
    countFailure(err, ring);
    throw err;
  }
  metrics.encryptionOperations.inc({ operation: "decrypt", store: STORE });
  return opener.sealedHeader?.keyId as string;
}

/**
 * Verify an archive without writing anything: stream it (decrypting a sealed one with the key its
 * header names, from `ring`), hash every entry, and run `PRAGMA integrity_check` on each database
 * deserialized in memory. Used by dry runs, which must not create files. Memory use is bounded by
 * the largest database in the archive.
 */
export async function verifyArchiveInMemory(archive: string, ring?: KeyRing): Promise<VerifiedArchive> {
  const found = new Map<string, { bytes: number; sha256: string }>();
  const problems: string[] = [];
  let manifestText: string | undefined;
  const pending: Promise<void>[] = [];
  const keyId = requireArchiveKey(archive, ring);
  const options = {
    onReadEntry(entry: ReadEntry) {
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
  };
  const { list } = await tar();
  if (keyId === null) {
    await list({ file: archive, maxReadSize: TAR_READ_BYTES, ...options });
  } else {
    const parser = list(options) as unknown as TarSink;
    try {
      await pipeline(createReadStream(archive), openSealedStream(ring, { label: archive }), (source) =>
        feedTar(source, parser),
      );
    } catch (err) {
      countFailure(err, ring);
      throw err;
    }
    metrics.encryptionOperations.inc({ operation: "decrypt", store: STORE });
  }
  await Promise.all(pending);
  if (manifestText === undefined) throw new Error(`${archive}: no ${MANIFEST} inside; not an aragora backup`);
  const manifest = parseManifest(manifestText);
  return { manifest, problems: [...manifestProblems(manifest, found), ...problems], keyId };
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
export async function verifyExtracted(dir: string): Promise<VerifiedFiles> {
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
