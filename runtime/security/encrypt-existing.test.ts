/**
 * The migration on a real SQLite store (the TOTP secrets, as `aragora encrypt-existing` sees them):
 * what a dry run counts and leaves, what an executed run writes, a server's write racing a batch
 * (never overwritten with stale content), a record that cannot be read, and a run resumed from its
 * journal after an interruption.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { eq } from "drizzle-orm";
import { type AccessStore, openAccessStore } from "../../access/access-store.ts";
import { type MfaStore, mfaTables, openMfaStore, totpSecretsStore } from "../../access/mfa-store.ts";
import { type TempDir, tempDataDir } from "../../tests/support/services.ts";
import { loadConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { registry } from "../metrics.ts";
import { openStore, type Store } from "../store/index.ts";
import type { Repo } from "../store/repo.ts";
import { encryptExisting, total } from "./encrypt-existing.ts";
import type { EncryptedStore } from "./encrypted-store.ts";
import { generateKeyHex, type KeyRing, keyFromHex, ringOf } from "./encryption-keys.ts";
import { keyIdOfSealedText, openText, sealText } from "./field-cipher.ts";
import { fieldSealer } from "./field-sealer.ts";
import { JOURNAL_FILE, LOCK_FILE, MigrationBusyError, MigrationJournalFile } from "./migration-journal.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const keyA = keyFromHex(generateKeyHex());
const keyB = keyFromHex(generateKeyHex());
const onlyA = ringOf([keyA], "A");
const bThenA = ringOf([keyB, keyA], "B,A");
const onlyB = ringOf([keyB], "B");

let dir: TempDir;
let store: Store;
let access: AccessStore;
let orgId: string;
let raw: Repo<typeof mfaTables.postgres>;
let totp: EncryptedStore & { close(): Promise<void> };

beforeAll(async () => {
  dir = tempDataDir();
  store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
  access = await openAccessStore(store);
  ({ orgId } = await access.ensureFirstOrganisation(new Date()));
  raw = await store.openRepo(mfaTables, { name: "raw" });
  totp = await totpSecretsStore(store);
});
afterAll(async () => {
  await totp?.close();
  await raw?.close();
  await access?.close();
  await store?.close();
  dir?.remove();
});

const ref = (userId: string) => ({ table: "mfa_totp", id: userId, field: "secret" });

/** Every TOTP row now: user id to stored value. */
async function rows(): Promise<Map<string, string>> {
  const { mfaTotp } = raw.tables;
  const all = await raw.read((db) => db.select({ userId: mfaTotp.userId, secret: mfaTotp.secret }).from(mfaTotp));
  return new Map(all.map((r) => [r.userId, r.secret]));
}

/** Empties the table and enrols `n` users with `secret-<i>` stored as `how(i)` says. */
async function seed(n: number, how: (i: number) => KeyRing | "plaintext"): Promise<Map<string, string>> {
  const { mfaTotp } = raw.tables;
  await raw.write((db) => db.delete(mfaTotp));
  const secrets = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const user = await access.createUser(
      { email: `${crypto.randomUUID()}@example.com`, name: "T", passwordHash: null },
      orgId,
      "member",
      new Date(),
    );
    const secret = `SECRET${i}`.padEnd(32, "A");
    const mode = how(i);
    const stored = mode === "plaintext" ? secret : sealText(mode, secret, ref(user.id));
    await raw.write((db) =>
      db
        .insert(mfaTotp)
        .values({ userId: user.id, secret: stored, createdAt: new Date(), enabledAt: new Date(), lastStep: null }),
    );
    secrets.set(user.id, secret);
  }
  return secrets;
}

