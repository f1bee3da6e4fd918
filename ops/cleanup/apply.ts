/**
 * Carrying out a {@link CleanupPlan}: optionally archive the candidates first (one tar.gz in the
 * `archiveTo` folder, paths relative to the data dir), then remove them. Each candidate is checked
 * again just before removal, so a backup or session touched since the plan was made is kept.
 *
 * @example
 * const plan = planCleanup(".nomic", DEFAULT_POLICY, new Date());
 * const result = await applyCleanup(plan, { archiveTo: "/backups/nomic_archive" });
 * result.freedBytes;
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { create } from "tar";
import { archiveStamp } from "../backup/archive.ts";
import { type CleanupCandidate, type CleanupPlan, planCleanup } from "./plan.ts";

export interface ApplyOptions {
  /** Archive the removed entries (orphaned WAL/SHM excepted) into this folder first. */
  archiveTo?: string;
  signal?: AbortSignal;
  progress?: (message: string, fraction?: number) => void;
}

export interface CleanupResult {
  removed: CleanupCandidate[];
  freedBytes: number;
  /** The archive written to `archiveTo`, if any. */
  archive: string | null;
  /** Candidates kept because they no longer qualified when their turn came. */
  skipped: string[];
}

/** The archive file a cleanup at `now` writes into `dir`. @example cleanupArchivePath("/a", new Date(0)) */
export function cleanupArchivePath(dir: string, now: Date): string {
  return join(dir, `aragora-cleanup-${archiveStamp(now)}.tar.gz`);
}

/** Remove (and optionally archive) what `plan` lists; see the module comment. */
export async function applyCleanup(plan: CleanupPlan, options: ApplyOptions = {}): Promise<CleanupResult> {
  const progress = options.progress ?? (() => {});
  // Re-plan now and keep only what both plans agree on: nothing newly protected is touched.
  const fresh = new Set(planCleanup(plan.dataDir, plan.policy, new Date(plan.now)).candidates.map((c) => c.path));
  const todo = plan.candidates.filter((c) => fresh.has(c.path) && existsSync(c.path));
  const skipped = plan.candidates.filter((c) => !todo.includes(c)).map((c) => c.relativePath);

  let archive: string | null = null;
  const toArchive = todo.filter((c) => c.category !== "orphaned_wal");
  if (options.archiveTo !== undefined && toArchive.length > 0) {
    mkdirSync(options.archiveTo, { recursive: true });
    archive = cleanupArchivePath(options.archiveTo, new Date(plan.now));
    const partial = `${archive}.partial`;
    progress(`archive ${toArchive.length} entries to ${archive}`, 0);
    await create(
      { gzip: true, portable: true, file: partial, cwd: plan.dataDir },
      toArchive.map((c) => c.relativePath),
    );
    renameSync(partial, archive);
  }

  const removed: CleanupCandidate[] = [];
  for (const [i, c] of todo.entries()) {
    options.signal?.throwIfAborted();
    progress(`remove ${c.relativePath}`, i / Math.max(todo.length, 1));
    rmSync(c.path, { recursive: true, force: true });
    removed.push(c);
  }
  progress(`removed ${removed.length} entries`, 1);
  return { removed, freedBytes: removed.reduce((n, c) => n + c.bytes, 0), archive, skipped };
}
