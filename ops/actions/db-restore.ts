/**
 * `db.restore`: put the databases of a backup archive back into the data dir. An encrypted archive
 * (`.tar.gz.enc`) is opened with the configured key its header names (ActionContext.encryptionKeys:
 * after a rotation the old key, listed after the new one, still opens old backups); when that key
 * is not configured the step fails naming it, before anything is written. The archive is
 * verified first (every file against the manifest's sha256, `PRAGMA integrity_check` on each
 * database) in a staging folder inside the data dir; only then is each database swapped in with a
 * rename, after removing the replaced database's stale -wal/-shm (which would otherwise be replayed
 * into the restored file). Refuses while a server holds the data dir: stop it first.
 *
 * @example
 * steps:
 *   - id: restore
 *     action: db.restore
 *     with: { archive: latest }          # or a path to an aragora-backup-*.tar.gz(.enc)
 *     timeout: 30m
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { type } from "arktype";
import { extract } from "tar";
import { lockPath, readServerLock } from "../../runtime/server-lock.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition, PlannedChange } from "../action.ts";
import {
  type BackupManifest,
  compareArchiveNames,
  decryptArchive,
  isArchiveName,
  requireArchiveKey,
  TAR_READ_BYTES,
  verifyArchiveInMemory,
  verifyExtracted,
} from "../backup/archive.ts";
import { backupsDir } from "../cleanup/layout.ts";
import { formatBytes } from "./db-files.ts";

const RestoreInput = lazy(() => type({ "+": "reject", archive: "string > 0", "databases?": "string[]" }));
type RestoreInputT = typeof RestoreInput.infer;

const SIDE_FILES = ["-wal", "-shm", "-journal"] as const;

/**
 * The archive a restore means: `latest` is the newest aragora-backup-*.tar.gz(.enc) in
 * `<data dir>/backups` (names carry a sortable UTC stamp); anything else is a path.
 *
 * @example
 * resolveArchive(".nomic", "latest"); // ".nomic/backups/aragora-backup-20261128T020000Z.tar.gz"
 */
export function resolveArchive(dataDir: string, archive: string): string {
  if (archive !== "latest") {
    const path = resolve(archive);
    if (!existsSync(path)) throw new Error(`no backup archive at ${path}`);
    return path;
  }
  const dir = backupsDir(dataDir);
  const names = existsSync(dir) ? readdirSync(dir).filter(isArchiveName).sort(compareArchiveNames) : [];
  const newest = names.at(-1);
  if (newest === undefined) throw new Error(`no backup archive in ${dir} to restore ("latest")`);
  return join(dir, newest);
}

/** Throws when a server (another process, or the one running this step) holds the data dir. */
function refuseWhileServed(ctx: ActionContext): void {
  const holder = readServerLock(ctx.dataDir);
  if (holder) {
    throw new Error(
      `refusing to restore: an Aragora server (pid ${holder.pid}, API port ${holder.api_port}) holds ${ctx.dataDir}; stop it first`,
    );
  }
  // readServerLock ignores our own pid; a server running this playbook itself holds the files open.
  let ownPid = false;
  try {
    ownPid = (JSON.parse(readFileSync(lockPath(ctx.dataDir), "utf8")) as { pid?: number }).pid === process.pid;
  } catch {
    ownPid = false;
  }
  if (ctx.server !== undefined || ownPid) {
    throw new Error(`refusing to restore: this server holds ${ctx.dataDir}; stop it and run the restore with ops run`);
  }
}

