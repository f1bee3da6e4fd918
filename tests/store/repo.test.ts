/**
 * The Repo every repository is written against (runtime/store/repo.ts), on both dialects: a
 * transaction is all or nothing, and holds no lock while other code of the process runs; a
 * snapshot's reads see one state of the database; a store opened read-only reads and refuses every
 * write (and on SQLite creates nothing where there is no database); on PostgreSQL every statement
 * has the PgPool's deadline, and a read runs again after its connection was ended under it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { eq, like, sql } from "drizzle-orm";
import { integer as pgInteger, pgTable, text as pgText } from "drizzle-orm/pg-core";
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import postgres from "postgres";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { dialectTables, NoDatabase, openStore, type Repo, type Store } from "../../runtime/store/index.ts";
import { nodeTables } from "../../runtime/store/nodes.ts";
import { connectionLost, PgDeadlineExceeded, PgPool } from "../../runtime/store/pg-pool.ts";
import { PostgresRepo } from "../../runtime/store/postgres.ts";
import { slotsAsValues } from "../../runtime/store/repo.ts";
import { storeFailureReason } from "../../runtime/store/store-health.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
type NodeTables = typeof nodeTables.postgres;

const node = (id: string) => ({
  id,
  hostname: "h",
  pid: 1,
  apiPort: 1,
  wsPort: 2,
  version: "0",
  startedAt: new Date(1_900_000_000_000),
  heartbeatAt: new Date(1_900_000_000_000),
});

async function ids(repo: Repo<NodeTables>): Promise<string[]> {
  const { nodes } = repo.tables;
  return (await repo.read((db) => db.select({ id: nodes.id }).from(nodes).orderBy(nodes.id))).map((r) => r.id);
}

/**
 * A statement that, listed between a snapshot's reads, commits node `id` through `other`'s own
 * connection: synchronously on SQLite (a snapshot's statements run synchronously), awaited on
 * PostgreSQL.
 */
function commitsBetween(other: Repo<NodeTables>, id: string) {
  const { driver } = other;
  return {
    all() {
      if (driver.dialect !== "sqlite") throw new Error("only SQLite runs statements through all()");
      driver.client
        .query(
          "INSERT INTO nodes (id, hostname, pid, api_port, ws_port, version, started_at, heartbeat_at) VALUES (?, 'h', 1, 1, 2, '0', 0, 0)",
        )
        .run(id);
      return [];
    },
    // biome-ignore lint/suspicious/noThenProperty: awaited like drizzle's statements are
    then<A = unknown, B = never>(
      ok?: ((r: unknown) => A | PromiseLike<A>) | null,
      fail?: ((e: unknown) => B | PromiseLike<B>) | null,
    ): PromiseLike<A | B> {
      return other.write((db) => db.insert(other.tables.nodes).values(node(id))).then(ok, fail);
    },
  };
}

