/**
 * db.backup takes a consistent archive while another process keeps writing, with a manifest of
 * checksums and retention; db.restore verifies before it replaces anything, swaps files in, drops
 * stale -wal/-shm, and refuses while a live server holds the data dir.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "tar";
import { dbBackup } from "../../ops/actions/db-backup.ts";
import { dbRestore } from "../../ops/actions/db-restore.ts";
import { type BackupManifest, sha256File } from "../../ops/backup/archive.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext, archiveEntries, treeChecksums } from "./context.ts";

const WRITER = join(import.meta.dir, "fixtures", "pair-writer.ts");

let dir: TempDir;
let scratch: TempDir;
beforeAll(() => {
  dir = tempDataDir();
  scratch = tempDataDir("aragora-scratch-");
});
afterAll(() => {
  dir.remove();
  scratch.remove();
});

async function startWriter(dataDir: string) {
  const proc = Bun.spawn([process.execPath, WRITER, dataDir], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  expect(new TextDecoder().decode(value)).toStartWith("ready");
  return proc;
}

function counts(path: string): { a: number; b: number; max: number } {
  const db = new Database(path, { readonly: true });
  try {
    const a = db.query<{ n: number; m: number }, []>("SELECT count(*) AS n, max(id) AS m FROM a").get();
    const b = db.query<{ n: number }, []>("SELECT count(*) AS n FROM b").get();
    return { a: a?.n ?? 0, b: b?.n ?? 0, max: a?.m ?? 0 };
  } finally {
    db.close();
  }
}

describe("db.backup while a writer commits", () => {
  let archive: string;
  let acknowledged: number;

  test("the archive is consistent, holds everything committed before it began, and matches its manifest", async () => {
    const memory = new Database(join(dir.path, "memory.db"), { create: true });
    memory.run("PRAGMA journal_mode = WAL");
    memory.run("CREATE TABLE facts (k TEXT PRIMARY KEY, v TEXT)");
    memory.run("INSERT INTO facts VALUES ('answer', '42')");
    memory.close();

    const writer = await startWriter(dir.path);
    try {
      await Bun.sleep(50);
      acknowledged = counts(join(dir.path, "core.db")).max;
      const ctx = actionContext(dir.path);
      const out = await dbBackup.run({}, ctx);
      archive = String(out.archive);
      expect(out).toMatchObject({ databases: 2, pruned: 0, copied_to: "" });
      expect(archive).toMatch(/\/backups\/aragora-backup-\d{8}T\d{6}Z\.tar\.gz$/);
      expect(out.sha256).toBe(await sha256File(archive));
      expect(ctx.progressLines.some((l) => l.startsWith("copy core.db"))).toBe(true);
    } finally {
      writer.kill();
      await writer.exited;
    }
    const after = counts(join(dir.path, "core.db"));
    const entries = await archiveEntries(archive);
    expect([...entries.keys()].sort()).toEqual(["core.db", "manifest.json", "memory.db"]);
    const manifest = JSON.parse(String(entries.get("manifest.json"))) as BackupManifest;
    for (const e of manifest.databases) {
      const bytes = entries.get(e.name) as Buffer;
      expect(bytes.length).toBe(e.bytes);
      expect(new Bun.CryptoHasher("sha256").update(bytes).digest("hex")).toBe(e.sha256);
    }
    const copy = join(scratch.path, "core-copy.db");
    writeFileSync(copy, entries.get("core.db") as Buffer);
    const snap = counts(copy);
    expect(snap.a).toBe(snap.b);
    expect(snap.max).toBeGreaterThanOrEqual(acknowledged);
    // The writer kept going after the snapshot: the backup is a point in time, not the end state.
    expect(after.max).toBeGreaterThan(acknowledged);
  }, 30_000);

  test("db.restore puts the archive's databases back and removes the stale WAL", async () => {
    const core = join(dir.path, "core.db");
    const before = counts(core);
    // Leave the WAL of a "crashed" server behind: replayed into the restored file it would undo the restore.
    const db = new Database(core);
    db.run("PRAGMA wal_autocheckpoint = 0");
    db.run("DELETE FROM a");
    const staleWal = readFileSync(`${core}-wal`);
    db.close(false);
    writeFileSync(`${core}-wal`, staleWal);

    const ctx = actionContext(dir.path);
    const plan = await dbRestore.plan({ archive: "latest" }, ctx);
    expect(plan.summary).toContain("verified");
    expect(plan.changes.filter((c) => c.kind === "modify").map((c) => c.target)).toEqual([
      core,
      join(dir.path, "memory.db"),
    ]);
    expect(plan.changes.some((c) => c.kind === "delete" && c.target === `${core}-wal`)).toBe(true);

    const out = await dbRestore.run({ archive: "latest" }, ctx);
    expect(out).toMatchObject({ archive, restored: 2, databases: "core.db,memory.db" });
    expect(existsSync(`${core}-wal`)).toBe(false);
    const restored = counts(core);
    expect(restored.a).toBe(restored.b);
    expect(restored.max).toBeGreaterThanOrEqual(acknowledged);
    expect(restored.max).toBeLessThanOrEqual(before.max);
    // No staging folder is left behind.
    expect(readdirSync(dir.path).filter((n) => n.startsWith("."))).toEqual([]);
  });

  test("a dry run of backup and restore changes nothing", async () => {
    const before = treeChecksums(dir.path);
    const ctx = actionContext(dir.path);
    const backupPlan = await dbBackup.plan({ keep: 1 }, ctx);
    expect(backupPlan.changes[0]?.kind).toBe("create");
    await dbRestore.plan({ archive: archive }, ctx);
    expect(treeChecksums(dir.path)).toEqual(before);
  });
});

describe("db.restore refuses", () => {
  test("a tampered archive: nothing is replaced", async () => {
    const staging = join(scratch.path, "tampered");
    mkdirSync(staging);
    const entries = await archiveEntries(
      readdirSync(join(dir.path, "backups"))
        .map((n) => join(dir.path, "backups", n))
        .at(-1) as string,
    );
    for (const [name, bytes] of entries) writeFileSync(join(staging, name), bytes);
    // Flip bytes in the copy of memory.db, so its sha256 no longer matches the manifest.
    const mem = readFileSync(join(staging, "memory.db"));
    mem[mem.length - 10] = (mem[mem.length - 10] ?? 0) ^ 0xff;
    writeFileSync(join(staging, "memory.db"), mem);
    const bad = join(scratch.path, "aragora-backup-tampered.tar.gz");
    await create({ gzip: true, file: bad, cwd: staging }, ["manifest.json", "core.db", "memory.db"]);

    const before = treeChecksums(dir.path);
    const ctx = actionContext(dir.path);
    await expect(dbRestore.plan({ archive: bad }, ctx)).rejects.toThrow(/memory.db: sha256 .* differs/);
    await expect(dbRestore.run({ archive: bad }, ctx)).rejects.toThrow(/nothing was replaced[\s\S]*memory.db: sha256/);
    expect(treeChecksums(dir.path)).toEqual(before);
  });

  test("while a live server holds the data dir", async () => {
    const holder = Bun.spawn([process.execPath, "-e", "await Bun.sleep(60000)"], { stdout: "ignore" });
    try {
      writeFileSync(
        join(dir.path, "server.json"),
        JSON.stringify({ pid: holder.pid, node_id: "n", host: "h", api_port: 8080, ws_port: 8765 }),
      );
      const ctx = actionContext(dir.path);
      await expect(dbRestore.run({ archive: "latest" }, ctx)).rejects.toThrow(
        new RegExp(`server \\(pid ${holder.pid}, API port 8080\\) holds`),
      );
      await expect(dbRestore.plan({ archive: "latest" }, ctx)).rejects.toThrow(/stop it first/);
      // The server running the playbook itself counts too.
      await expect(
        dbRestore.run({ archive: "latest" }, actionContext(scratch.path, { server: { apiBaseUrl: "http://x" } })),
      ).rejects.toThrow(/no backup archive|this server holds/);
    } finally {
      holder.kill();
      await holder.exited;
    }
    // A lock left by a dead process does not block a restore.
    const out = await dbRestore.run({ archive: "latest", databases: ["memory.db"] }, actionContext(dir.path));
    expect(out).toMatchObject({ restored: 1, databases: "memory.db" });
  });
});

describe("backup retention", () => {
  test("keeps the newest `keep`, removes older ones past retention_days, never the fresh archive", async () => {
    const backups = join(dir.path, "backups");
    const day = 86_400_000;
    for (let i = 1; i <= 6; i++) {
      const path = join(backups, `aragora-backup-2026010${i}T000000Z.tar.gz`);
      writeFileSync(path, "old");
      const at = new Date(Date.now() - (30 - i) * day);
      utimesSync(path, at, at);
    }
    const existing = readdirSync(backups).length;
    const ctx = actionContext(dir.path);
    const plan = await dbBackup.plan({ keep: 3, retention_days: 7 }, ctx);
    const planned = plan.changes.filter((c) => c.kind === "delete").length;
    const out = await dbBackup.run({ keep: 3, retention_days: 7, copy_to: join(scratch.path, "offsite") }, ctx);
    expect(out.pruned).toBe(existing + 1 - 3);
    expect(planned).toBe(out.pruned as number);
    const left = readdirSync(backups).sort();
    expect(left).toHaveLength(3);
    expect(left).toContain(String(out.archive).split("/").at(-1) as string);
    expect(existsSync(String(out.copied_to))).toBe(true);
    expect(await sha256File(String(out.copied_to))).toBe(String(out.sha256));
  });
});