async function metric(series: string): Promise<number> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe("encryptExisting", () => {
  test("a dry run decrypts and counts what it would write, and writes nothing", async () => {
    await seed(6, (i) => (i === 0 ? "plaintext" : i < 4 ? onlyA : onlyB));
    const before = await rows();
    const summary = await encryptExisting([totp], { sealer: fieldSealer(() => bThenA), execute: false, batchSize: 4 });
    expect(summary.stores[0]?.counts).toEqual({ encrypted: 1, reencrypted: 3, skipped: 2, changed: 0, failed: 0 });
    expect(summary.execute).toBe(false);
    expect(await rows()).toEqual(before);
  });

  test("--execute brings every record to the active key, each secret as it was (encrypted once)", async () => {
    const secrets = await seed(7, (i) => (i % 3 === 0 ? "plaintext" : i % 3 === 1 ? onlyA : onlyB));
    const reencryptedBefore = await metric('aragora_migration_records_total{store="mfa_totp",status="reencrypted"}');
    const summary = await encryptExisting([totp], { sealer: fieldSealer(() => bThenA), execute: true, batchSize: 2 });
    expect(summary.stores[0]?.counts).toEqual({ encrypted: 3, reencrypted: 2, skipped: 2, changed: 0, failed: 0 });
    expect(await metric('aragora_migration_records_total{store="mfa_totp",status="reencrypted"}')).toBe(
      reencryptedBefore + 2,
    );
    for (const [userId, stored] of await rows()) {
      expect(keyIdOfSealedText(stored)).toBe(keyB.id);
      // Key B alone opens it, to the secret itself (not to another envelope).
      expect(openText(onlyB, stored, ref(userId))).toBe(secrets.get(userId) as string);
    }
    // Run again: nothing left to write.
    const again = await encryptExisting([totp], { sealer: fieldSealer(() => bThenA), execute: true });
    expect(again.stores[0]?.counts).toEqual({ encrypted: 0, reencrypted: 0, skipped: 7, changed: 0, failed: 0 });
  });

  test("a record a server rewrites between the read and the write keeps the server's value", async () => {
    const secrets = await seed(4, () => onlyA);
    const [first, second] = [...secrets.keys()].sort();
    // A server (with key B active, or still on A) enrols the users again while the batch is in flight.
    const serverB: MfaStore = await openMfaStore(
      store,
      fieldSealer(() => bThenA),
    );
    const serverA: MfaStore = await openMfaStore(
      store,
      fieldSealer(() => onlyA),
    );
    let raced = false;
    const racing: EncryptedStore = {
      name: totp.name,
      description: totp.description,
      scan: (after, limit) => totp.scan(after, limit),
      async replace(replacements) {
        if (!raced) {
          raced = true;
          const { mfaTotp } = raw.tables;
          // startTotp only replaces a pending enrolment: make these two pending, as a re-enrolment is.
          await raw.write((db) => db.update(mfaTotp).set({ enabledAt: null }));
          expect(await serverB.startTotp(first as string, "NEWSECRETONB".padEnd(32, "B"), new Date())).toBe(true);
          expect(await serverA.startTotp(second as string, "NEWSECRETONA".padEnd(32, "A"), new Date())).toBe(true);
        }
        return totp.replace(replacements);
      },
    };
    try {
      const outcomes: { id: string; status: string; reason?: string }[] = [];
      const summary = await encryptExisting([racing], {
        sealer: fieldSealer(() => bThenA),
        execute: true,
        onRecord: (o) => outcomes.push({ id: o.id, status: o.status, reason: o.reason }),
      });
      // The one the server put on B is the server's; the one it put on A was read again and re-encrypted.
      expect(summary.stores[0]?.counts).toEqual({ encrypted: 0, reencrypted: 3, skipped: 0, changed: 1, failed: 0 });
      expect(summary.stores[0]?.raced).toBe(2);
      expect(outcomes.find((o) => o.id === first)).toMatchObject({ status: "changed" });
      expect((await serverB.totpOf(first as string))?.secret).toBe("NEWSECRETONB".padEnd(32, "B"));
      expect((await serverB.totpOf(second as string))?.secret).toBe("NEWSECRETONA".padEnd(32, "A"));
      for (const stored of (await rows()).values()) expect(keyIdOfSealedText(stored)).toBe(keyB.id);
    } finally {
      await serverA.close();
      await serverB.close();
    }
  });

  test("a record that cannot be read is named and skipped; the others are migrated", async () => {
    const secrets = await seed(5, (i) => (i === 4 ? onlyB : onlyA));
    const ids = [...secrets.keys()];
    const { mfaTotp } = raw.tables;
    const current = await rows();
    const onA = ids.filter((id) => keyIdOfSealedText(current.get(id) as string) === keyA.id);
    // One tampered (a byte of its ciphertext changed), one on a key that is not configured.
    const tampered = onA[0] as string;
    const sealed = JSON.parse(current.get(tampered) as string) as { ct: string };
    const flipped = `${sealed.ct[0] === "A" ? "B" : "A"}${sealed.ct.slice(1)}`;
    await raw.write((db) =>
      db
        .update(mfaTotp)
        .set({ secret: JSON.stringify({ ...sealed, ct: flipped }) })
        .where(eq(mfaTotp.userId, tampered)),
    );
    const lostKey = onA[1] as string;
    const stranger = ringOf([keyFromHex(generateKeyHex())], "stranger");
    await raw.write((db) =>
      db
        .update(mfaTotp)
        .set({ secret: sealText(stranger, "X", ref(lostKey)) })
        .where(eq(mfaTotp.userId, lostKey)),
    );
    const errorsBefore = await metric('aragora_migration_errors_total{store="mfa_totp",error_type="tampered"}');
    const failures: { id: string; errorType?: string; reason?: string }[] = [];
    const summary = await encryptExisting([totp], {
      sealer: fieldSealer(() => bThenA),
      execute: true,
      batchSize: 2,
      onRecord: (o) => {
        if (o.status === "failed") failures.push({ id: o.id, errorType: o.errorType, reason: o.reason });
      },
    });
    expect(summary.failed).toBe(2);
    expect(summary.stores[0]?.counts).toEqual({ encrypted: 0, reencrypted: 2, skipped: 1, changed: 0, failed: 2 });
    expect(failures.find((f) => f.id === tampered)).toMatchObject({ errorType: "tampered" });
    expect(failures.find((f) => f.id === lostKey)).toMatchObject({ errorType: "key_not_found" });
    expect(failures.find((f) => f.id === lostKey)?.reason).toContain(stranger.active.id);
    expect(await metric('aragora_migration_errors_total{store="mfa_totp",error_type="tampered"}')).toBe(
      errorsBefore + 1,
    );
    const after = await rows();
    for (const id of ids.filter((i) => i !== tampered && i !== lostKey)) {
      expect(openText(onlyB, after.get(id) as string, ref(id))).toBe(secrets.get(id) as string);
    }
    // The unreadable ones are left exactly as they were.
    expect(after.get(tampered)).toBe(JSON.stringify({ ...sealed, ct: flipped }));
    expect(keyIdOfSealedText(after.get(lostKey) as string)).toBe(stranger.active.id);
  });

  test("an interrupted run resumes after its last journaled batch; each record is written once", async () => {
    const secrets = await seed(10, () => onlyA);
    const target = "test-target";
    const journal = MigrationJournalFile.open(dir.path, { target, activeKeyId: keyB.id });
    expect(journal.resumed).toBeUndefined();
    const controller = new AbortController();
    let batches = 0;
    const first = await encryptExisting([totp], {
      sealer: fieldSealer(() => bThenA),
      execute: true,
      batchSize: 3,
      journal,
      signal: controller.signal,
      onBatch: () => {
        if (++batches === 2) controller.abort();
      },
    });
    journal.close();
    expect(first.interrupted).toBe(true);
    expect(first.stores[0]?.counts.reencrypted).toBe(6);
    expect(existsSync(join(dir.path, LOCK_FILE))).toBe(false);

    // What a resumed run goes over is counted by a store that sees each scan.
    const scanned: string[] = [];
    const watched: EncryptedStore = {
      ...totp,
      name: totp.name,
      description: totp.description,
      scan: async (after, limit) => {
        const page = await totp.scan(after, limit);
        scanned.push(...page.map((f) => f.id));
        return page;
      },
      replace: (r) => totp.replace(r),
    };
    const resumedJournal = MigrationJournalFile.open(dir.path, { target, activeKeyId: keyB.id });
    expect(resumedJournal.resumed?.stores.get("mfa_totp")?.after).toBe([...secrets.keys()].sort()[5] as string);
    const second = await encryptExisting([watched], {
      sealer: fieldSealer(() => bThenA),
      execute: true,
      batchSize: 3,
      journal: resumedJournal,
    });
    resumedJournal.finish();
    expect(second.resumed).toBe(true);
    expect(second.stores[0]?.resumedAfter).toBe([...secrets.keys()].sort()[5] as string);
    expect(second.stores[0]?.counts).toEqual({ encrypted: 0, reencrypted: 10, skipped: 0, changed: 0, failed: 0 });
    expect(
      total(second.stores[0]?.thisRun ?? { encrypted: 0, reencrypted: 0, skipped: 0, changed: 0, failed: 0 }),
    ).toBe(4);
    expect(scanned).toEqual([...secrets.keys()].sort().slice(6));
    for (const [id, stored] of await rows()) expect(openText(onlyB, stored, ref(id))).toBe(secrets.get(id) as string);
    // Finished: the next run starts a journal of its own.
    const next = MigrationJournalFile.open(dir.path, { target, activeKeyId: keyB.id });
    expect(next.resumed).toBeUndefined();
    next.close();
  });
});

