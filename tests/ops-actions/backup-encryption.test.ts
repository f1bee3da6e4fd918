/**
 * Encrypted backups: with a key configured db.backup seals the archive (`.tar.gz.enc`, the key id
 * in its header and in the step's outputs); db.restore opens it with whichever configured key the
 * header names (the old one after a rotation to `new,old`), fails naming a key that is not
 * configured without touching the data dir, refuses a damaged archive by name, and still restores
 * plain archives; backupKeyIds lists the key each backup needs; memory stays bounded on a large
 * archive. Through the actions, the `ops` CLI (a real process) and a real server.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { dbBackup } from "../../ops/actions/db-backup.ts";
import { selectDatabases } from "../../ops/actions/db-files.ts";
import { dbRestore, resolveArchive } from "../../ops/actions/db-restore.ts";
import {
  type BackupManifest,
  compareArchiveNames,
  createBackupArchive,
  decryptArchive,
  isArchiveName,
  sha256File,
} from "../../ops/backup/archive.ts";
import { backupKeyIds } from "../../ops/backup/backup-keys.ts";
import { generateKeyHex, parseKeyList } from "../../runtime/security/encryption-keys.ts";
import { parseSealedHeader, SealedKeyNotFoundError } from "../../runtime/security/sealed-stream.ts";
import { BUN, childEnv, ROOT, startTestServer } from "../support/server.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext, archiveEntries, treeChecksums } from "./context.ts";

const oldHex = generateKeyHex();
const newHex = generateKeyHex();
const oldRing = parseKeyList(oldHex, "OLD");
const newRing = parseKeyList(newHex, "NEW");
const rotated = parseKeyList(`${newHex},${oldHex}`, "ARAGORA_ENCRYPTION_KEY");
const OLD = oldRing.active.id;
const NEW = newRing.active.id;

const dirs: TempDir[] = [];
function freshDir(prefix?: string): string {
  const d = tempDataDir(prefix);
  dirs.push(d);
  return d.path;
}
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** `rows` facts and about `blobKiB` KiB of incompressible bytes, so archives span several 64 KiB chunks. */
function seed(dataDir: string, rows: number, blobKiB = 0): void {
  const db = new Database(join(dataDir, "memory.db"), { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS facts (id INTEGER PRIMARY KEY, v TEXT)");
  db.run("CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, b BLOB)");
  const insert = db.prepare("INSERT INTO facts (v) VALUES (?)");
  for (let i = 0; i < rows; i++) insert.run(`fact ${i}`);
  const blob = db.prepare("INSERT INTO blobs (b) VALUES (?)");
  for (let i = 0; i < blobKiB / 64; i++) blob.run(randomBytes(64 * 1024));
  // Finalized first: a statement left to the garbage collector keeps the connection open, and its
  // late close would checkpoint the WAL into memory.db in the middle of a later test.
  insert.finalize();
  blob.finalize();
  db.close(true);
}

function factCount(dataDir: string): number {
  const db = new Database(join(dataDir, "memory.db"), { readonly: true });
  try {
    return db.query<{ n: number }, []>("SELECT count(*) AS n FROM facts").get()?.n ?? -1;
  } finally {
    db.close();
  }
}

const leftovers = (dataDir: string) => readdirSync(dataDir).filter((n) => n.startsWith(".restore-"));

describe("db.backup and db.restore with keys", () => {
  let dir: string;
  let scratch: string;
  let sealed: string;
  beforeAll(() => {
    dir = freshDir();
    scratch = freshDir("aragora-scratch-");
    seed(dir, 200, 512);
  });

  test("a backup with a key is sealed (.tar.gz.enc); its manifest keeps the plaintext databases' sha256", async () => {
    const ctx = actionContext(dir, { keys: oldRing });
    const plan = await dbBackup.plan({}, ctx);
    expect(plan.summary).toContain(`encrypted with key ${OLD}`);
    expect(plan.changes[0]?.target).toEndWith(".tar.gz.enc");

    const out = await dbBackup.run({ copy_to: join(scratch, "offsite") }, ctx);
    sealed = String(out.archive);
    expect(sealed).toMatch(/\/backups\/aragora-backup-\d{8}T\d{6}Z\.tar\.gz\.enc$/);
    expect(out).toMatchObject({ key_id: OLD, databases: 1 });
    expect(out.sha256).toBe(await sha256File(sealed));
    expect(await sha256File(String(out.copied_to))).toBe(String(out.sha256));
    expect(ctx.progressLines.at(-1)).toContain(`encrypted with key ${OLD}`);

    const bytes = readFileSync(sealed);
    expect(parseSealedHeader(bytes)?.keyId).toBe(OLD);
    // Not a gzip stream any more: the tar.gz is inside the sealed chunks.
    expect(bytes.subarray(0, 2).equals(Buffer.from([0x1f, 0x8b]))).toBe(false);
    expect(bytes.length).toBeGreaterThan(4 * 64 * 1024);

    const plain = join(scratch, "opened.tar.gz");
    expect(await decryptArchive(sealed, rotated, plain)).toBe(OLD);
    const entries = await archiveEntries(plain);
    const manifest = JSON.parse(String(entries.get("manifest.json"))) as BackupManifest;
    expect(manifest.databases.map((d) => d.name)).toEqual(["memory.db"]);
    const db = entries.get("memory.db") as Buffer;
    expect(db.length).toBe(manifest.databases[0]?.bytes as number);
    expect(new Bun.CryptoHasher("sha256").update(db).digest("hex")).toBe(manifest.databases[0]?.sha256 as string);
  }, 30_000);

  test("after a rotation (new,old) the old key still restores it; the plan says which key opens it", async () => {
    seed(dir, 50);
    expect(factCount(dir)).toBe(250);
    const ctx = actionContext(dir, { keys: rotated });
    const plan = await dbRestore.plan({ archive: "latest" }, ctx);
    expect(plan.summary).toContain(`decrypted with key ${OLD}, verified`);
    const out = await dbRestore.run({ archive: "latest" }, ctx);
    expect(out).toMatchObject({ archive: sealed, restored: 1, key_id: OLD });
    expect(factCount(dir)).toBe(200);
    expect(ctx.progressLines).toContain(`decrypt ${sealed} with key ${OLD}`);
    expect(leftovers(dir)).toEqual([]);
  }, 30_000);

  test("without the key it needs, plan and restore fail naming the key id, and the data dir is untouched", async () => {
    seed(dir, 10);
    const before = treeChecksums(dir);
    for (const ctx of [
      actionContext(dir, { keys: newRing }),
      actionContext(dir),
      // The ring from ARAGORA_ENCRYPTION_KEY, as a playbook run gets it.
      actionContext(dir, { env: { ARAGORA_ENCRYPTION_KEY: newHex } }),
    ]) {
      const configured = ctx.encryptionKeys() ? NEW : "none";
      const message = `Key not found: ${sealed} was encrypted with key ${OLD}, which is not configured (configured: ${configured})`;
      await expect(dbRestore.plan({ archive: "latest" }, ctx)).rejects.toThrow(message);
      const failed = dbRestore.run({ archive: "latest" }, ctx);
      await expect(failed).rejects.toThrow(message);
      await expect(failed).rejects.toBeInstanceOf(SealedKeyNotFoundError);
    }
    expect(treeChecksums(dir)).toEqual(before);
    expect(factCount(dir)).toBe(210);
  }, 30_000);

  test("a truncated, appended-to, altered or reordered archive is refused by name; nothing is replaced", async () => {
    const bytes = readFileSync(sealed);
    const h = (parseSealedHeader(bytes) as { bytes: Buffer }).bytes.length;
    const record = 4 + 64 * 1024 + 16;
    const flipped = Buffer.from(bytes);
    flipped[h + record + 1000] = (flipped[h + record + 1000] as number) ^ 0x01;
    const cases: [string, Buffer, RegExp][] = [
      ["truncated", bytes.subarray(0, bytes.length - 100), /truncated inside chunk/],
      ["truncated at a chunk", bytes.subarray(0, h + 2 * record), /truncated after chunk 1: the last chunk is missing/],
      ["appended", Buffer.concat([bytes, Buffer.from("more")]), /data was appended/],
      ["altered", flipped, /chunk 1 does not authenticate: its bytes were altered/],
      [
        "reordered",
        Buffer.concat([
          bytes.subarray(0, h),
          bytes.subarray(h + record, h + 2 * record),
          bytes.subarray(h, h + record),
          bytes.subarray(h + 2 * record),
        ]),
        /chunks are out of order: position 0 holds chunk 1/,
      ],
    ];
    const before = treeChecksums(dir);
    for (const [name, content, reason] of cases) {
      const path = join(scratch, `aragora-backup-${name.replaceAll(" ", "-")}.tar.gz.enc`);
      writeFileSync(path, content);
      const ctx = actionContext(dir, { keys: rotated });
      await expect(dbRestore.plan({ archive: path }, ctx)).rejects.toThrow(reason);
      await expect(dbRestore.run({ archive: path }, ctx)).rejects.toThrow(reason);
    }
    expect(treeChecksums(dir)).toEqual(before);
  }, 60_000);

  test("an unencrypted archive from before still restores with keys configured", async () => {
    const plainOut = await dbBackup.run({}, actionContext(dir));
    expect(String(plainOut.archive)).toMatch(/\.tar\.gz$/);
    expect(plainOut.key_id).toBe("");
    seed(dir, 5);
    const ctx = actionContext(dir, { keys: rotated });
    expect((await dbRestore.plan({ archive: String(plainOut.archive) }, ctx)).summary).not.toContain("decrypted");
    const out = await dbRestore.run({ archive: String(plainOut.archive) }, ctx);
    expect(out).toMatchObject({ restored: 1, key_id: "" });
    expect(factCount(dir)).toBe(210);
  }, 30_000);
});

describe("archive names, latest and retention over both forms", () => {
  test("isArchiveName and the order of stamps (a -2 in the same second is newer)", () => {
    expect(isArchiveName("aragora-backup-20261128T031500Z.tar.gz")).toBe(true);
    expect(isArchiveName("aragora-backup-20261128T031500Z.tar.gz.enc")).toBe(true);
    expect(isArchiveName("aragora-backup-20261128T031500Z.tar.gz.enc.partial")).toBe(false);
    expect(isArchiveName("other-20261128T031500Z.tar.gz.enc")).toBe(false);
    const names = [
      "aragora-backup-20261128T031500Z-2.tar.gz.enc",
      "aragora-backup-20261128T031500Z.tar.gz",
      "aragora-backup-20261127T235959Z.tar.gz.enc",
      "aragora-backup-20261128T031500Z-10.tar.gz",
    ];
    expect([...names].sort(compareArchiveNames)).toEqual([
      "aragora-backup-20261127T235959Z.tar.gz.enc",
      "aragora-backup-20261128T031500Z.tar.gz",
      "aragora-backup-20261128T031500Z-2.tar.gz.enc",
      "aragora-backup-20261128T031500Z-10.tar.gz",
    ]);
  });

  test("latest is the newest of either form; retention keeps the newest of both and removes the rest", async () => {
    const dir = freshDir();
    const backups = join(dir, "backups");
    mkdirSync(backups);
    const day = 86_400_000;
    const old = [
      "aragora-backup-20260101T000000Z.tar.gz",
      "aragora-backup-20260102T000000Z.tar.gz.enc",
      "aragora-backup-20260103T000000Z.tar.gz",
      "aragora-backup-20260103T000000Z-2.tar.gz.enc",
    ];
    for (const [i, name] of old.entries()) {
      writeFileSync(join(backups, name), "old");
      const at = new Date(Date.now() - (30 - i) * day);
      utimesSync(join(backups, name), at, at);
    }
    expect(resolveArchive(dir, "latest")).toBe(join(backups, "aragora-backup-20260103T000000Z-2.tar.gz.enc"));

    seed(dir, 3);
    const out = await dbBackup.run({ keep: 3, retention_days: 7 }, actionContext(dir, { keys: newRing }));
    expect(out.pruned).toBe(2);
    expect(readdirSync(backups).sort(compareArchiveNames)).toEqual([
      "aragora-backup-20260103T000000Z.tar.gz",
      "aragora-backup-20260103T000000Z-2.tar.gz.enc",
      String(out.archive).split("/").at(-1) as string,
    ]);
    expect(resolveArchive(dir, "latest")).toBe(String(out.archive));
  }, 30_000);

  test("two backups in the same second, one plain and one sealed, never share a stamp", async () => {
    const dir = freshDir();
    seed(dir, 3);
    const now = new Date("2026-11-28T03:15:00Z");
    const make = (key?: typeof oldRing.active) =>
      createBackupArchive({
        dataDir: dir,
        backupDir: join(dir, "backups"),
        databases: selectDatabases(dir, undefined),
        busyTimeoutMs: 5000,
        now,
        ...(key ? { encryptWith: key } : {}),
      });
    const a = await make();
    const b = await make(oldRing.active);
    const c = await make();
    expect([a.archive, b.archive, c.archive].map((p) => p.split("/").at(-1))).toEqual([
      "aragora-backup-20261128T031500Z.tar.gz",
      "aragora-backup-20261128T031500Z-2.tar.gz.enc",
      "aragora-backup-20261128T031500Z-3.tar.gz",
    ]);
    expect([a.keyId, b.keyId, c.keyId]).toEqual([null, OLD, null]);
    expect(resolveArchive(dir, "latest")).toBe(c.archive);
  }, 30_000);
});

describe("backupKeyIds", () => {
  test("each archive with the key its header names (null: not encrypted); damaged headers are flagged", async () => {
    const dir = freshDir();
    seed(dir, 3);
    const backups = join(dir, "backups");
    expect(backupKeyIds(backups)).toEqual([]);
    // Within one second these get -2 and -3 after the stamp, which still order them.
    const plain = String((await dbBackup.run({}, actionContext(dir))).archive);
    const withOld = String((await dbBackup.run({}, actionContext(dir, { keys: oldRing }))).archive);
    const withNew = String((await dbBackup.run({}, actionContext(dir, { keys: rotated }))).archive);
    // The header decides, not the name: a sealed archive renamed to .tar.gz still needs its key.
    const renamed = join(backups, "aragora-backup-20300101T000000Z.tar.gz");
    copyFileSync(withOld, renamed);
    writeFileSync(join(backups, "aragora-backup-20300102T000000Z.tar.gz.enc"), "ARAGSEAL\x01 garbage after the magic");
    writeFileSync(join(backups, "notes.txt"), "not a backup");
    mkdirSync(join(backups, "aragora-backup-20300103T000000Z.tar.gz"));
    mkdirSync(join(backups, ".staging-x"));

    const listed = backupKeyIds(backups);
    expect(listed.map((b) => [b.path, b.keyId])).toEqual([
      [plain, null],
      [withOld, OLD],
      [withNew, NEW],
      [renamed, OLD],
      [join(backups, "aragora-backup-20300102T000000Z.tar.gz.enc"), null],
    ]);
    expect(listed.slice(0, 4).every((b) => b.problem === undefined && b.bytes > 0)).toBe(true);
    expect(listed[4]?.problem).toMatch(/sealed header is damaged|truncated inside its sealed header/);
    expect(backupKeyIds(join(dir, "nowhere"))).toEqual([]);
    renameSync(renamed, `${renamed}.bak`);
    expect(backupKeyIds(backups)).toHaveLength(4);
  }, 30_000);
});

describe("memory stays bounded", () => {
  interface Measured {
    base: number;
    peak: number;
    base_live: number;
    live_peak: number;
  }
  const MiB = 1024 * 1024;

  async function measure(args: string[]): Promise<Measured & Record<string, unknown>> {
    const proc = Bun.spawn([BUN, join(import.meta.dir, "fixtures", "sealed-memory.ts"), ...args], {
      cwd: ROOT,
      env: childEnv(),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    expect({ code, err }).toEqual({ code: 0, err: "" });
    return JSON.parse(out) as Measured & Record<string, unknown>;
  }

  test("256 MiB sealed and opened as a stream: RSS grows far less than the data, live memory barely", async () => {
    const r = await measure(["stream", oldHex, "256"]);
    expect(r.bytes).toBe(256 * MiB);
    expect(r.sha_out).toBe(r.sha_in as string);
    // Holding the data would add 256 MiB to both (a variant that kept each chunk measured +179 and +129).
    expect(r.peak - r.base).toBeLessThan(64 * MiB);
    expect(r.live_peak - r.base_live).toBeLessThan(8 * MiB);
    expect(r.samples).toBeGreaterThanOrEqual(10);
  }, 120_000);

  test("backup and restore of a 48 MiB database with a key: live memory stays far below the archive's size", async () => {
    const dir = freshDir();
    seed(dir, 10, 48 * 1024);
    const r = await measure(["restore", oldHex, dir]);
    expect(r.key_id).toBe(OLD);
    const archiveBytes = r.archive_bytes as number;
    expect(archiveBytes).toBeGreaterThan(48 * MiB);
    // Live memory sampled after full collections through both steps (measured: about 5 MiB).
    expect(r.live_peak - r.base_live).toBeLessThan(archiveBytes / 4);
    expect(r.samples).toBeGreaterThanOrEqual(10);
    expect(factCount(dir)).toBe(10);
  }, 120_000);
});

type Event = Record<string, unknown>;

/** `ops run NAME --yes --json --local` as a real process with `env`; its JSON events and exit code. */
async function opsRun(name: string, dataDir: string, env: Record<string, string>, params: string[] = []) {
  const proc = Bun.spawn(
    [
      BUN,
      join(ROOT, "app", "ops-cli.ts"),
      "run",
      name,
      "--yes",
      "--json",
      "--local",
      ...params.flatMap((p) => ["--param", p]),
    ],
    {
      cwd: ROOT,
      env: childEnv({ ARAGORA_DATA_DIR: dataDir, ARAGORA_LOG_LEVEL: "ERROR", ...env }),
      stdout: "pipe",
      stderr: "pipe",
    },
  );
  const [code, out, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ]);
  const events = out
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
  const outputs = (step: string) => events.find((e) => e.step === step && e.kind === "step_output")?.outputs as Event;
  const finished = (step: string) => events.find((e) => e.step === step && e.kind === "step_finished");
  return { code, events, stderr, outputs, finished };
}

describe("through the ops CLI: backup.yml with a key, a rotation, restore.yml", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDir();
    seed(dir, 100);
  });

  test("a backup with the old key, then a restore with new,old brings the data back", async () => {
    const backup = await opsRun("backup", dir, { ARAGORA_ENCRYPTION_KEY: oldHex });
    expect(backup.code).toBe(0);
    expect(backup.outputs("backup")).toMatchObject({ key_id: OLD });
    const names = readdirSync(join(dir, "backups"));
    expect(names).toHaveLength(1);
    expect(names[0]).toMatch(/^aragora-backup-\d{8}T\d{6}Z\.tar\.gz\.enc$/);

    seed(dir, 50);
    expect(factCount(dir)).toBe(150);
    const restore = await opsRun("restore", dir, { ARAGORA_ENCRYPTION_KEY: `${newHex},${oldHex}` });
    expect(restore.code).toBe(0);
    expect(restore.outputs("restore")).toMatchObject({ restored: 2, key_id: OLD });
    expect(["restore", "checkpoint", "integrity"].map((s) => restore.finished(s)?.status)).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(factCount(dir)).toBe(100);
  }, 60_000);

  test("a restore with only the new key fails naming the old key id and leaves the databases as they were", async () => {
    seed(dir, 7);
    const memory = join(dir, "memory.db");
    const before = await sha256File(memory);
    for (const env of [{ ARAGORA_ENCRYPTION_KEY: newHex }, {} as Record<string, string>]) {
      const restore = await opsRun("restore", dir, env);
      expect(restore.code).not.toBe(0);
      const failed = restore.finished("restore");
      expect(failed?.status).toBe("failed");
      expect(String(failed?.error)).toContain(
        `Key not found: ${resolveArchive(dir, "latest")} was encrypted with key ${OLD}`,
      );
      expect(restore.finished("checkpoint")).toBeUndefined();
      expect(await sha256File(memory)).toBe(before);
      expect(leftovers(dir)).toEqual([]);
    }
    expect(factCount(dir)).toBe(107);
  }, 60_000);

  test("a plain archive written before encryption still restores with the keys configured", async () => {
    const plain = await opsRun("backup", dir, {});
    expect(plain.code).toBe(0);
    const archive = String(plain.outputs("backup").archive);
    expect(archive).toEndWith(".tar.gz");
    seed(dir, 3);
    const restore = await opsRun("restore", dir, { ARAGORA_ENCRYPTION_KEY: `${newHex},${oldHex}` }, [
      `archive=${archive}`,
    ]);
    expect(restore.code).toBe(0);
    expect(restore.outputs("restore")).toMatchObject({ key_id: "" });
    expect(factCount(dir)).toBe(107);
  }, 60_000);
});

