/**
 * Cleanup of a data dir laid out with aged entries (modification times set with utimes, no
 * sleeping): the cleanup.prune action and `aragora cleanup` remove exactly what the retention rules
 * say, never essential or live databases, archive first when asked, and a dry run changes nothing.
 */
import { Database } from "bun:sqlite";
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { list } from "tar";
import { cleanupPrune } from "../../ops/actions/cleanup-prune.ts";
import { DEFAULT_POLICY, planCleanup } from "../../ops/cleanup/plan.ts";
import { runCli } from "../support/server.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext, treeChecksums } from "./context.ts";

const DAY = 86_400_000;
const dirs: TempDir[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

/** Set a file's or a whole tree's modification time to `days` ago (children first). */
function age(path: string, days: number): void {
  const at = new Date(Date.now() - days * DAY);
  if (lstatSync(path).isDirectory()) for (const child of readdirSync(path)) age(join(path, child), days);
  utimesSync(path, at, at);
}

function put(root: string, rel: string, bytes: number, days: number): void {
  const path = join(root, rel);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, Buffer.alloc(bytes, 1));
  age(path, days);
}

function sqliteFile(path: string): void {
  mkdirSync(join(path, ".."), { recursive: true });
  const db = new Database(path, { create: true });
  db.run("CREATE TABLE t (x)");
  db.close();
}

/** The layout every test starts from; returns the relative paths that should go. */
function layout(): { root: string; expected: string[] } {
  const dir = tempDataDir();
  dirs.push(dir);
  const root = dir.path;
  sqliteFile(join(root, "core.db"));
  put(root, "core.db-wal", 100, 30);
  age(join(root, "core.db"), 30);
  put(root, "gone.db-wal", 1000, 0);
  put(root, "gone.db-shm", 300, 0);
  for (const [i, days] of [1, 2, 3, 8, 9, 10, 11].entries()) {
    put(root, `backups/aragora-backup-2026110${i}T000000Z.tar.gz`, 500, days);
  }
  put(root, "sessions/s-old/telemetry.jsonl", 200, 4);
  put(root, "sessions/s-new/telemetry.jsonl", 200, 2);
  put(root, "sessions/test-x/telemetry.jsonl", 50, 2);
  put(root, "sessions/test_y/telemetry.jsonl", 50, 0.5);
  sqliteFile(join(root, "sessions/s-keep/memory.db"));
  age(join(root, "sessions/s-keep"), 10);
  put(root, "checkpoints/c1.json", 700, 8);
  put(root, "checkpoints/c2.json", 700, 6);
  sqliteFile(join(root, "checkpoints/d-live.db"));
  put(root, "checkpoints/d-live.db-wal", 10, 10);
  age(join(root, "checkpoints/d-live.db"), 10);
  put(root, "artifacts/a1.log", 400, 8);
  // A folder's own mtime moved when its files were written; set it back with them.
  for (const [session, days] of Object.entries({ "s-old": 4, "s-new": 2, "test-x": 2, test_y: 0.5 })) {
    age(join(root, "sessions", session), days);
  }
  put(root, "incidents/2020-01-01-old.md", 10, 3000);
  return {
    root,
    expected: [
      "gone.db-wal",
      "gone.db-shm",
      "backups/aragora-backup-20261105T000000Z.tar.gz",
      "backups/aragora-backup-20261106T000000Z.tar.gz",
      "sessions/s-old",
      "sessions/test-x",
      "checkpoints/c1.json",
      "artifacts/a1.log",
    ].sort(),
  };
}

describe("the cleanup plan", () => {
  test("applies the runbook's retention and protects essential, live and newest entries", () => {
    const { root, expected } = layout();
    const plan = planCleanup(root, DEFAULT_POLICY, new Date());
    expect(plan.candidates.map((c) => c.relativePath).sort()).toEqual(expected);
    expect(plan.totalBytes).toBe(1000 + 300 + 500 + 500 + 200 + 50 + 700 + 400);
    expect(plan.protected.map((p) => p.relativePath).sort()).toEqual([
      "backups/aragora-backup-20261103T000000Z.tar.gz",
      "backups/aragora-backup-20261104T000000Z.tar.gz",
      "checkpoints/d-live.db",
      "checkpoints/d-live.db-wal",
      "sessions/s-keep",
    ]);
    expect(plan.protected.find((p) => p.relativePath === "sessions/s-keep")?.reason).toContain("essential database");
    expect(plan.protected.find((p) => p.relativePath === "checkpoints/d-live.db")?.reason).toContain("live database");
  });

  test("custom retention: --backup-days 14 keeps every backup, --session-days 1 takes more sessions", () => {
    const { root } = layout();
    const plan = planCleanup(root, { ...DEFAULT_POLICY, backupDays: 14, sessionDays: 1 }, new Date());
    const paths = plan.candidates.map((c) => c.relativePath);
    expect(paths.filter((p) => p.startsWith("backups/"))).toEqual([]);
    expect(paths).toContain("sessions/s-new");
  });
});

