/**
 * Deciding what cleanup removes, without touching anything: every candidate with its category,
 * size and reason, and every entry that matched a rule but is protected (an essential database,
 * a live database, a newest backup). Ages come from modification times measured against an
 * injected "now", so retention is testable without sleeping.
 *
 * @example
 * const plan = planCleanup(".nomic", DEFAULT_POLICY, new Date());
 * plan.candidates.map((c) => `${c.category} ${c.path} ${c.bytes}`);
 * plan.totalBytes; // what removing them frees
 */
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { isSqliteFile } from "../actions/db-files.ts";
import { ESSENTIAL_DATABASES, LAYOUT, TEST_SESSION_PREFIXES } from "./layout.ts";

export type CleanupCategory = "backups" | "sessions" | "checkpoints" | "artifacts" | "orphaned_wal";

export interface CleanupPolicy {
  /** Backups older than this many days are removed ... */
  backupDays: number;
  /** ... except the newest `backupKeep`, whatever their age. */
  backupKeep: number;
  sessionDays: number;
  /** Retention of test sessions (names starting test- or test_). */
  testSessionDays: number;
  checkpointDays: number;
  artifactDays: number;
}

/** The runbook's defaults: 7 days for everything, keep the 5 newest backups, test sessions 1 day. */
export const DEFAULT_POLICY: CleanupPolicy = {
  backupDays: 7,
  backupKeep: 5,
  sessionDays: 3,
  testSessionDays: 1,
  checkpointDays: 7,
  artifactDays: 7,
};

export interface CleanupCandidate {
  category: CleanupCategory;
  /** Absolute path of the file or folder. */
  path: string;
  /** Path relative to the data dir, as shown to the operator. */
  relativePath: string;
  bytes: number;
  /** Age in days, from the newest modification time inside the entry. */
  ageDays: number;
  reason: string;
}

export interface ProtectedEntry {
  relativePath: string;
  reason: string;
}

export interface CleanupPlan {
  dataDir: string;
  policy: CleanupPolicy;
  now: string;
  candidates: CleanupCandidate[];
  protected: ProtectedEntry[];
  totalBytes: number;
}

const DAY_MS = 86_400_000;

interface EntryStats {
  bytes: number;
  newestMtimeMs: number;
  /** Essential or live databases found inside (by relative name). */
  guarded: string[];
}

/** Size, newest mtime and guarded databases of a file or a folder tree (symlinks are not followed). */
function inspect(path: string, dataDir: string): EntryStats {
  const st = lstatSync(path);
  if (!st.isDirectory()) {
    const name = basename(path);
    const guarded: string[] = [];
    if (ESSENTIAL_DATABASES.has(name)) guarded.push(`${relative(dataDir, path)} (essential database)`);
    else if (isLiveDatabase(path)) guarded.push(`${relative(dataDir, path)} (live database: -wal/-shm beside it)`);
    else if (/-(wal|shm)$/.test(name) && existsSync(path.slice(0, -4))) {
      guarded.push(`${relative(dataDir, path)} (WAL/SHM of a database that exists)`);
    }
    return { bytes: st.size, newestMtimeMs: st.mtimeMs, guarded };
  }
  const total: EntryStats = { bytes: 0, newestMtimeMs: st.mtimeMs, guarded: [] };
  for (const child of readdirSync(path)) {
    const sub = inspect(join(path, child), dataDir);
    total.bytes += sub.bytes;
    total.newestMtimeMs = Math.max(total.newestMtimeMs, sub.newestMtimeMs);
    total.guarded.push(...sub.guarded);
  }
  return total;
}

/**
 * A database with a -wal or -shm beside it is open (or was not closed cleanly): never remove it.
 * Whether it is a database is asked of SQLite, never by opening the file (see ops/actions/db-files.ts).
 */
function isLiveDatabase(path: string): boolean {
  return (existsSync(`${path}-wal`) || existsSync(`${path}-shm`)) && isSqliteFile(path);
}

function entriesOf(dir: string): string[] {
  if (!existsSync(dir) || !lstatSync(dir).isDirectory()) return [];
  return readdirSync(dir).sort();
}

/**
 * Backup retention in `<dataDir>/backups`: the newest `backupKeep` entries stay whatever their age,
 * older ones go after `backupDays`; a staging folder left by a crashed backup goes after a day.
 *
 * @example
 * backupRetention(".nomic", DEFAULT_POLICY, Date.now()).candidates;
 */
