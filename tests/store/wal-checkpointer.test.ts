import { afterEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, statfsSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../runtime/log.ts";
import { registry } from "../../runtime/metrics.ts";
import { checkpointInBackground, openSqliteDatabase } from "../../runtime/store/sqlite.ts";
import { WalCheckpointer } from "../../runtime/store/wal-checkpointer.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";

let dir: TempDir | undefined;
afterEach(() => dir?.remove());

async function truncates(): Promise<number> {
  const m = /aragora_sqlite_wal_truncate_seconds_count\{outcome="done"\} (\d+)/.exec(await registry.metrics());
  return m ? Number(m[1]) : 0;
}

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

test("on a nearly full disk (a 1 MiB tmpfs) the WAL is emptied long before its limit, while a checkpoint still has room to copy it: no write fails", async () => {
  const mountPoint = mkdtempSync(join(tmpdir(), "aragora-wal-tmpfs-"));
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
  if (mount.exitCode !== 0) {
    console.warn(`skipped: mount -t tmpfs not permitted here: ${mount.stderr.toString().trim()}`);
    rmSync(mountPoint, { recursive: true, force: true });
    return;
  }
  const path = join(mountPoint, "core.db");
  const walBytes = () => {
    try {
      return statSync(`${path}-wal`).size;
    } catch {
      return 0;
    }
  };
  checkpointInBackground();
  const db = openSqliteDatabase(path, 5000);
  const before = await truncates();
  // The limit's quarter (16 MiB) is sixteen times the disk, and PASSIVE checkpoints never run by
  // the interval (a minute): only the free space can make the checkpointer act here.
  const checkpointer = new WalCheckpointer(path, {
    busyTimeoutMs: 5000,
    walLimitBytes: 64 * 1024 * 1024,
    log: createLogger("ERROR"),
    intervalMs: 60_000,
  });
  try {
    db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    db.run("INSERT INTO t (id, body) VALUES (1, '')");
    const { bavail, bsize } = statfsSync(mountPoint);
    const free = bavail * bsize;
    // Each commit rewrites one page: the database stays a few pages, the WAL gains one per commit,
    // three times the disk's size in all. Without a checkpoint the WAL alone fills the disk.
    const update = db.prepare("UPDATE t SET body = ? WHERE id = 1");
    const tooLarge = free * 0.7;
    let largest = 0;
    for (let i = 0; i * 4096 < 3 * 1024 * 1024; i++) {
      update.run(String(i % 10).repeat(3000));
      largest = Math.max(largest, walBytes());
      // The checkpointer's thread runs at a lower priority: on a loaded machine it may be late, so
      // wait for it here rather than race it, but only so long.
      if (walBytes() > tooLarge) {
        const deadline = Date.now() + 10_000;
        while (walBytes() > tooLarge && Date.now() < deadline) await Bun.sleep(20);
        if (walBytes() > tooLarge) {
          throw new Error(`the WAL (${walBytes()} bytes) was not emptied with ${free} bytes free on the disk`);
        }
      } else if (i % 8 === 0) await Bun.sleep(1);
    }
    expect(largest).toBeLessThan(free);
    expect(await truncates()).toBeGreaterThan(before);
    expect(db.query("SELECT body FROM t WHERE id = 1").get()).toEqual({ body: String(767 % 10).repeat(3000) });
  } finally {
    await checkpointer.stop();
    db.close(false);
    Bun.spawnSync(["umount", "-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}, 60_000);

test("on a full disk a checkpoint that cannot copy the WAL is tried (and logged) once per interval, not once per watch, and goes through once space is freed", async () => {
  const mountPoint = mkdtempSync(join(tmpdir(), "aragora-wal-tmpfs-"));
  const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
  if (mount.exitCode !== 0) {
    console.warn(`skipped: mount -t tmpfs not permitted here: ${mount.stderr.toString().trim()}`);
    rmSync(mountPoint, { recursive: true, force: true });
    return;
  }
  const path = join(mountPoint, "data", "core.db");
  const filler = join(mountPoint, "filler");
  mkdirSync(join(mountPoint, "data"));
  checkpointInBackground();
  const db = openSqliteDatabase(path, 5000);
  const lines: string[] = [];
  let checkpointer: WalCheckpointer | undefined;
  try {
    db.run("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    const insert = db.prepare("INSERT INTO t (body) VALUES (?)");
    // ~40 new pages in the WAL: copying them grows the database file, which the full disk refuses.
    db.transaction(() => {
      for (let i = 0; i < 40; i++) insert.run("x".repeat(3500));
    })();
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${filler}`, "bs=4k"], { stderr: "ignore" });
    expect(statfsSync(mountPoint).bavail).toBe(0);
    checkpointer = new WalCheckpointer(path, {
      busyTimeoutMs: 5000,
      walLimitBytes: 64 * 1024 * 1024,
      log: createLogger("WARNING", { write: (line: string) => void lines.push(line) }),
      intervalMs: 500,
    });
    const started = performance.now();
    await Bun.sleep(2000);
    const failed = lines.filter((l) => l.includes("WAL checkpoint failed")).length;
    const seconds = (performance.now() - started) / 1000;
    expect(failed).toBeGreaterThan(0);
    // One try per 500 ms interval (and the first at once); a try per 50 ms watch would be ~40.
    expect(failed).toBeLessThanOrEqual(Math.ceil(seconds / 0.5) + 1);

    // Space again: the next checkpoint copies the 40 pages into the database file.
    expect(statSync(path).size).toBeLessThan(40 * 4096);
    rmSync(filler);
    const deadline = Date.now() + 10_000;
    while (statSync(path).size < 40 * 4096 && Date.now() < deadline) await Bun.sleep(20);
    expect(statSync(path).size).toBeGreaterThanOrEqual(40 * 4096);
    expect(db.query("SELECT count(*) AS n FROM t").get()).toEqual({ n: 40 });
  } finally {
    await checkpointer?.stop();
    db.close(false);
    Bun.spawnSync(["umount", "-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}, 60_000);