function transactions(open: () => Promise<Store>, openReadOnly: () => Promise<Store>) {
  let store: Store;
  let repo: Repo<NodeTables>;
  beforeAll(async () => {
    store = await open();
    repo = await store.openRepo(nodeTables, { name: "repo test" });
  });
  afterAll(async () => {
    await repo.close();
    await store.close();
  });

  test("a transaction commits all of its statements, or, when one fails, none", async () => {
    const { nodes } = repo.tables;
    const [inserted] = await repo.transaction((tx) => [
      tx.insert(nodes).values(node("t-1")).returning({ id: nodes.id }),
      tx.insert(nodes).values(node("t-2")),
    ]);
    expect(inserted).toEqual([{ id: "t-1" }]);
    expect(await ids(repo)).toEqual(["t-1", "t-2"]);
    const failed = await repo
      .transaction((tx) => [
        tx.insert(nodes).values(node("t-3")),
        tx.insert(nodes).values(node("t-1")), // duplicate key
      ])
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    expect(await ids(repo)).toEqual(["t-1", "t-2"]);
  });

  test("transactions and another connection's writes, interleaved in one process, all commit at once", async () => {
    // Were the write lock held across an await, the other connection's write would spin on
    // busy_timeout (blocking the loop that would release the lock) and fail with SQLITE_BUSY.
    const other = await store.openRepo(nodeTables, { name: "repo test, second connection" });
    try {
      const { nodes } = repo.tables;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => [
          repo.transaction((tx) => [
            tx.insert(nodes).values(node(`i-a${i}`)),
            tx
              .update(nodes)
              .set({ version: "1" })
              .where(eq(nodes.id, `i-a${i}`)),
          ]),
          other.write((db) => db.insert(other.tables.nodes).values(node(`i-b${i}`))),
        ]).flat(),
      );
      expect(performance.now() - started).toBeLessThan(2000);
      expect((await ids(repo)).filter((id) => id.startsWith("i-")).length).toBe(40);
    } finally {
      await other.close();
    }
  });

  test("a prepared statement runs with each call's values, encoded, and only inside the transaction it is listed in", async () => {
    const { nodes } = repo.tables;
    const add = repo.prepare(
      {
        id: nodes.id,
        hostname: nodes.hostname,
        pid: nodes.pid,
        apiPort: nodes.apiPort,
        wsPort: nodes.wsPort,
        version: nodes.version,
        startedAt: nodes.startedAt,
        heartbeatAt: nodes.heartbeatAt,
      },
      (db, row) => db.insert(nodes).values(row),
    );
    const stop = repo.prepare({ id: nodes.id, stoppedAt: nodes.stoppedAt }, (db, { id, stoppedAt }) =>
      db.update(nodes).set(slotsAsValues({ stoppedAt })).where(eq(nodes.id, id)).returning({ id: nodes.id }),
    );
    await repo.write((db) => add.on(db, node("p-1")));
    const [added, stopped] = await repo.transaction((tx) => [
      add.on(tx, { ...node("p-2"), startedAt: new Date(1_900_000_000_123) }),
      stop.on(tx, { id: "p-1", stoppedAt: new Date(1_900_000_000_456) }),
    ]);
    expect(added).toBeDefined();
    expect(stopped).toEqual([{ id: "p-1" }]);
    const failed = await repo
      .transaction((tx) => [
        stop.on(tx, { id: "p-2", stoppedAt: new Date(1_900_000_000_789) }),
        add.on(tx, node("p-1")), // duplicate key: the stop above is rolled back with it
      ])
      .catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(Error);
    const rows = await repo.read((db) =>
      db
        .select({ id: nodes.id, startedAt: nodes.startedAt, stoppedAt: nodes.stoppedAt })
        .from(nodes)
        .where(like(nodes.id, "p-%"))
        .orderBy(nodes.id),
    );
    expect(rows).toEqual([
      { id: "p-1", startedAt: new Date(1_900_000_000_000), stoppedAt: new Date(1_900_000_000_456) },
      { id: "p-2", startedAt: new Date(1_900_000_000_123), stoppedAt: null },
    ]);
  });

  test("a prepared select reads its rows exactly as drizzle's select does: every column, some columns, none found", async () => {
    const { nodes } = repo.tables;
    await repo.write((db) =>
      db.insert(nodes).values([node("m-1"), { ...node("m-2"), stoppedAt: new Date(1_900_000_000_999) }]),
    );
    const whole = repo.prepare({ id: nodes.id }, (db, { id }) => db.select().from(nodes).where(eq(nodes.id, id)));
    const some = repo.prepare({ id: nodes.id }, (db, { id }) =>
      db.select({ started: nodes.startedAt, name: nodes.hostname }).from(nodes).where(eq(nodes.id, id)),
    );
    for (const id of ["m-1", "m-2", "m-none"]) {
      const expected = await repo.read((db) => db.select().from(nodes).where(eq(nodes.id, id)));
      const read = await repo.read((db) => whole.on(db, { id }));
      expect(read).toEqual(expected);
      expect(read.map((r) => Object.keys(r))).toEqual(expected.map((r) => Object.keys(r)));
      expect(await repo.read((db) => some.on(db, { id }))).toEqual(
        expected.map((r) => ({ started: r.startedAt, name: r.hostname })),
      );
    }
    const [second] = await repo.read((db) => whole.on(db, { id: "m-2" }));
    expect(second?.stoppedAt).toEqual(new Date(1_900_000_000_999));
    expect(second?.heartbeatAt).toBeInstanceOf(Date);
  });

  test("a snapshot's reads see one state of the database, though another connection commits between them", async () => {
    const { nodes } = repo.tables;
    await repo.write((db) => db.insert(nodes).values(node("v-1")));
    const other = await store.openRepo(nodeTables, { name: "repo test, second connection" });
    try {
      const [before, , after] = await repo.snapshot((tx) => [
        tx.select({ id: nodes.id }).from(nodes).where(like(nodes.id, "v-%")),
        commitsBetween(other, "v-2"),
        tx.select({ id: nodes.id }).from(nodes).where(like(nodes.id, "v-%")),
      ]);
      expect(before).toEqual([{ id: "v-1" }]);
      expect(after).toEqual([{ id: "v-1" }]);
      // Committed all the same: the next read sees it.
      const [now] = await repo.snapshot((tx) => [
        tx.select({ id: nodes.id }).from(nodes).where(like(nodes.id, "v-%")).orderBy(nodes.id),
      ]);
      expect(now).toEqual([{ id: "v-1" }, { id: "v-2" }]);
    } finally {
      await other.close();
    }
  });

  test("a store opened read-only reads, in snapshots too, and refuses every write as read_only", async () => {
    const readOnly = await openReadOnly();
    const reader = await readOnly.openRepo(nodeTables, { name: "repo test, read-only" });
    try {
      const { nodes } = reader.tables;
      expect(await ids(reader)).toEqual(await ids(repo));
      const [[one]] = await reader.snapshot((tx) => [
        tx.select({ id: nodes.id }).from(nodes).where(eq(nodes.id, "t-1")),
      ]);
      expect(one).toEqual({ id: "t-1" });
      const refused = [
        await reader.write((db) => db.insert(nodes).values(node("r-1"))).catch((e: unknown) => e),
        await reader.transaction((tx) => [tx.delete(nodes)]).catch((e: unknown) => e),
        await readOnly.nodes.heartbeat("t-1", new Date()).catch((e: unknown) => e),
      ];
      expect(refused.map(storeFailureReason)).toEqual(["read_only", "read_only", "read_only"]);
      expect(await ids(repo)).not.toContain("r-1");
      expect(await ids(repo)).toContain("t-1");
    } finally {
      await reader.close();
      await readOnly.close();
    }
  });

  test("the store's nodes and a repository opened beside it see the same rows", async () => {
    await store.nodes.register({ ...node("s-1") });
    const { nodes } = repo.tables;
    const [row] = await repo.read((db) => db.select().from(nodes).where(eq(nodes.id, "s-1")));
    expect(row?.startedAt).toEqual(new Date(1_900_000_000_000));
    expect(row?.stoppedAt).toBeNull();
  });
}

