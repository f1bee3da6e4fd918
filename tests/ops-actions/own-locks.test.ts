/**
 * Every action that touches databases, planned and run in a process that holds those databases
 * open through SQLite (as the server does when its scheduler or a handed-off run executes them):
 * afterwards the process still holds its POSIX locks on each file, and the WAL is still there.
 * Any open()+close() of a database file outside SQLite would have dropped the locks (they belong
 * to the process, not to the descriptor), and a `sqlite3` shell would then delete the live WAL.
 */
import type { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import type { ActionDefinition } from "../../ops/action.ts";
import { cleanupPrune } from "../../ops/actions/cleanup-prune.ts";
import { dbBackup } from "../../ops/actions/db-backup.ts";
import { listDatabases } from "../../ops/actions/db-files.ts";
import { dbAnalyze, dbCheckpoint, dbIntegrityCheck, dbVacuum } from "../../ops/actions/db-maintenance.ts";
import { dbRestore } from "../../ops/actions/db-restore.ts";
import { migrateApply, migrateStatus } from "../../ops/actions/migrate.ts";
import { DEFAULT_POLICY, planCleanup } from "../../ops/cleanup/plan.ts";
import { loadConfig } from "../../runtime/config.ts";
import { openStore } from "../../runtime/store/open.ts";
import { openSqliteDatabase } from "../../runtime/store/sqlite.ts";
import type { Store } from "../../runtime/store/store.ts";
import { locksHeld } from "../support/locks.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext } from "./context.ts";

let dir: TempDir;
let store: Store;
let session: Database;
let core: string;
let sessionDb: string;

beforeAll(async () => {
  dir = tempDataDir();
  core = join(dir.path, "core.db");
  store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), pino({ level: "silent" }));
  // A live database inside a folder cleanup manages, old enough for its rules to consider it.
  mkdirSync(join(dir.path, "sessions", "s-live"), { recursive: true });
  sessionDb = join(dir.path, "sessions", "s-live", "telemetry.db");
  session = openSqliteDatabase(sessionDb, 5000);
  session.run("CREATE TABLE facts (id INTEGER PRIMARY KEY, v TEXT)");
  const old = new Date(Date.now() - 30 * 86_400_000);
  utimesSync(join(dir.path, "sessions", "s-live"), old, old);
  await store.ping();
});
afterAll(async () => {
  session.close();
  await store.close();
  dir.remove();
});

/** This process still holds its locks on both live databases, and their WALs still exist. */
function expectLocksKept(after: string): void {
  write();
  expect({ after, core: locksHeld(process.pid, core).length > 0 }).toEqual({ after, core: true });
  expect({ after, session: locksHeld(process.pid, sessionDb).length > 0 }).toEqual({ after, session: true });
  expect({ after, wal: existsSync(`${core}-wal`) && existsSync(`${sessionDb}-wal`) }).toEqual({ after, wal: true });
}

let n = 0;
/** A write on each connection, so each holds a WAL with frames in it. */
function write(): void {
  n++;
  session.query("INSERT INTO facts (v) VALUES (?)").run(`fact ${n}`);
  void store.ping();
}

test("finding databases and planning a cleanup read headers through SQLite only", () => {
  expectLocksKept("open");
  expect(listDatabases(dir.path).map((d) => d.name)).toEqual(["core.db"]);
  expectLocksKept("listDatabases");
  const plan = planCleanup(dir.path, DEFAULT_POLICY, new Date());
  expect(plan.candidates.map((c) => c.relativePath)).toEqual([]);
  expectLocksKept("planCleanup");
});

// biome-ignore lint/suspicious/noExplicitAny: each action has its own input type
const steps: [string, ActionDefinition<any, any>, Record<string, unknown>][] = [
  ["db.checkpoint PASSIVE", dbCheckpoint, { mode: "PASSIVE" }],
  ["db.checkpoint RESTART", dbCheckpoint, { mode: "RESTART" }],
  ["db.checkpoint TRUNCATE", dbCheckpoint, { mode: "TRUNCATE" }],
  ["db.analyze", dbAnalyze, {}],
  ["db.vacuum", dbVacuum, {}],
  ["db.integrity_check", dbIntegrityCheck, {}],
  ["db.backup", dbBackup, {}],
  ["cleanup.prune", cleanupPrune, {}],
  ["migrate.status", migrateStatus, {}],
  ["migrate.apply", migrateApply, {}],
];

test.each(steps)("%s: plan and run keep the locks", async (label, action, input) => {
  const ctx = actionContext(dir.path);
  await action.plan(input, ctx);
  expectLocksKept(`${label} plan`);
  write();
  await action.run(input, ctx);
  expectLocksKept(`${label} run`);
});

test("db.restore plans (verifying the archive in memory) and keeps the locks", async () => {
  const ctx = actionContext(dir.path);
  const plan = await dbRestore.plan({ archive: "latest" }, ctx);
  expect(plan.changes.map((c) => c.target)).toContain(core);
  expectLocksKept("db.restore plan");
});
