/**
 * The delivery ledger's outcome write (actors/delivery/delivery-store.ts) on both dialects: a
 * delivery once DELIVERED stays so. On a PostgreSQL cluster a node whose lease lapsed while an
 * attempt was in flight writes that attempt's outcome late, after the node that took the target
 * over delivered it; the late failure must not put the delivery back in a queue (or dead-letter it).
 * And on PostgreSQL, an outcome carrying the lease its attempt began under is written only while
 * that node still holds that lease at that epoch: after another node took the target over, the late
 * outcome changes nothing, whatever the state (tests/webhook/cluster-e2e.test.ts shows it with two
 * server processes).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { type DeliveryStore, newTargetDelivery, openDeliveryStore } from "../../actors/delivery/delivery-store.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { LeaseRepository, leaseTables } from "../../runtime/store/leases.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const pg = await postgresAvailable();
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function ledgerOn(dialect: "sqlite" | "postgres"): Promise<DeliveryStore> {
  return (await storesOn(dialect)).ledger;
}

async function storesOn(dialect: "sqlite" | "postgres"): Promise<{ ledger: DeliveryStore; store: Store }> {
  let store: Store;
  if (dialect === "postgres") {
    const db: TempDatabase = await createTempPostgresDatabase();
    cleanups.push(() => db.drop());
    store = await openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
  } else {
    const dir = tempDataDir();
    cleanups.push(async () => dir.remove());
    store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
  }
  const ledger = await openDeliveryStore(store, "guard");
  cleanups.push(async () => {
    await ledger.close();
    await store.close();
  });
  return { ledger, store };
}

const attempt = (deliveryId: string, n: number, state: "DELIVERED" | "RETRYING" | "DEAD_LETTERED", at: Date) => ({
  deliveryId,
  attempt: n,
  at,
  status: state === "DELIVERED" ? 200 : 503,
  latencyMs: 5,
  responseBody: null,
  error: state === "DELIVERED" ? null : "HTTP 503",
  state,
  nextAttemptAt: new Date(at.getTime() + 60_000),
});

for (const dialect of ["sqlite", "postgres"] as const) {
  describe.skipIf(dialect === "postgres" && !pg)(`the delivery ledger on ${dialect}`, () => {
    test("a late failed outcome does not overwrite DELIVERED; it is logged as an attempt", async () => {
      const ledger = await ledgerOn(dialect);
      const t0 = new Date("2026-12-05T00:00:00Z");
      const [row] = await ledger.insertDeliveries([
        newTargetDelivery("webhook", { id: "wh-guard", orgId: "org-1" }, "debate_end", "d-1:1", () => "{}", t0),
      ]);
      const id = row?.id as string;
      // The node holding the lease now delivers it ...
      await ledger.recordAttempts([attempt(id, 1, "DELIVERED", new Date(t0.getTime() + 1000))]);
      // ... and the fenced node's attempt, begun before its lease lapsed, is written after.
      await ledger.recordAttempts([attempt(id, 2, "RETRYING", new Date(t0.getTime() + 2000))]);
      await ledger.recordAttempts([attempt(id, 3, "DEAD_LETTERED", new Date(t0.getTime() + 3000))]);
      const [stored] = await ledger.deliveries("org-1", "wh-guard", 10);
      expect(stored?.state).toBe("DELIVERED");
      expect(stored?.lastError).toBeNull();
      expect(stored?.attempts).toBe(1);
      expect(stored?.attemptLog.map((a) => a.attempt)).toEqual([1, 2, 3]);
      expect(await ledger.openDeliveries("wh-guard", 10)).toEqual([]);
    });

    test("an open delivery still moves on: RETRYING, then DELIVERED", async () => {
      const ledger = await ledgerOn(dialect);
      const t0 = new Date("2026-12-05T00:00:00Z");
      const [row] = await ledger.insertDeliveries([
        newTargetDelivery("integration", { id: "int-guard", orgId: "org-1" }, "debate_end", "d-2:1", () => "{}", t0),
      ]);
      const id = row?.id as string;
      await ledger.recordAttempts([attempt(id, 1, "RETRYING", new Date(t0.getTime() + 1000))]);
      expect((await ledger.openDeliveries("int-guard", 10)).map((d) => [d.state, d.attempts])).toEqual([
        ["RETRYING", 1],
      ]);
      await ledger.recordAttempts([attempt(id, 2, "DELIVERED", new Date(t0.getTime() + 2000))]);
      const [stored] = await ledger.deliveries("org-1", "int-guard", 10);
      expect([stored?.state, stored?.attempts]).toEqual(["DELIVERED", 2]);
    });
  });
}

describe.skipIf(!pg)("the delivery ledger on a PostgreSQL cluster", () => {
  test("an outcome is written only under the lease its attempt began under; a late one changes nothing", async () => {
    const { ledger, store } = await storesOn("postgres");
    const leases = new LeaseRepository(await store.openRepo(leaseTables, { name: "guard-leases" }));
    cleanups.push(() => leases.close());
    const t0 = new Date();
    const [row] = await ledger.insertDeliveries([
      newTargetDelivery("webhook", { id: "wh-fenced", orgId: "org-1" }, "debate_end", "d-3:1", () => "{}", t0),
    ]);
    const id = row?.id as string;
    // Node A holds the endpoint's lease (a short one) and writes a first outcome under it.
    const [a] = await leases.claim("webhook", "node-a", ["wh-fenced"], 200);
    expect(a?.epoch).toBe(1);
    const underA = { kind: "webhook" as const, targetId: "wh-fenced", nodeId: "node-a", epoch: 1 };
    const first = { ...attempt(id, 1, "RETRYING", new Date(t0.getTime() + 1000)), lease: underA };
    expect([...(await ledger.recordAttempts([first]))]).toEqual([]);
    // A pauses past its lease; B takes the endpoint over (epoch 2) and records its own attempt 2.
    await Bun.sleep(300);
    const [b] = await leases.claim("webhook", "node-b", ["wh-fenced"], 60_000);
    expect(b?.epoch).toBe(2);
    const underB = { ...underA, nodeId: "node-b", epoch: 2 };
    await ledger.recordAttempts([{ ...attempt(id, 2, "RETRYING", new Date(t0.getTime() + 3000)), lease: underB }]);
    // A resumes: its attempt 2, begun under epoch 1, came back 200. Written, it would mark the
    // delivery DELIVERED (no DELIVERED guard applies: the holder's state is RETRYING).
    const late = { ...attempt(id, 2, "DELIVERED", new Date(t0.getTime() + 4000)), lease: underA };
    expect([...(await ledger.recordAttempts([late]))]).toEqual([id]);
    // In a batch beside another target's record, only the late one is left out.
    const [other] = await ledger.insertDeliveries([
      newTargetDelivery("webhook", { id: "wh-free", orgId: "org-1" }, "debate_end", "d-3:1", () => "{}", t0),
    ]);
    const otherId = other?.id as string;
    const fenced = await ledger.recordAttempts([
      { ...attempt(id, 3, "DEAD_LETTERED", new Date(t0.getTime() + 5000)), lease: underA },
      attempt(otherId, 1, "DELIVERED", new Date(t0.getTime() + 5000)),
    ]);
    expect([...fenced]).toEqual([id]);
    const [stored] = await ledger.deliveries("org-1", "wh-fenced", 10);
    expect([stored?.state, stored?.attempts, stored?.lastStatus]).toEqual(["RETRYING", 2, 503]);
    // The attempt log is the holders' own: A's attempt 1, B's attempt 2 (not A's late 200).
    expect(stored?.attemptLog.map((l) => [l.attempt, l.status])).toEqual([
      [1, 503],
      [2, 503],
    ]);
    const [freeRow] = await ledger.deliveries("org-1", "wh-free", 10);
    expect(freeRow?.state).toBe("DELIVERED");
    // B, holding the lease, delivers it.
    await ledger.recordAttempts([{ ...attempt(id, 3, "DELIVERED", new Date(t0.getTime() + 6000)), lease: underB }]);
    const [done] = await ledger.deliveries("org-1", "wh-fenced", 10);
    expect([done?.state, done?.attempts]).toEqual(["DELIVERED", 3]);
  });
});
