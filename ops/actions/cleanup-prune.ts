/**
 * `cleanup.prune`: the runbook's storage cleanup as a playbook step, with the same rules and
 * defaults as `aragora cleanup` (ops/cleanup): old backups beyond the newest `backup_keep`,
 * sessions, test sessions, checkpoints, artifacts, and orphaned -wal/-shm files. Essential and
 * live databases are never removed. `archive_to` archives what is removed first.
 *
 * @example
 * steps:
 *   - id: prune
 *     action: cleanup.prune
 *     with: { backup_days: 14, archive_to: /backups/nomic_archive }
 *     timeout: 10m
 */
import { resolve } from "node:path";
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { applyCleanup } from "../cleanup/apply.ts";
import { type CleanupPolicy, DEFAULT_POLICY, planCleanup } from "../cleanup/plan.ts";
import { formatBytes } from "./db-files.ts";

const PruneInput = lazy(() =>
  type({
    "+": "reject",
    "backup_days?": "number >= 0",
    "backup_keep?": "number.integer >= 0",
    "session_days?": "number >= 0",
    "test_session_days?": "number >= 0",
    "checkpoint_days?": "number >= 0",
    "artifact_days?": "number >= 0",
    "archive_to?": "string > 0",
  }),
);
type PruneInputT = typeof PruneInput.infer;

/** The cleanup policy a step's `with:` asks for, defaults filled in. @example policyFrom({ backup_days: 14 }) */
export function policyFrom(input: PruneInputT): CleanupPolicy {
  return {
    backupDays: input.backup_days ?? DEFAULT_POLICY.backupDays,
    backupKeep: input.backup_keep ?? DEFAULT_POLICY.backupKeep,
    sessionDays: input.session_days ?? DEFAULT_POLICY.sessionDays,
    testSessionDays: input.test_session_days ?? DEFAULT_POLICY.testSessionDays,
    checkpointDays: input.checkpoint_days ?? DEFAULT_POLICY.checkpointDays,
    artifactDays: input.artifact_days ?? DEFAULT_POLICY.artifactDays,
  };
}

export const cleanupPrune: ActionDefinition<PruneInputT, Record<string, unknown>> = {
  name: "cleanup.prune",
  description: "remove old backups, sessions, checkpoints, artifacts and orphaned -wal/-shm files from the data dir",
  input: PruneInput,
  outputs: ["removed", "freed_bytes", "archive", "kept"],
  // A second pass finds nothing more to remove.
  idempotent: true,
  async plan(input, ctx) {
    const plan = planCleanup(ctx.dataDir, policyFrom(input), new Date());
    return {
      summary: `remove ${plan.candidates.length} entries, freeing ${formatBytes(plan.totalBytes)}${input.archive_to ? ` (archived to ${resolve(input.archive_to)} first)` : ""}; ${plan.protected.length} protected`,
      changes: plan.candidates.map((c) => ({
        kind: input.archive_to && c.category !== "orphaned_wal" ? "archive" : "delete",
        target: c.path,
        diff: c.reason,
        bytes: c.bytes,
      })),
    };
  },
  async run(input, ctx) {
    const plan = planCleanup(ctx.dataDir, policyFrom(input), new Date());
    const result = await applyCleanup(plan, {
      ...(input.archive_to ? { archiveTo: resolve(input.archive_to) } : {}),
      signal: ctx.signal,
      progress: (m, f) => ctx.progress(m, f),
    });
    for (const c of result.removed)
      ctx.log.info({ removed: c.relativePath, bytes: c.bytes, reason: c.reason }, "cleanup");
    return {
      removed: result.removed.length,
      freed_bytes: result.freedBytes,
      archive: result.archive ?? "",
      kept: plan.protected.length + result.skipped.length,
    };
  },
};