describe("Repo on SQLite", () => {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDataDir();
  });
  afterAll(() => dir.remove());
  transactions(
    () => openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet),
    () => openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet, { readOnly: true }),
  );

  test("read-only where there is no database: NoDatabase naming the file, and nothing is created", async () => {
    const empty = join(dir.path, "never-served");
    const err = await openStore(loadConfig({ ARAGORA_DATA_DIR: empty }), quiet, { readOnly: true }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NoDatabase);
    expect((err as Error).message).toContain(`no database at ${join(empty, "core.db")}`);
    expect(existsSync(empty)).toBe(false);
  });
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("Repo on PostgreSQL", () => {
  let db: TempDatabase;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(() => db.drop());
  transactions(
    () => openStore(loadConfig({ DATABASE_URL: db.url }), quiet),
    () => openStore(loadConfig({ DATABASE_URL: db.url }), quiet, { readOnly: true }),
  );

  test("a statement past the pool's deadline fails as a lost connection, and the next one answers", async () => {
    const store = await openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
    const repo = new PostgresRepo(
      new PgPool(() => postgres(db.url, { max: 2, onnotice: () => {} }), { deadlineMs: 300 }),
      nodeTables.postgres,
    );
    try {
      const started = performance.now();
      const err = await repo.write((tx) => tx.execute(sql`SELECT pg_sleep(5)`)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgDeadlineExceeded);
      expect(performance.now() - started).toBeLessThan(2000);
      const err2 = await repo
        .transaction((tx) => [tx.insert(repo.tables.nodes).values(node("d-1")), tx.execute(sql`SELECT pg_sleep(5)`)])
        .catch((e: unknown) => e);
      expect(err2).toBeInstanceOf(PgDeadlineExceeded);
      expect(await ids(repo)).not.toContain("d-1");
    } finally {
      await repo.close();
      await store.close();
    }
  });

  test("a read whose connection the server ends under it is run again and answers", async () => {
    const store = await openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
    const repo = await store.openRepo(nodeTables, { name: "repo test" });
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    try {
      expect(await ids(repo)).toContain("t-1"); // the pool's connection is open now
      let attempts = 0;
      const answer = await repo.read(async (tx) => {
        attempts++;
        if (attempts === 1) {
          await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = ${new URL(db.url).pathname.slice(1)} AND pid <> pg_backend_pid()`;
        }
        return tx.execute(sql`SELECT 42 AS n`);
      });
      expect(attempts).toBeGreaterThan(1);
      expect(Number([...answer][0]?.n)).toBe(42);
      // A write is not run again: a lost connection reaches the caller, who knows whether it may retry.
      let writes = 0;
      const lost = await repo
        .write(async (tx) => {
          writes++;
          await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = ${new URL(db.url).pathname.slice(1)} AND pid <> pg_backend_pid()`;
          return tx.execute(sql`SELECT 1`);
        })
        .catch((e: unknown) => e);
      expect(connectionLost(lost)).toBe(true);
      expect(writes).toBe(1);
    } finally {
      await admin.end({ timeout: 1 });
      await repo.close();
      await store.close();
    }
  });
});

test("dialectTables refuses, at compile time, tables whose row types differ between the dialects", () => {
  const a = sqliteTable("a", { id: text("id").primaryKey(), n: integer("n").notNull() });
  const b = pgTable("a", { id: pgText("id").primaryKey(), n: pgInteger("n") }); // n nullable here
  // @ts-expect-error row types differ (n is nullable in one dialect): typecheck fails if the check goes
  const tables = dialectTables({ sqlite: { a }, postgres: { a: b } });
  expect(tables.sqlite.a).toBe(a as never);
  const ok = dialectTables({
    sqlite: { a },
    postgres: { a: pgTable("a", { id: pgText("id").primaryKey(), n: pgInteger("n").notNull() }) },
  });
  expect(ok.postgres.a).not.toBe(a as never);
});
