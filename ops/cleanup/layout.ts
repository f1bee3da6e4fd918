/**
 * The data-dir layout that `aragora cleanup` (and the cleanup.prune action) manages:
 *
 * ```
 * <data dir>/
 *   *.db  *.db-wal  *.db-shm   SQLite databases: never removed; a -wal/-shm without its database is an orphan
 *   backups/                   archives written by db.backup (aragora-backup-<stamp>.tar.gz, .tar.gz.enc when encrypted) and other backups
 *   sessions/                  session telemetry, one entry per session; names starting "test-" or "test_" are test sessions
 *   checkpoints/               debate state checkpoints
 *   artifacts/                 timestamped debug artifacts
 *   incidents/                 post-incident reviews written by incident.record (never cleaned)
 *   server.json                which server holds the data dir (never cleaned)
 * ```
 *
 * @example
 * join(dataDir, LAYOUT.backups); // where db.backup writes and cleanup applies backup retention
 */
import { join } from "node:path";

export const LAYOUT = {
  backups: "backups",
  sessions: "sessions",
  checkpoints: "checkpoints",
  artifacts: "artifacts",
  incidents: "incidents",
} as const;

/** The runbook's essential databases: never deleted, wherever they appear in the data dir. */
export const ESSENTIAL_DATABASES: ReadonlySet<string> = new Set([
  "core.db",
  "memory.db",
  "agents.db",
  "debates.db",
  "agent_elo.db",
  "agent_memories.db",
  "agent_calibration.db",
  "consensus_memory.db",
  "continuum.db",
  "continuum_memory.db",
  "users.db",
  "usage.db",
  "scheduled_debates.db",
]);

/** Session entries whose names start with one of these are test sessions (shorter retention). */
export const TEST_SESSION_PREFIXES = ["test-", "test_"] as const;

/** The backups folder of a data dir. @example backupsDir(".nomic") // ".nomic/backups" */
export function backupsDir(dataDir: string): string {
  return join(dataDir, LAYOUT.backups);
}

/** The incidents folder of a data dir. @example incidentsDir(".nomic") // ".nomic/incidents" */
export function incidentsDir(dataDir: string): string {
  return join(dataDir, LAYOUT.incidents);
}
