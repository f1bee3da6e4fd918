/**
 * The audit log's store on both dialects: appends chain in order, even when many race in one
 * process or two writers (two connections, as two processes have) race for one chain; filters
 * and pages; verification names the entry where a chain was edited, cut or added to; a recorder
 * whose store fails logs and counts instead of throwing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import type { AuditEvent } from "../runtime/audit.ts";
import { loadConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { registry } from "../runtime/metrics.ts";
import { chainHash, GENESIS_HASH } from "../runtime/security/audit-chain.ts";
import { openStore, type Store } from "../runtime/store/index.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../tests/support/services.ts";
import { type AuditLog, auditTables, hashedEntry, openAuditLog, PLATFORM_CHAIN, storeRecorder } from "./audit-log.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

const event = (orgId: string | null, action = "key.created", extra: Partial<AuditEvent> = {}): AuditEvent => ({
  action,
  outcome: "success",
  actor: { kind: "user", userId: "u-1" },
  orgId,
  target: { type: "api_key", id: "k-1" },
  ip: "127.0.0.1",
  requestId: "r-1",
  ...extra,
});

async function metric(name: string): Promise<number> {
  const line = (await registry.metrics()).split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

function suite(name: string, open: () => Promise<Store>) {
  describe(name, () => {
    let store: Store;
    let log: AuditLog;
    let other: AuditLog;
    beforeAll(async () => {
      store = await open();
      log = await openAuditLog(store);
      // Another connection with its own idea of each chain's head, as another process has.
      other = await openAuditLog(store);
    });
    afterAll(async () => {
      await other.close();
      await log.close();
      await store.close();
    });

    test("events go to their organisation's chain or the platform's, each numbered from 1 and linked", async () => {
      const a1 = await log.append(event("o-a"));
      const p1 = await log.append(event(null, "admin.log_level_changed"));
      const a2 = await log.append(event("o-a", "key.revoked"));
      expect([a1.chain, a1.seq, a1.prevHash]).toEqual(["o-a", 1, GENESIS_HASH]);
      expect([p1.chain, p1.seq, p1.orgId]).toEqual([PLATFORM_CHAIN, 1, null]);
      expect([a2.seq, a2.prevHash]).toEqual([2, a1.hash]);
      expect(a2.hash).toBe(chainHash(a1.hash, hashedEntry(a2)));
      expect(await log.verify("o-a")).toEqual({ chain: "o-a", ok: true, head: a2.hash, length: 2 });
      expect(await log.verify("o-empty")).toEqual({ chain: "o-empty", ok: true, head: GENESIS_HASH, length: 0 });
    });

    test("appends racing in one process and from a second writer keep one linear chain", async () => {
      const before = await metric("aragora_audit_append_conflicts_total");
      const append = (writer: AuditLog, n: number) => writer.append(event("o-race", "key.created", { detail: { n } }));
      // One after another first, so that the third append's head is stale for certain: `other`
      // wrote seq 2 after `log` wrote seq 1, so `log` loses its place once and re-chains. (In the
      // race alone, one writer may finish before the other's first read, when its connection opens.)
      await append(log, 0);
      await append(other, 1);
      await append(log, 2);
      expect(await metric("aragora_audit_append_conflicts_total")).toBeGreaterThan(before);
      await Promise.all(Array.from({ length: 37 }, (_, i) => append(i % 2 === 0 ? log : other, i + 3)));
      const report = await log.verify("o-race");
      expect(report).toMatchObject({ ok: true, length: 40 });
      const { entries } = await log.list({ chains: ["o-race"], limit: 100 });
      expect(entries.map((e) => e.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(new Set(entries.map((e) => e.detail)).size).toBe(40);
    });

    test("filters and pages, newest first", async () => {
      await log.append(
        event("o-f", "auth.signed_in", { outcome: "failure", actor: { kind: "anonymous", userId: null } }),
      );
      await Bun.sleep(5);
      const middle = new Date();
      await Bun.sleep(5);
      await log.append(event("o-f", "auth.signed_in"));
      await log.append(event("o-f", "key.created", { actor: { kind: "user", userId: "u-2" } }));
      const all = await log.list({ chains: ["o-f"], limit: 10 });
      expect(all.entries.map((e) => e.action)).toEqual(["key.created", "auth.signed_in", "auth.signed_in"]);
      expect(all.nextCursor).toBeNull();
      const failed = await log.list({ chains: ["o-f"], action: "auth.signed_in", outcome: "failure", limit: 10 });
      expect(failed.entries.map((e) => e.outcome)).toEqual(["failure"]);
      expect((await log.list({ chains: ["o-f"], actorUserId: "u-2", limit: 10 })).entries).toHaveLength(1);
      expect((await log.list({ chains: ["o-f"], since: middle, limit: 10 })).entries).toHaveLength(2);
      expect((await log.list({ chains: ["o-f"], until: middle, limit: 10 })).entries).toHaveLength(1);
      const first = await log.list({ chains: ["o-f"], limit: 2 });
      expect(first.entries).toHaveLength(2);
      const second = await log.list({ chains: ["o-f"], limit: 2, cursor: first.nextCursor as string });
      expect([...first.entries, ...second.entries].map((e) => e.id)).toEqual(all.entries.map((e) => e.id));
      expect(second.nextCursor).toBeNull();
      // Another chain's entries are not listed.
      expect((await log.list({ chains: ["o-f"], limit: 100 })).entries.every((e) => e.chain === "o-f")).toBe(true);
      expect(await log.chains()).toEqual(expect.arrayContaining([PLATFORM_CHAIN, "o-a", "o-f", "o-race"]));
      expect((await log.chains())[0]).toBe(PLATFORM_CHAIN);
    });

    test("details are scrubbed of secrets before they are stored", async () => {
      const row = await log.append(
        event("o-s", "key.created", {
          detail: { password: "hunter2hunter2", note: `ara_live_${"a".repeat(43)}`, email: "ada@example.com" },
        }),
      );
      expect(JSON.parse(row.detail as string)).toEqual({
        password: "[redacted]",
        note: "[redacted]",
        email: "ada@example.com",
      });
    });

    test("an entry edited, removed or put in is named; a chain cut below what this process wrote is truncated", async () => {
      const rows = [];
      for (let i = 0; i < 4; i++) rows.push(await log.append(event("o-t", "key.created", { detail: { n: i } })));
      const repo = await store.openRepo(auditTables, { name: "tamper" });
      const { auditLog } = repo.tables;
      const [, r1, r2, r3] = rows as [unknown, (typeof rows)[0], (typeof rows)[0], (typeof rows)[0]];

      await repo.write((db) => db.update(auditLog).set({ ip: "10.6.6.6" }).where(sql`${auditLog.id} = ${r1.id}`));
      expect(await log.verify("o-t")).toMatchObject({ ok: false, entryId: r1.id, seq: 2, index: 1, reason: "edited" });
      await repo.write((db) => db.update(auditLog).set({ ip: r1.ip }).where(sql`${auditLog.id} = ${r1.id}`));
      expect(await log.verify("o-t")).toMatchObject({ ok: true, length: 4 });

      await repo.write((db) => db.delete(auditLog).where(sql`${auditLog.id} = ${r2.id}`));
      expect(await log.verify("o-t")).toMatchObject({ ok: false, entryId: r3.id, reason: "removed" });
      await repo.write((db) => db.insert(auditLog).values(r2));
      expect(await log.verify("o-t")).toMatchObject({ ok: true });

      // A forged entry put in after r1, correctly hashed, the later entries moved up one place.
      const forged = { ...r1, id: `al-${Bun.randomUUIDv7()}`, action: "member.role_changed", detail: null };
      const link = { ...forged, seq: r1.seq + 1, prevHash: r1.hash, hash: chainHash(r1.hash, hashedEntry(forged)) };
      const shift = (by: number) =>
        repo.transaction((tx) => [
          tx
            .update(auditLog)
            .set({ seq: sql`-${auditLog.seq}` })
            .where(sql`${auditLog.chain} = 'o-t' and ${auditLog.seq} > ${r1.seq}`),
          tx
            .update(auditLog)
            .set({ seq: sql`-${auditLog.seq} + ${by}` })
            .where(sql`${auditLog.chain} = 'o-t' and ${auditLog.seq} < 0`),
        ]);
      await shift(1);
      await repo.write((db) => db.insert(auditLog).values(link));
      expect(await log.verify("o-t")).toMatchObject({ ok: false, entryId: forged.id, seq: 3, reason: "inserted" });
      await repo.write((db) => db.delete(auditLog).where(sql`${auditLog.id} = ${forged.id}`));
      await repo.transaction((tx) => [
        tx
          .update(auditLog)
          .set({ seq: sql`-${auditLog.seq}` })
          .where(sql`${auditLog.chain} = 'o-t' and ${auditLog.seq} > ${r1.seq + 1}`),
        tx
          .update(auditLog)
          .set({ seq: sql`-${auditLog.seq} - 1` })
          .where(sql`${auditLog.chain} = 'o-t' and ${auditLog.seq} < 0`),
      ]);
      expect(await log.verify("o-t")).toMatchObject({ ok: true, length: 4 });

      // The newest entry cut off: the chain is whole by itself, but this process wrote that entry.
      await repo.write((db) => db.delete(auditLog).where(sql`${auditLog.id} = ${r3.id}`));
      expect(await log.verify("o-t")).toMatchObject({ ok: false, entryId: null, index: 3, reason: "truncated" });
      await repo.write((db) => db.insert(auditLog).values(r3));
      expect(await log.verify("o-t")).toMatchObject({ ok: true, head: r3.hash });
      await repo.close();
    });

    test("a recorder whose store fails logs the event and counts it, and never throws", async () => {
      const lines: Record<string, unknown>[] = [];
      const sink = createLogger(
        "INFO",
        new Writable({
          write(chunk, _e, cb) {
            lines.push(JSON.parse(String(chunk)));
            cb();
          },
        }),
      );
      const before = await metric("aragora_audit_write_failures_total");
      const broken = storeRecorder({ append: () => Promise.reject(new Error("disk on fire")) }, sink);
      await broken.record(event("o-x", "auth.signed_in", { detail: { email: "ada@example.com", token: "ara_rt_x" } }));
      expect(await metric("aragora_audit_write_failures_total")).toBe(before + 1);
      const line = lines.find((l) => String(l.msg).startsWith("audit entry not stored"));
      expect(line).toMatchObject({
        audit: { action: "auth.signed_in", orgId: "o-x", detail: { token: "[redacted]" } },
      });
    });
  });
}

let dir: TempDir;
suite("audit log on SQLite", async () => {
  dir = tempDataDir();
  return openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
});
afterAll(() => dir?.remove());

const pg = await postgresAvailable();
let db: TempDatabase | undefined;
if (pg) {
  suite("audit log on PostgreSQL", async () => {
    db = await createTempPostgresDatabase();
    return openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
  });
  afterAll(async () => db?.drop());
}
