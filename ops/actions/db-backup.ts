/**
 * `db.backup`: an online, consistent backup of every SQLite database in the data dir (or the named
 * ones) into `<data dir>/backups/aragora-backup-<UTC stamp>.tar.gz` with a manifest of sha256
 * checksums — sealed with the active encryption key as `...tar.gz.enc` when keys are configured
 * (ActionContext.encryptionKeys), its key id in the step's outputs — then backup retention (keep the newest `keep`, remove the rest once older than
 * `retention_days`; the same rule `aragora cleanup` applies). `copy_to` also copies the finished
 * archive to another folder (a mounted bucket, another disk). Safe while the server writes.
 *
 * @example
 * steps:
 *   - id: backup
 *     action: db.backup
 *     with: { keep: 5, retention_days: 7 }
 *     timeout: 30m
 */
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { archiveName, createBackupArchive } from "../backup/archive.ts";
import { backupsDir } from "../cleanup/layout.ts";
import { backupRetention } from "../cleanup/plan.ts";
import { formatBytes, selectDatabases } from "./db-files.ts";

const BackupInput = lazy(() =>
  type({
    "+": "reject",
    "databases?": "string[]",
    "keep?": "number.integer >= 1",
    "retention_days?": "number >= 0",
    // "" means no copy, so a playbook can pass an optional path param straight through.
    "copy_to?": "string",
  }),
);

const DEFAULT_KEEP = 5;
const DEFAULT_RETENTION_DAYS = 7;

export const dbBackup: ActionDefinition<typeof BackupInput.infer, Record<string, unknown>> = {
  name: "db.backup",
  description:
    "online backup of the data dir's SQLite databases into backups/aragora-backup-<stamp>.tar.gz (manifest with sha256; .tar.gz.enc, encrypted with the active key, when keys are configured), then retention",
  input: BackupInput,
  outputs: ["archive", "bytes", "sha256", "databases", "pruned", "copied_to", "key_id"],
  // Another run writes another archive; retention keeps the count bounded.
  idempotent: true,
  async plan(input, ctx) {
    const files = selectDatabases(ctx.dataDir, input.databases);
    const keep = input.keep ?? DEFAULT_KEEP;
    const dir = backupsDir(ctx.dataDir);
    const key = ctx.encryptionKeys()?.active;
    const archive = join(dir, archiveName(new Date(), key !== undefined));
    // The new archive will be the newest, so the existing ones compete for keep - 1 places.
    const prune = backupRetention(
      ctx.dataDir,
      { backupKeep: keep - 1, backupDays: input.retention_days ?? DEFAULT_RETENTION_DAYS },
      Date.now(),
    ).candidates;
    const total = files.reduce((n, f) => n + f.bytes, 0);
    return {
      summary: `back up ${files.length} database(s) (${formatBytes(total)}) into ${archive}${key ? ` encrypted with key ${key.id}` : " (not encrypted: no key configured)"}; prune ${prune.length} old backup(s)`,
      changes: [
        {
          kind: "create",
          target: archive,
          diff: [
            "+ manifest.json",
            ...files.map((f) => `+ ${f.name} (VACUUM INTO copy of ${formatBytes(f.bytes)})`),
          ].join("\n"),
          bytes: total,
        },
        ...(input.copy_to
          ? [{ kind: "create", target: join(resolve(input.copy_to), basename(archive)), diff: "copy of the archive" }]
          : []),
        ...prune.map((c) => ({ kind: "delete", target: c.path, diff: c.reason, bytes: c.bytes })),
      ],
    };
  },
  async run(input, ctx) {
    const files = selectDatabases(ctx.dataDir, input.databases);
    const key = ctx.encryptionKeys()?.active;
    const result = await createBackupArchive({
      dataDir: ctx.dataDir,
      backupDir: backupsDir(ctx.dataDir),
      databases: files,
      busyTimeoutMs: ctx.config.sqliteBusyTimeoutMs,
      ...(key ? { encryptWith: key } : {}),
      signal: ctx.signal,
      progress: (m, f) => ctx.progress(m, f),
    });
    let copiedTo = "";
    if (input.copy_to) {
      const target = resolve(input.copy_to);
      mkdirSync(target, { recursive: true });
      copiedTo = join(target, basename(result.archive));
      copyFileSync(result.archive, copiedTo);
    }
    const prune = backupRetention(
      ctx.dataDir,
      { backupKeep: input.keep ?? DEFAULT_KEEP, backupDays: input.retention_days ?? DEFAULT_RETENTION_DAYS },
      Date.now(),
    ).candidates;
    for (const c of prune) {
      rmSync(c.path, { recursive: true, force: true });
      ctx.log.info({ removed: c.relativePath, bytes: c.bytes }, "backup retention removed an old backup");
    }
    ctx.log.info(
      {
        archive: result.archive,
        bytes: result.archiveBytes,
        databases: files.length,
        pruned: prune.length,
        key_id: result.keyId,
      },
      "backup written",
    );
    return {
      archive: result.archive,
      bytes: result.archiveBytes,
      sha256: result.archiveSha256,
      databases: result.manifest.databases.length,
      pruned: prune.length,
      copied_to: copiedTo,
      // "" when the archive is not encrypted, like copied_to when there is no copy.
      key_id: result.keyId ?? "",
    };
  },
};
