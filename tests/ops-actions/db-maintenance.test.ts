/**
 * db.checkpoint, db.analyze, db.vacuum and db.integrity_check on real SQLite files in a temporary
 * data dir, with a connection holding the database open as the server would; plans change nothing.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listDatabases } from "../../ops/actions/db-files.ts";
import { dbAnalyze, dbCheckpoint, dbIntegrityCheck, dbVacuum } from "../../ops/actions/db-maintenance.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext, treeChecksums } from "./context.ts";

let dir: TempDir;
let live: Database;

function makeDatabase(path: string, rows: number): Database {
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  db.run("CREATE INDEX IF NOT EXISTS notes_body ON notes (body)");
  const insert = db.prepare("INSERT INTO notes (body) VALUES (?)");
  db.transaction(() => {
    for (let i = 0; i < rows; i++) insert.run(`note ${i} ${"x".repeat(200)}`);
  })();
  return db;
}

beforeAll(() => {
  dir = tempDataDir();
  // core.db stays open (the "server"), memory.db is closed; a stray text file is not a database.
  live = makeDatabase(join(dir.path, "core.db"), 2000);
  live.run("PRAGMA wal_autocheckpoint = 0");
  makeDatabase(join(dir.path, "memory.db"), 100).close();
  writeFileSync(join(dir.path, "notes.db"), "not a database");
});
afterAll(() => {
  live.close();
  dir.remove();
});

describe("database discovery", () => {
  test("finds SQLite files by header, not by name alone", () => {
    expect(listDatabases(dir.path).map((d) => d.name)).toEqual(["core.db", "memory.db"]);
  });

  test("an unknown database name fails before anything runs", async () => {
    await expect(dbAnalyze.plan({ databases: ["nope.db"] }, actionContext(dir.path))).rejects.toThrow(
      /no database nope.db .*present: core.db, memory.db/,
    );
  });
});

describe("plans change nothing", () => {
  test("every maintenance plan leaves the data dir byte-identical", async () => {
    const before = treeChecksums(dir.path);
    const ctx = actionContext(dir.path);
    const plans = [
      await dbCheckpoint.plan({ mode: "TRUNCATE" }, ctx),
      await dbAnalyze.plan({}, ctx),
      await dbVacuum.plan({}, ctx),
      await dbIntegrityCheck.plan({}, ctx),
    ];
    expect(treeChecksums(dir.path)).toEqual(before);
    expect(plans[0]?.changes.map((c) => c.diff?.split("  --")[0])).toEqual([
      "PRAGMA wal_checkpoint(TRUNCATE);",
      "PRAGMA wal_checkpoint(TRUNCATE);",
    ]);
    expect(plans[3]?.changes).toEqual([]);
  });
});

describe("maintenance on live files", () => {
  test("PASSIVE copies the WAL back without truncating it; TRUNCATE empties it", async () => {
    live.run("INSERT INTO notes (body) VALUES ('after open')");
    const wal = join(dir.path, "core.db-wal");
    expect(statSync(wal).size).toBeGreaterThan(0);
    const ctx = actionContext(dir.path);
    const passive = await dbCheckpoint.run({ mode: "PASSIVE", databases: ["core.db"] }, ctx);
    expect(passive).toMatchObject({ databases: 1, busy: 0 });
    expect(passive.wal_frames).toBeGreaterThan(0);
    expect(passive.checkpointed_frames).toBe(passive.wal_frames);
    expect(statSync(wal).size).toBeGreaterThan(0);

    const truncate = await dbCheckpoint.run({ mode: "TRUNCATE" }, ctx);
    expect(truncate).toMatchObject({ databases: 2, busy: 0 });
    expect(statSync(wal).size).toBe(0);
    // The open connection keeps working after the checkpoint.
    live.run("INSERT INTO notes (body) VALUES ('after checkpoint')");
    expect(live.query<{ n: number }, []>("SELECT count(*) AS n FROM notes").get()?.n).toBe(2002);
  });

  test("ANALYZE writes planner statistics", async () => {
    const out = await dbAnalyze.run({}, actionContext(dir.path));
    expect(out).toEqual({ databases: 2 });
    const stats = live.query<{ tbl: string }, []>("SELECT tbl FROM sqlite_stat1").all();
    expect(stats.map((s) => s.tbl)).toContain("notes");
  });

  test("VACUUM reclaims the pages of deleted rows", async () => {
    live.run("DELETE FROM notes WHERE id % 2 = 0");
    const out = await dbVacuum.run({ databases: ["core.db"] }, actionContext(dir.path));
    expect(out.databases).toBe(1);
    expect(out.bytes_freed as number).toBeGreaterThan(100_000);
    expect(out.bytes_after as number).toBeLessThan(out.bytes_before as number);
  });

  test("integrity_check passes on sound files and fails the step on a corrupt one", async () => {
    expect(await dbIntegrityCheck.run({}, actionContext(dir.path))).toEqual({
      ok: true,
      databases: 2,
      failed: 0,
      problems: "",
    });
    const bad = join(dir.path, "broken.db");
    const db = makeDatabase(bad, 3000);
    db.run("PRAGMA wal_checkpoint(TRUNCATE)");
    db.close();
    // Overwrite a page in the middle of the index's b-tree with garbage.
    const bytes = Bun.file(bad);
    const buf = Buffer.from(await bytes.arrayBuffer());
    buf.fill(0x5a, 4096 * 60, 4096 * 62);
    writeFileSync(bad, buf);
    await expect(dbIntegrityCheck.run({}, actionContext(dir.path))).rejects.toThrow(
      /integrity check failed for broken.db/,
    );
    const report = await dbIntegrityCheck.run({ fail_on_problem: false }, actionContext(dir.path));
    expect(report).toMatchObject({ ok: false, databases: 3, failed: 1 });
    expect(String(report.problems)).toStartWith("broken.db: ");
  });
});
