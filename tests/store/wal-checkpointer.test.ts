import { afterEach, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { createLogger } from "../../runtime/log.ts";
import { registry } from "../../runtime/metrics.ts";
import { checkpointInBackground, openSqliteDatabase } from "../../runtime/store/sqlite.ts";
import { WalCheckpointer } from "../../runtime/store/wal-checkpointer.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";

let dir: TempDir | undefined;
afterEach(() => dir?.remove());

async function checkpoints(): Promise<number> {
  const m = /aragora_sqlite_checkpoint_seconds_count (\d+)/.exec(await registry.metrics());
  return m ? Number(m[1]) : 0;
}

test("a server's connections leave WAL checkpoints to the checkpointer thread, which copies the WAL into the file", async () => {
  dir = tempDataDir();
  const path = join(dir.path, "core.db");
  checkpointInBackground();
  const db = openSqliteDatabase(path, 5000);
  expect(Object.values(db.query("PRAGMA wal_autocheckpoint").get() as object)[0]).toBe(0);
  db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
  const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
  // ~3,000 pages: three times the size at which SQLite would have checkpointed inside a commit.
  db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run("x".repeat(3500));
  })();
  const fileBefore = statSync(path).size;
  expect(statSync(`${path}-wal`).size).toBeGreaterThan(10_000_000);
  expect(fileBefore).toBeLessThan(1_000_000);

  const before = await checkpoints();
  const checkpointer = new WalCheckpointer(path, {
    busyTimeoutMs: 5000,
    walLimitBytes: 1024 * 1024 * 1024,
    log: createLogger("ERROR"),
    intervalMs: 50,
  });
  const deadline = Date.now() + 5000;
  while (statSync(path).size < 10_000_000 && Date.now() < deadline) await Bun.sleep(25);
  expect(statSync(path).size).toBeGreaterThan(10_000_000);
  while ((await checkpoints()) === before && Date.now() < deadline) await Bun.sleep(25);
  expect(await checkpoints()).toBeGreaterThan(before);

  // The next write starts the WAL over instead of growing it.
  db.run("INSERT INTO t (body) VALUES ('after')");
  expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 3001 });
  await checkpointer.stop();
  db.close(false);
});