export function backupRetention(
  dataDir: string,
  policy: Pick<CleanupPolicy, "backupDays" | "backupKeep">,
  nowMs: number,
): { candidates: CleanupCandidate[]; protected: ProtectedEntry[] } {
  const backupDir = join(dataDir, LAYOUT.backups);
  const entries = entriesOf(backupDir).map((name) => {
    const path = join(backupDir, name);
    return { name, path, stats: inspect(path, dataDir) };
  });
  const candidates: CleanupCandidate[] = [];
  const guarded: ProtectedEntry[] = [];
  const add = (e: (typeof entries)[number], maxDays: number, why: string) => {
    const ageDays = (nowMs - e.stats.newestMtimeMs) / DAY_MS;
    if (ageDays <= maxDays) return;
    const relativePath = relative(dataDir, e.path);
    if (e.stats.guarded.length > 0) {
      guarded.push({ relativePath, reason: `holds ${e.stats.guarded.join(", ")}` });
      return;
    }
    candidates.push({
      category: "backups",
      path: e.path,
      relativePath,
      bytes: e.stats.bytes,
      ageDays,
      reason: `${why}, ${ageDays.toFixed(1)} days old (retention ${maxDays} days)`,
    });
  };
  const finished = entries
    .filter((e) => !e.name.startsWith("."))
    .sort((a, b) => b.stats.newestMtimeMs - a.stats.newestMtimeMs);
  for (const [i, e] of finished.entries()) {
    if (i >= policy.backupKeep) add(e, policy.backupDays, "backup");
    else if ((nowMs - e.stats.newestMtimeMs) / DAY_MS > policy.backupDays) {
      guarded.push({
        relativePath: relative(dataDir, e.path),
        reason: `one of the ${policy.backupKeep} newest backups`,
      });
    }
  }
  // A day is far longer than any backup takes: such a staging folder belongs to a crashed backup.
  for (const e of entries.filter((x) => x.name.startsWith(".staging-"))) add(e, 1, "unfinished backup staging");
  return { candidates, protected: guarded };
}

/**
 * Plan a cleanup of `dataDir` under `policy` as of `now`. Reads only (stat, readdir, database headers through SQLite).
 *
 * @example
 * planCleanup("/data/aragora", { ...DEFAULT_POLICY, backupDays: 14 }, new Date("2026-11-28T03:00:00Z"));
 */
export function planCleanup(dataDir: string, policy: CleanupPolicy, now: Date): CleanupPlan {
  const candidates: CleanupCandidate[] = [];
  const guardedList: ProtectedEntry[] = [];
  const nowMs = now.getTime();

  const consider = (category: CleanupCategory, path: string, maxDays: number, why: string) => {
    const stats = inspect(path, dataDir);
    const ageDays = (nowMs - stats.newestMtimeMs) / DAY_MS;
    if (ageDays <= maxDays) return;
    const relativePath = relative(dataDir, path);
    if (stats.guarded.length > 0) {
      guardedList.push({ relativePath, reason: `holds ${stats.guarded.join(", ")}` });
      return;
    }
    candidates.push({
      category,
      path,
      relativePath,
      bytes: stats.bytes,
      ageDays,
      reason: `${why}, ${ageDays.toFixed(1)} days old (retention ${maxDays} days)`,
    });
  };

  const backups = backupRetention(dataDir, policy, nowMs);
  candidates.push(...backups.candidates);
  guardedList.push(...backups.protected);

  const sessionDir = join(dataDir, LAYOUT.sessions);
  for (const name of entriesOf(sessionDir)) {
    const test = TEST_SESSION_PREFIXES.some((p) => name.startsWith(p));
    consider(
      "sessions",
      join(sessionDir, name),
      test ? policy.testSessionDays : policy.sessionDays,
      test ? "test session" : "session",
    );
  }
  const checkpointDir = join(dataDir, LAYOUT.checkpoints);
  for (const name of entriesOf(checkpointDir)) {
    consider("checkpoints", join(checkpointDir, name), policy.checkpointDays, "checkpoint");
  }
  const artifactDir = join(dataDir, LAYOUT.artifacts);
  for (const name of entriesOf(artifactDir)) {
    consider("artifacts", join(artifactDir, name), policy.artifactDays, "artifact");
  }

  // Orphaned WAL/SHM: removed at once; their database is gone, so nothing can need them.
  for (const name of entriesOf(dataDir)) {
    const match = /^(.*)-(wal|shm)$/.exec(name);
    if (!match) continue;
    const path = join(dataDir, name);
    if (!lstatSync(path).isFile() || existsSync(join(dataDir, match[1] as string))) continue;
    candidates.push({
      category: "orphaned_wal",
      path,
      relativePath: name,
      bytes: lstatSync(path).size,
      ageDays: (nowMs - lstatSync(path).mtimeMs) / DAY_MS,
      reason: `orphaned ${match[2]?.toUpperCase()} file: ${match[1]} does not exist`,
    });
  }

  return {
    dataDir,
    policy,
    now: now.toISOString(),
    candidates,
    protected: guardedList,
    totalBytes: candidates.reduce((n, c) => n + c.bytes, 0),
  };
}