describe("through a real server", () => {
  test("backup.yml handed to a server seals the archive with the server's active key", async () => {
    const server = await startTestServer({ env: { ARAGORA_ENCRYPTION_KEY: `${newHex},${oldHex}` } });
    try {
      seed(server.dataDir, 20);
      const started = await server.fetch("/api/ops/runs", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ playbook: { name: "backup" } }),
      });
      expect(started.status).toBe(202);
      const { run_id } = (await started.json()) as { run_id: string };
      let detail: { run: { status: string }; steps: { step_id: string; outputs: Event | null }[] } | undefined;
      for (let i = 0; i < 150; i++) {
        detail = (await (await server.fetch(`/api/ops/runs/${run_id}`)).json()) as typeof detail;
        if (detail && ["succeeded", "failed", "cancelled"].includes(detail.run.status)) break;
        await Bun.sleep(100);
      }
      expect(detail?.run.status).toBe("succeeded");
      const outputs = detail?.steps.find((s) => s.step_id === "backup")?.outputs as Event;
      expect(outputs.key_id).toBe(NEW);
      expect(String(outputs.archive)).toEndWith(".tar.gz.enc");
      expect(backupKeyIds(join(server.dataDir, "backups")).map((b) => b.keyId)).toEqual([NEW]);
      expect(existsSync(String(outputs.archive))).toBe(true);
      const exposition = await (await server.fetch("/metrics")).text();
      expect(exposition).toMatch(
        /aragora_encryption_operations_total\{[^}]*operation="encrypt"[^}]*store="backups"[^}]*\} 1\b/,
      );
    } finally {
      await server.stop();
    }
  }, 60_000);
});
