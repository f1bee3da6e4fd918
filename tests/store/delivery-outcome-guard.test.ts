/**
 * The delivery ledger's outcome write (actors/delivery/delivery-store.ts) on both dialects: a
 * delivery once DELIVERED stays so. On a PostgreSQL cluster a node whose lease lapsed while an
 * attempt was in flight writes that attempt's outcome late, after the node that took the target
 * over delivered it; the late failure must not put the delivery back in a queue (or dead-letter it).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { type DeliveryStore, newTargetDelivery, openDeliveryStore } from "../../actors/delivery/delivery-store.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const pg = await postgresAvailable();
const cleanups: (() => Promise<void>)[] = [];

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function ledgerOn(dialect: "sqlite" | "postgres"): Promise<DeliveryStore> {
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
  return ledger;
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
