/** NodeRepository round trip through openStore, identically on SQLite and PostgreSQL. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store, UnknownNodeError } from "../../runtime/store/index.ts";
import { everyLiveNodeActive, liveNodeKeys } from "../../runtime/store/node-keys.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

function roundTrip(open: () => Promise<Store>) {
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(() => store.close());

  const t0 = new Date("2030-01-01T00:00:00.000Z");
  const at = (seconds: number) => new Date(t0.getTime() + seconds * 1000);
  const node = (id: string, startedAt: Date) => ({
    id,
    hostname: "host-a",
    pid: 4242,
    apiPort: 8080,
    wsPort: 8765,
    version: "0.1.0",
    startedAt,
  });

  test("ping answers", async () => {
    await store.ping();
  });

  test("register, heartbeat, markStopped and list round-trip every field", async () => {
    await store.nodes.register(node("n-1", at(0)));
    await store.nodes.register(node("n-2", at(10)));
    await store.nodes.heartbeat("n-1", at(5));
    await store.nodes.heartbeat("n-2", at(30));
    await store.nodes.markStopped("n-1", at(6), "SIGTERM");

    const all = await store.nodes.list();
    expect(all).toEqual([
      { ...node("n-2", at(10)), heartbeatAt: at(30), stoppedAt: null, stopReason: null, encryptionKeyIds: null },
      {
        ...node("n-1", at(0)),
        heartbeatAt: at(5),
        stoppedAt: at(6),
        stopReason: "SIGTERM",
        encryptionKeyIds: null,
      },
    ]);
    expect((await store.nodes.list({ activeOnly: true })).map((n) => n.id)).toEqual(["n-2"]);
    expect((await store.nodes.list({ heartbeatSince: at(20) })).map((n) => n.id)).toEqual(["n-2"]);
    expect((await store.nodes.list({ activeOnly: true, heartbeatSince: at(31) })).map((n) => n.id)).toEqual([]);
  });

  test("millisecond precision survives the round trip", async () => {
    await store.nodes.register(node("n-ms", new Date("2030-01-02T03:04:05.678Z")));
    const [row] = (await store.nodes.list()).filter((n) => n.id === "n-ms");
    expect(row?.startedAt.toISOString()).toBe("2030-01-02T03:04:05.678Z");
  });

  test("key ids: registered, replaced by a heartbeat that carries them, kept by one that does not", async () => {
    // After every other test's instants, so their nodes are not live in the window.
    const later = (seconds: number) => new Date(Date.UTC(2031, 0, 1) + seconds * 1000);
    await store.nodes.register({ ...node("n-keys", later(100)), encryptionKeyIds: ["k-old"] });
    await store.nodes.register({ ...node("n-stale", later(100)), encryptionKeyIds: ["k-old"] });
    await store.nodes.register({ ...node("n-stopped", later(100)), encryptionKeyIds: ["k-new"] });
    await store.nodes.register(node("n-silent", later(100)));
    await store.nodes.heartbeat("n-keys", later(110), ["k-new", "k-old"]);
    await store.nodes.heartbeat("n-keys", later(120));
    await store.nodes.heartbeat("n-silent", later(120));
    await store.nodes.heartbeat("n-stopped", later(120));
    await store.nodes.markStopped("n-stopped", later(121), "SIGTERM");
    const [row] = (await store.nodes.list()).filter((n) => n.id === "n-keys");
    expect(row?.encryptionKeyIds).toBe('["k-new","k-old"]');

    // Live: not stopped, a heartbeat within the window (n-stale's is 20 s old, past a 10 s window).
    const live = await liveNodeKeys(store.nodes, { now: later(125), liveWithinMs: 10_000 });
    expect(live.map((n) => [n.nodeId, n.activeKeyId, n.keyIds])).toEqual([
      ["n-keys", "k-new", ["k-new", "k-old"]],
      ["n-silent", null, null],
    ]);
    expect(await everyLiveNodeActive(store.nodes, "k-new", { now: later(125), liveWithinMs: 10_000 })).toBe(false);
    await store.nodes.heartbeat("n-silent", later(122), ["k-new"]);
    expect(await everyLiveNodeActive(store.nodes, "k-new", { now: later(125), liveWithinMs: 10_000 })).toBe(true);
    expect(await everyLiveNodeActive(store.nodes, "k-new", { now: later(1000), liveWithinMs: 10_000 })).toBe(false);
  });

  test("an unknown node id is an UnknownNodeError, a duplicate registration is refused", async () => {
    await expect(store.nodes.heartbeat("nope", at(1))).rejects.toBeInstanceOf(UnknownNodeError);
    await expect(store.nodes.markStopped("nope", at(1), "x")).rejects.toBeInstanceOf(UnknownNodeError);
    await expect(store.nodes.register(node("n-1", at(99)))).rejects.toThrow();
  });
}

describe("nodes on SQLite", () => {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDataDir();
  });
  afterAll(() => dir.remove());
  roundTrip(async () => {
    const store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
    expect(store.kind).toBe("sqlite");
    expect(store.sqlitePath).toBe(`${dir.path}/core.db`);
    return store;
  });
});

describe.skipIf(!(await postgresAvailable()))("nodes on PostgreSQL", () => {
  let db: TempDatabase;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(() => db.drop());
  roundTrip(async () => {
    const store = await openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
    expect(store.kind).toBe("postgres");
    expect(store.sqlitePath).toBeUndefined();
    return store;
  });
});