describe("MigrationJournalFile", () => {
  test("resumes only the same database with the same active key; a line cut short is ignored", () => {
    const opened = MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "kone" });
    opened.batchDone("mfa_totp", "u-5", { encrypted: 1, reencrypted: 4, skipped: 0, changed: 0, failed: 0 });
    opened.close();
    writeFileSync(
      join(dir.path, JOURNAL_FILE),
      `${readFileSync(join(dir.path, JOURNAL_FILE), "utf8")}{"t":"batch","sto`,
    );
    const same = MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "kone" });
    expect(same.progressOf("mfa_totp")).toEqual({
      after: "u-5",
      counts: { encrypted: 1, reencrypted: 4, skipped: 0, changed: 0, failed: 0 },
      done: false,
    });
    same.close();
    const otherKey = MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "ktwo" });
    expect(otherKey.resumed).toBeUndefined();
    otherKey.close();
  });

  test("a live run's lock refuses a second run; a dead run's lock is taken over", async () => {
    const held = MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "kone" });
    // Another live process holds it: this test's parent (same host).
    const lock = join(dir.path, LOCK_FILE);
    const mine = JSON.parse(readFileSync(lock, "utf8")) as { host: string };
    writeFileSync(lock, JSON.stringify({ pid: process.ppid, host: mine.host, at: new Date().toISOString() }));
    expect(() => MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "kone" })).toThrow(
      MigrationBusyError,
    );
    // A process that died (kill -9) left it.
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    writeFileSync(lock, JSON.stringify({ pid: dead.pid, host: mine.host, at: new Date().toISOString() }));
    const taken = MigrationJournalFile.open(dir.path, { target: "db-1", activeKeyId: "kone" });
    taken.close();
    held.close();
    expect(existsSync(lock)).toBe(false);
  });
});