describe("cleanup.prune", () => {
  test("plan changes nothing; run removes exactly the plan and archives it first", async () => {
    const { root, expected } = layout();
    const archiveDir = join(root, "..", `${root.split("/").at(-1)}-archive`);
    dirs.push({ path: archiveDir, remove: () => Bun.spawnSync(["rm", "-rf", archiveDir]) });
    const ctx = actionContext(root);
    const before = treeChecksums(root);
    const plan = await cleanupPrune.plan({ archive_to: archiveDir }, ctx);
    expect(treeChecksums(root)).toEqual(before);
    expect(existsSync(archiveDir)).toBe(false);
    expect(plan.changes.map((c) => c.target.slice(root.length + 1)).sort()).toEqual(expected);
    expect(plan.changes.find((c) => c.target.endsWith("gone.db-wal"))?.kind).toBe("delete");
    expect(plan.changes.find((c) => c.target.endsWith("c1.json"))?.kind).toBe("archive");

    const out = await cleanupPrune.run({ archive_to: archiveDir }, ctx);
    expect(out).toMatchObject({ removed: expected.length, freed_bytes: 3650, kept: 5 });
    for (const rel of expected) expect(existsSync(join(root, rel))).toBe(false);
    for (const kept of [
      "core.db",
      "core.db-wal",
      "sessions/s-keep/memory.db",
      "checkpoints/d-live.db-wal",
      "incidents",
    ]) {
      expect(existsSync(join(root, kept))).toBe(true);
    }
    const archived: string[] = [];
    await list({ file: String(out.archive), onReadEntry: (e) => archived.push(e.path.replace(/\/$/, "")) });
    expect(archived).toContain("sessions/s-old/telemetry.jsonl");
    expect(archived).toContain("backups/aragora-backup-20261106T000000Z.tar.gz");
    expect(archived.some((p) => p.includes("gone.db"))).toBe(false);

    // Idempotent: a second pass finds nothing.
    expect(await cleanupPrune.run({}, ctx)).toMatchObject({ removed: 0, freed_bytes: 0 });
  });
});

describe("aragora cleanup", () => {
  test("--dry-run prints what would go and the space it frees, and changes nothing", async () => {
    const { root } = layout();
    const before = treeChecksums(root);
    const r = await runCli(["cleanup", "--dry-run"], { ARAGORA_DATA_DIR: root });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("would remove sessions/s-old (200 B): session, 4.0 days old (retention 3 days)");
    expect(r.stdout).toContain("would remove gone.db-wal (1000 B): orphaned WAL file: gone.db does not exist");
    expect(r.stdout).toContain("keeping sessions/s-keep: holds sessions/s-keep/memory.db (essential database)");
    expect(r.stdout).toContain("would free 3.6 KiB (3650 bytes) in 8 entries");
    expect(treeChecksums(root)).toEqual(before);
  });

  test("refuses without --yes when nobody can confirm; --yes removes; flags are validated", async () => {
    const { root } = layout();
    const refused = await runCli(["cleanup"], { ARAGORA_DATA_DIR: root });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain("pass --yes");
    expect(existsSync(join(root, "sessions/s-old"))).toBe(true);

    const bad = await runCli(["cleanup", "--backup-days", "two"], { ARAGORA_DATA_DIR: root });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--backup-days must be a non-negative integer (was "two")');

    const done = await runCli(["cleanup", "--yes", "--session-days", "1", "--json"], { ARAGORA_DATA_DIR: root });
    expect(done.code).toBe(0);
    const body = JSON.parse(done.stdout) as { result: { removed: unknown[]; freedBytes: number } };
    expect(body.result.removed).toHaveLength(9);
    expect(existsSync(join(root, "sessions/s-new"))).toBe(false);
    expect(existsSync(join(root, "core.db"))).toBe(true);

    const analysis = await runCli(["cleanup", "--analyze-only"], { ARAGORA_DATA_DIR: root });
    expect(analysis.code).toBe(0);
    expect(analysis.stdout).toMatch(/backups\s+5\s+2\.4 KiB/);
  });
});