function selected(manifest: BackupManifest, names: readonly string[] | undefined) {
  if (!names || names.length === 0) return manifest.databases;
  const byName = new Map(manifest.databases.map((d) => [d.name, d]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    throw new Error(
      `the archive has no ${missing.join(", ")} (it holds ${manifest.databases.map((d) => d.name).join(", ")})`,
    );
  }
  return names.map((n) => byName.get(n) as BackupManifest["databases"][number]);
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

export const dbRestore: ActionDefinition<RestoreInputT, Record<string, unknown>> = {
  name: "db.restore",
  description:
    "restore databases from a backup archive (verified before anything is replaced); refuses while a server holds the data dir",
  input: RestoreInput,
  outputs: ["archive", "restored", "databases", "created_at", "key_id"],
  // Restoring the same archive again gives the same files.
  idempotent: true,
  async plan(input, ctx) {
    const archive = resolveArchive(ctx.dataDir, input.archive);
    refuseWhileServed(ctx);
    const verified = await verifyArchiveInMemory(archive, ctx.encryptionKeys());
    if (verified.problems.length > 0) {
      throw new Error(`${archive} failed verification:\n${verified.problems.join("\n")}`);
    }
    const changes: PlannedChange[] = [];
    for (const d of selected(verified.manifest, input.databases)) {
      const target = join(ctx.dataDir, d.name);
      const current = sizeOf(target);
      for (const side of SIDE_FILES) {
        const bytes = sizeOf(`${target}${side}`);
        if (bytes !== undefined) changes.push({ kind: "delete", target: `${target}${side}`, bytes, diff: "stale" });
      }
      changes.push({
        kind: current === undefined ? "create" : "modify",
        target,
        bytes: d.bytes,
        diff: `${current === undefined ? "(absent)" : formatBytes(current)} -> ${formatBytes(d.bytes)} from the backup of ${verified.manifest.created_at} (sha256 ${d.sha256.slice(0, 12)}…)`,
      });
    }
    return {
      summary: `restore ${changes.filter((c) => c.kind !== "delete").length} database(s) from ${archive} (${verified.keyId ? `decrypted with key ${verified.keyId}, ` : ""}verified: checksums and integrity_check ok)`,
      changes,
    };
  },
  async run(input, ctx) {
    const archive = resolveArchive(ctx.dataDir, input.archive);
    refuseWhileServed(ctx);
    const ring = ctx.encryptionKeys();
    const keyId = requireArchiveKey(archive, ring);
    // Staged inside the data dir so each swap is a rename on one file system.
    const staging = mkdtempSync(join(ctx.dataDir, ".restore-"));
    try {
      let plain = archive;
      if (keyId !== null) {
        // Decrypted whole before tar reads a byte, so a damaged or cut-off archive fails before any
        // file is extracted. The leading dot keeps the name out of what extraction may write.
        ctx.progress(`decrypt ${archive} with key ${keyId}`, 0);
        plain = join(staging, ".decrypted.tar.gz");
        await decryptArchive(archive, ring, plain);
      }
      ctx.progress(`extract ${archive}`, 0.1);
      await extract({
        file: plain,
        cwd: staging,
        maxReadSize: TAR_READ_BYTES,
        strict: true,
        // Flat regular files only: nothing in an archive may write outside the staging folder.
        filter: (path, entry) =>
          /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(path) && (entry as { type?: string }).type === "File",
      });
      if (plain !== archive) rmSync(plain, { force: true });
      ctx.progress("verify checksums and integrity", 0.3);
      const verified = await verifyExtracted(staging);
      if (verified.problems.length > 0) {
        throw new Error(`${archive} failed verification; nothing was replaced:\n${verified.problems.join("\n")}`);
      }
      const chosen = selected(verified.manifest, input.databases);
      for (const [i, d] of chosen.entries()) {
        ctx.signal.throwIfAborted();
        const target = join(ctx.dataDir, d.name);
        ctx.progress(`replace ${d.name}`, 0.5 + (0.5 * i) / Math.max(chosen.length, 1));
        for (const side of SIDE_FILES) rmSync(`${target}${side}`, { force: true });
        renameSync(join(staging, d.name), target);
        ctx.log.info({ database: d.name, archive, bytes: d.bytes, key_id: keyId }, "database restored");
      }
      return {
        archive,
        restored: chosen.length,
        databases: chosen.map((d) => d.name).join(","),
        created_at: verified.manifest.created_at,
        key_id: keyId ?? "",
      };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  },
};
