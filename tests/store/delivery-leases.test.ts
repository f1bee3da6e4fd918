/**
 * The delivery leases (runtime/store/leases.ts) on a real PostgreSQL database: what the cluster's
 * correctness rests on, statement by statement.
 *
 * - two nodes claiming the same free leases at once: each lease goes to exactly one of them;
 * - an unexpired lease cannot be taken; once expired it can, by one node, its epoch one higher;
 * - its former holder's renewal no longer returns it (so it stops its actor);
 * - a released lease is free at once, and its next holder's epoch is one higher (never back to 1);
 * - presence lists the nodes taking part until theirs expires;
 * - SQLite is refused: one server holds a SQLite store.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { LeaseRepository, leaseTables } from "../../runtime/store/leases.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const pg = await postgresAvailable();

describe.skipIf(!pg)("delivery leases on PostgreSQL", () => {
  let db: TempDatabase;
  let store: Store;
  let one: LeaseRepository;
  let two: LeaseRepository;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    store = await openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
    // Each node has its own connections, as two server processes would.
    one = new LeaseRepository(await store.openRepo(leaseTables, { name: "one", maxConnections: 4 }));
    two = new LeaseRepository(await store.openRepo(leaseTables, { name: "two", maxConnections: 4 }));
  });

  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
    await store?.close();
    await db?.drop();
  });

  test("two nodes claiming the same free leases at once: each lease goes to exactly one", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    for (let round = 0; round < 5; round++) {
      const batch = ids.slice(round * 8, round * 8 + 8);
      const [a, b] = await Promise.all([
        one.claim("webhook", "node-1", batch, 60_000),
        two.claim("webhook", "node-2", [...batch].reverse(), 60_000),
      ]);
      const won = [...a, ...b].map((l) => l.resourceId).sort();
      expect(won).toEqual([...batch].sort());
    }
    const holders = await one.holders("webhook");
    expect(holders.reduce((n, h) => n + h.held, 0)).toBe(40);
  });

  test("an unexpired lease stays; expired, one node takes it with the next epoch and the old holder's renewal drops it", async () => {
    // Ten seconds for the claims and the renewal to come first, however loaded the machine; the
    // renewal then shortens the lease to 300 ms.
    const [first] = await one.claim("webhook", "node-1", ["wh-x"], 10_000);
    expect(first).toEqual({ resourceId: "wh-x", epoch: 1 });
    expect(await two.claim("webhook", "node-2", ["wh-x"], 10_000)).toEqual([]);
    expect((await one.renew("webhook", "node-1", 300)).map((l) => l.resourceId)).toContain("wh-x");
    await Bun.sleep(400);
    const view = (await two.list("webhook", 60_000)).find((l) => l.resourceId === "wh-x");
    expect(view).toEqual({ resourceId: "wh-x", nodeId: "node-1", expired: true, abandoned: false });
    // Both try at once; one gets it.
    const [a, b] = await Promise.all([
      two.claim("webhook", "node-2", ["wh-x"], 60_000),
      one.claim("webhook", "node-3", ["wh-x"], 60_000),
    ]);
    expect([...a, ...b]).toEqual([{ resourceId: "wh-x", epoch: 2 }]);
    expect((await one.renew("webhook", "node-1", 60_000)).map((l) => l.resourceId)).not.toContain("wh-x");
    const holder = a.length === 1 ? "node-2" : "node-3";
    expect((await one.holderOf("webhook", ["wh-x"])).get("wh-x")).toBe(holder);
  });

  test("a released lease is free at once; kinds are apart; presence lasts as long as a lease", async () => {
    await one.claim("integration", "node-1", ["int-1", "int-2"], 60_000);
    expect(await two.claim("integration", "node-2", ["int-1"], 60_000)).toEqual([]);
    await one.release("integration", "node-1", ["int-1"]);
    expect(await one.list("integration", 60_000)).toEqual([
      { resourceId: "int-2", nodeId: "node-1", expired: false, abandoned: false },
    ]);
    // The epoch counts on from the released holder's: an attempt node-1 began under epoch 1 stays fenced off.
    expect(await two.claim("integration", "node-2", ["int-1"], 60_000)).toEqual([{ resourceId: "int-1", epoch: 2 }]);
    await two.release("integration", "node-2", ["int-1"]);
    expect(await one.claim("integration", "node-1", ["int-1"], 60_000)).toEqual([{ resourceId: "int-1", epoch: 3 }]);
    expect(await one.renew("integration", "node-1", 60_000)).toEqual(
      expect.arrayContaining([{ resourceId: "int-1", epoch: 3 }]),
    );
    await one.release("integration", "node-1", ["int-1"]);
    expect(await two.claim("integration", "node-2", ["int-1"], 60_000)).toEqual([{ resourceId: "int-1", epoch: 4 }]);
    // The same id as a webhook endpoint is another lease.
    expect(await two.claim("webhook", "node-2", ["int-2"], 60_000)).toEqual([{ resourceId: "int-2", epoch: 1 }]);

    expect((await one.present("integration", "node-1", 60_000)).sort()).toEqual(["node-1"]);
    expect((await two.present("integration", "node-2", 300)).sort()).toEqual(["node-1", "node-2"]);
    await Bun.sleep(400);
    expect(await one.present("integration", "node-1", 60_000)).toEqual(["node-1"]);
    // Releasing all: the node's leases of that kind and its presence.
    await one.release("integration", "node-1");
    expect(await two.present("integration", "node-2", 60_000)).toEqual(["node-2"]);
    expect(await one.holders("integration")).toEqual([{ nodeId: "node-2", held: 1 }]);
  });
});

test("delivery leases refuse a SQLite store: one server holds it", async () => {
  const dir: TempDir = tempDataDir();
  const store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
  try {
    const repo = await store.openRepo(leaseTables, { name: "leases" });
    expect(() => new LeaseRepository(repo)).toThrow("delivery leases are for PostgreSQL");
    await repo.close();
  } finally {
    await store.close();
    dir.remove();
  }
});
