/**
 * The debate event log stored as chunks (one row per debate per write batch), identically on
 * SQLite and PostgreSQL: through the DebateStore interface (payloads byte for byte, since_seq and
 * limit inside a chunk, a seq never stored twice), and migration 0005 through `aragora migrate`
 * from a database holding the old one-row-per-event table, up (every event readable, the
 * `debate_events` view returns them) and down (the old table back with the same rows).
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { Writable } from "node:stream";
import postgres from "postgres";
import { type DebateStore, LOCAL_OWNER, openDebateStore, type StoredEvent } from "../../actors/debate/debate-store.ts";
import { EventSeqConflict } from "../../actors/debate/event-chunks.ts";
import { DebateLog, EventWriter, GENESIS_HASH } from "../../actors/debate/event-log.ts";
import type { EventType } from "../../actors/debate/types.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { debateConfig } from "../debate/in-process-agents.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";
import { aragora } from "./cli.ts";
import { rollBackAfter } from "./roll-back.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const MIGRATION = "0005_debate_event_chunks";

const CONFIG = debateConfig({
  agents: ["t:a", "t:b"],
  rounds: 1,
  timeouts: { turnMs: 1000, roundMs: 1000, debateMs: 1000 },
});

/** Text a model could stream: every kind of character JSON.stringify escapes or passes through. */
const TRICKY = [
  'quote " backslash \\ slash / tab \t newline \n cr \r nul \u0000 bell \u0007 del \u007f',
  "é ü 中文 العربية \u2028\u2029 \ufeff",
  "😀 👩‍👩‍👧 🇫🇷 and a lone surrogate \ud83d and \ude00 apart",
];

/**
 * A debate's events as DebateLog seals them (real payloads and chain links), captured instead of
 * written. `next(n)` seals n more.
 */
function eventSource(debateId: string, startAt = 1_900_000_000_000) {
  const sealed: StoredEvent[] = [];
  let at = startAt;
  const log = new DebateLog(
    debateId,
    { append: (e) => sealed.push(e), sealBeforeBatch: () => {} },
    { seq: 0, hash: GENESIS_HASH },
    () => at++,
  );
  const kinds: [EventType, number | null, string | null][] = [
    ["round_start", 1, null],
    ["turn_end", 1, "t:a"],
    ["turn_end", 1, "t:b"],
    ["vote", null, "t:a"],
  ];
  return {
    sealed,
    next(n: number): StoredEvent[] {
      const from = sealed.length;
      for (let i = 0; i < n; i++) {
        const [type, round, agent] = kinds[(from + i) % kinds.length] as [EventType, number | null, string | null];
        // Payloads made to test the store's byte-exact round trip, not any event's schema.
        log.emit(type, round, agent, {
          text: TRICKY[(from + i) % TRICKY.length],
          n: [(from + i) * 0.1, 1e21, -0, 2 ** 53 + 2],
          nested: { "2": [null, true, {}], "10": "integer-like keys" },
        } as never);
      }
      return sealed.slice(from);
    },
  };
}

/** What one dialect needs: raw SQL, how to open the stores, and how to describe the old table. */
interface Dialect {
  env: () => Record<string, string>;
  query: (statement: string) => Promise<Record<string, unknown>[]>;
  /** Rows of `debate_events` (table or view) as plain values, ts in epoch ms. */
  eventRows: () => Promise<unknown[][]>;
  /** The definition of `debate_events` and whether it is a table or a view. */
  describeEvents: () => Promise<{ kind: string; definition: unknown }>;
  insertDebate: (id: string) => Promise<void>;
  /** One row the way the store wrote it before 0005 (the debate's last_seq moved with it). */
  insertOldEvent: (e: StoredEvent) => Promise<void>;
}

async function openStores(dialect: Dialect): Promise<{ core: Store; store: DebateStore }> {
  const config = loadConfig(dialect.env());
  const core = await openStore(config, quiet);
  return { core, store: await openDebateStore(core, config) };
}

async function migrate(dialect: Dialect, command: "apply" | "rollback"): Promise<string> {
  const r = await aragora(["migrate", command], dialect.env());
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return r.stdout;
}

/** Back to before `tag`: the later migrations in-process, `tag`'s own down script through the CLI; its output. */
async function rollbackThrough(dialect: Dialect, tag: string): Promise<string> {
  await rollBackAfter(dialect.env(), tag);
  return migrate(dialect, "rollback");
}

const newDebate = (id: string) => ({
  id,
  owner: LOCAL_OWNER,
  question: "Q?",
  config: CONFIG,
  metadata: {},
  createdAt: new Date(1_900_000_000_000),
});

function storeScenario(dialect: Dialect) {
  let core: Store;
  let store: DebateStore;
  beforeAll(async () => {
    await migrate(dialect, "apply");
    ({ core, store } = await openStores(dialect));
  });
  afterAll(async () => {
    await store?.close();
    await core?.close();
  });
  const chunkCount = async (id: string) =>
    Number((await dialect.query(`SELECT count(*) AS n FROM debate_event_chunks WHERE debate_id = '${id}'`))[0]?.n);

  test("events come back exactly as appended, one chunk row per debate per batch", async () => {
    await store.create(newDebate("d-rt-a"));
    await store.create(newDebate("d-rt-b"));
    const a = eventSource("d-rt-a");
    const b = eventSource("d-rt-b");
    // Two debates interleaved in each batch, as the EventWriter batches them.
    const batch1 = [...a.next(3), ...b.next(2), ...a.next(2)];
    const batch2 = [...b.next(4), ...a.next(5)];
    await store.appendEvents(batch1);
    await store.appendEvents(batch2);

    expect(await store.events("d-rt-a", 0)).toEqual(a.sealed);
    expect(await store.events("d-rt-b", 0)).toEqual(b.sealed);
    expect(a.sealed.some((e) => e.payload.includes("\\ud83d"))).toBe(true);
    expect([await chunkCount("d-rt-a"), await chunkCount("d-rt-b")]).toEqual([2, 2]);
    expect((await store.byId("d-rt-a"))?.lastSeq).toBe(10);
    expect((await store.byId("d-rt-a"))?.updatedAt.getTime()).toBe(a.sealed.at(-1)?.ts);
  });

  test("since_seq and limit cut inside a chunk and across chunks", async () => {
    await store.create(newDebate("d-page"));
    const src = eventSource("d-page");
    await store.appendEvents(src.next(10));
    await store.appendEvents(src.next(1));
    await store.appendEvents(src.next(6));
    const seqs = async (since: number, limit?: number) =>
      (await store.events("d-page", since, limit)).map((e) => e.seq);
    expect(await seqs(3, 4)).toEqual([4, 5, 6, 7]);
    expect(await seqs(8, 5)).toEqual([9, 10, 11, 12, 13]);
    expect(await seqs(11)).toEqual([12, 13, 14, 15, 16, 17]);
    expect(await seqs(10, 1)).toEqual([11]);
    expect(await seqs(0, 1)).toEqual([1]);
    expect(await seqs(17)).toEqual([]);
    expect(await store.events("d-page", 5, 3)).toEqual(src.sealed.slice(5, 8));
  });

  test("paging through many chunks, as a replay does, gives every event once and in order", async () => {
    await store.create(newDebate("d-replay"));
    const src = eventSource("d-replay");
    for (let i = 0; i < 20; i++) await store.appendEvents(src.next(1 + (i % 4)));
    for (const pageSize of [1, 2, 3, 7, 50]) {
      const seen: StoredEvent[] = [];
      for (let last = 0; ; ) {
        const page = await store.events("d-replay", last, pageSize);
        expect(page.length).toBeLessThanOrEqual(pageSize);
        seen.push(...page);
        last = page.at(-1)?.seq ?? last;
        if (page.length < pageSize) break;
      }
      expect(seen).toEqual(src.sealed);
    }
  });

  test("a batch retried after its commit went through stores nothing twice, and what it adds once", async () => {
    await store.create(newDebate("d-retry"));
    await store.create(newDebate("d-retry-other"));
    const src = eventSource("d-retry");
    const other = eventSource("d-retry-other");
    const first = src.next(10);
    await store.appendEvents(first);

    // The EventWriter retries a batch whose acknowledgement was lost: the same batch again, then
    // the same batch with the events queued since, interleaved with another debate's.
    await store.appendEvents(first);
    expect(await store.events("d-retry", 0)).toEqual(first);
    expect(await chunkCount("d-retry")).toBe(1);
    await store.appendEvents([...other.next(2), ...first.slice(4), ...src.next(3), ...other.next(1)]);
    expect(await store.events("d-retry", 0)).toEqual(src.sealed);
    expect(await store.events("d-retry-other", 0)).toEqual(other.sealed);
    expect(await chunkCount("d-retry")).toBe(2);
    expect((await store.byId("d-retry"))?.lastSeq).toBe(13);
    expect((await store.byId("d-retry"))?.updatedAt.getTime()).toBe(src.sealed.at(-1)?.ts);
  });

  test("the EventWriter carries on when a commit's acknowledgement is lost: each event stored and published once", async () => {
    await store.create(newDebate("d-lost-ack"));
    let lost = 0;
    // The commit goes through, then the caller hears a failure (as from a connection dropped
    // before the reply): the writer retries the batch, with whatever was queued since.
    const flaky = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop !== "appendEvents") return Reflect.get(target, prop, receiver);
        return async (events: StoredEvent[]) => {
          await target.appendEvents(events);
          if (lost++ < 2) throw new Error("connection lost before the commit was acknowledged");
        };
      },
    });
    const published: number[] = [];
    const writer = new EventWriter({
      store: flaky,
      log: quiet,
      publish: (_id, seq) => published.push(seq),
      flushMs: 1,
    });
    const events = new DebateLog("d-lost-ack", writer, { seq: 0, hash: GENESIS_HASH });
    for (let i = 0; i < 3; i++) events.emit("round_start", i, null, { phase: "proposal" });
    const flushed = writer.flush();
    await Bun.sleep(5);
    for (let i = 3; i < 6; i++) events.emit("round_start", i, null, { phase: "proposal" });
    await flushed;
    await writer.flush();
    expect(lost).toBeGreaterThanOrEqual(3);
    expect(published).toEqual([1, 2, 3, 4, 5, 6]);
    const stored = await store.events("d-lost-ack", 0);
    expect(stored.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(stored.map((e) => e.hash)).toEqual(events.chain.map((e) => e.hash));
  });

  test("finish stores the outcome, the receipt and the closing event in one transaction, or none of them", async () => {
    await store.create(newDebate("d-fin"));
    const src = eventSource("d-fin");
    await store.appendEvents(src.next(3));
    const outcome = {
      status: "completed" as const,
      stopReason: "completed",
      error: null,
      consensus: null,
      baseline: null,
      summary: null,
      finishedAt: new Date(1_900_000_001_000),
      receipt: { json: '{"receipt":1}', at: new Date(1_900_000_001_000) },
    };
    // A closing event at a seq already stored as another event: the whole finish rolls back.
    const rival = eventSource("d-fin", 1_950_000_000_000).next(3);
    await expect(store.finish("d-fin", { ...outcome, events: rival.slice(2) })).rejects.toThrow(EventSeqConflict);
    expect((await store.byId("d-fin"))?.status).toBe("running");
    expect(await store.receipt("d-fin", LOCAL_OWNER.orgId)).toBeNull();

    const closing = src.next(1);
    expect(await store.finish("d-fin", { ...outcome, events: closing })).toBe(true);
    expect((await store.byId("d-fin"))?.status).toBe("completed");
    expect(await store.receipt("d-fin", LOCAL_OWNER.orgId)).toBe('{"receipt":1}');
    expect(await store.events("d-fin", 0)).toEqual(src.sealed);
    // Finished already: nothing more is written.
    expect(
      await store.finish("d-fin", { ...outcome, receipt: { json: "{}", at: new Date() }, events: src.next(1) }),
    ).toBe(false);
    expect(await store.receipt("d-fin", LOCAL_OWNER.orgId)).toBe('{"receipt":1}');
    expect((await store.events("d-fin", 0)).length).toBe(4);
  });

  test("two writers on one debate: the one that finds the other's events is fenced, the other goes on", async () => {
    await store.create(newDebate("d-two-writers"));
    await store.create(newDebate("d-bystander"));
    const fenced: string[] = [];
    const first = new EventWriter({ store, log: quiet, publish: () => {} });
    const second = new EventWriter({ store, log: quiet, publish: () => {}, onConflict: (id) => fenced.push(id) });
    const mine = new DebateLog("d-two-writers", first, { seq: 0, hash: GENESIS_HASH }, () => 1_900_000_000_000);
    const theirs = new DebateLog("d-two-writers", second, { seq: 0, hash: GENESIS_HASH }, () => 1_950_000_000_000);
    const bystander = new DebateLog("d-bystander", second, { seq: 0, hash: GENESIS_HASH });
    for (let i = 0; i < 3; i++) mine.emit("round_start", i, null, { phase: "proposal" });
    await first.flush();
    theirs.emit("round_start", 0, null, { phase: "proposal" });
    bystander.emit("round_start", 0, null, { phase: "proposal" });
    await second.flush();
    bystander.emit("round_start", 1, null, { phase: "proposal" });
    await second.flush();
    mine.emit("debate_end", null, null, { status: "completed", stop_reason: "rounds_completed", error: null });
    await first.flush();
    expect(fenced).toEqual(["d-two-writers"]);
    expect((await store.events("d-two-writers", 0)).map((e) => e.hash)).toEqual(mine.chain.map((e) => e.hash));
    expect((await store.events("d-bystander", 0)).map((e) => e.seq)).toEqual([1, 2]);
  });

  test("a batch holding a seq already stored as another event fails whole, like the old per-event key", async () => {
    await store.create(newDebate("d-dup"));
    await store.create(newDebate("d-other"));
    const src = eventSource("d-dup");
    const other = eventSource("d-other");
    const first = src.next(10);
    await store.appendEvents(first);

    // Another log of the same debate (other timestamps, so other payloads and links) at seqs 8..12.
    const rival = eventSource("d-dup", 1_950_000_000_000);
    const overlapping = rival.next(12).slice(7);
    await expect(store.appendEvents([...other.next(3), ...overlapping])).rejects.toThrow(EventSeqConflict);
    await expect(store.appendEvents(rival.sealed.slice(0, 1))).rejects.toThrow(/seq 1 is already stored/);
    // Nothing of the failed batches was stored, the other debate's events included.
    expect(await store.events("d-other", 0)).toEqual([]);
    expect(await store.events("d-dup", 0)).toEqual(first);
    expect((await store.byId("d-dup"))?.lastSeq).toBe(10);

    const more = src.next(2);
    await store.appendEvents([...other.sealed, ...more]);
    expect(await store.events("d-dup", 0)).toEqual(src.sealed);
    expect(await store.events("d-other", 0)).toEqual(other.sealed);

    // A batch committed after a later one (a seq skipped, then filled in) is stored, as rows were;
    // a debate that does not exist takes nothing, and fails the batch it is in.
    const late = src.next(2);
    await store.appendEvents(late.slice(1));
    await store.appendEvents(late.slice(0, 1));
    expect(await store.events("d-dup", 12)).toEqual(late);
    expect((await store.byId("d-dup"))?.lastSeq).toBe(14);
    await expect(store.appendEvents([...other.next(1), ...eventSource("d-nobody").next(1)])).rejects.toThrow();
    expect((await store.events("d-other", 0)).length).toBe(3);
  });
}

function migrationScenario(dialect: Dialect) {
  const a = eventSource("d-mig-a");
  const b = eventSource("d-mig-b", 1_900_000_500_000);
  let oldTable: { kind: string; definition: unknown };
  let oldRows: unknown[][];

  test(`rollback to before ${MIGRATION}, then rows written the old way`, async () => {
    await migrate(dialect, "apply");
    // The migrations after it first, then it.
    expect(await rollbackThrough(dialect, MIGRATION)).toBe(`rolled back ${MIGRATION}\n`);
    oldTable = await dialect.describeEvents();
    expect(oldTable.kind).toBe("table");
    await dialect.insertDebate("d-mig-a");
    await dialect.insertDebate("d-mig-b");
    for (const e of [...a.next(6), ...b.next(3)]) await dialect.insertOldEvent(e);
    oldRows = await dialect.eventRows();
    expect(oldRows).toHaveLength(9);
  }, 120_000);

  test(`${MIGRATION} keeps every event readable and the view returns the old rows`, async () => {
    expect(await migrate(dialect, "apply")).toStartWith(`applied ${MIGRATION}\n`);
    expect((await dialect.describeEvents()).kind).toBe("view");
    expect(await dialect.eventRows()).toEqual(oldRows);
    const chunks = await dialect.query("SELECT count(*) AS n FROM debate_event_chunks");
    expect(Number(chunks[0]?.n)).toBe(9);

    const { core, store } = await openStores(dialect);
    try {
      expect(await store.events("d-mig-a", 0)).toEqual(a.sealed);
      expect(await store.events("d-mig-b", 0)).toEqual(b.sealed);
      expect(await store.events("d-mig-a", 2, 3)).toEqual(a.sealed.slice(2, 5));
      // The log continues where the old rows end, in chunks of many events.
      await store.appendEvents([...a.next(4), ...b.next(2)]);
      expect(await store.events("d-mig-a", 4)).toEqual(a.sealed.slice(4));
      // Seqs of migrated rows and new chunks alike: the same event again is a retry, another a conflict.
      await store.appendEvents(a.sealed.slice(1, 7));
      expect(await store.events("d-mig-a", 0)).toEqual(a.sealed);
      const rival = eventSource("d-mig-a", 1_950_000_000_000).next(6);
      await expect(store.appendEvents(rival.slice(1, 2))).rejects.toThrow(EventSeqConflict);
      await expect(store.appendEvents(rival.slice(5, 6))).rejects.toThrow(EventSeqConflict);
    } finally {
      await store.close();
      await core.close();
    }
    const expected = [...a.sealed, ...b.sealed].map((e) => [
      e.debateId,
      e.seq,
      e.type,
      e.round,
      e.agent,
      e.ts,
      e.hash,
      e.payload,
    ]);
    expect(await dialect.eventRows()).toEqual(expected);
  });

  test("rollback restores the old table, as 0002 made it, with every row", async () => {
    const viewRows = await dialect.eventRows();
    expect(await rollbackThrough(dialect, MIGRATION)).toBe(`rolled back ${MIGRATION}\n`);
    expect(await dialect.describeEvents()).toEqual(oldTable);
    expect(await dialect.eventRows()).toEqual(viewRows);
    expect(viewRows.filter((r) => oldRows.some((o) => o[0] === r[0] && o[1] === r[1]))).toEqual(oldRows);
    // And up again: the migration is repeatable over rows the down script wrote.
    expect(await migrate(dialect, "apply")).toStartWith(`applied ${MIGRATION}\n`);
    expect(await dialect.eventRows()).toEqual(viewRows);
  }, 120_000);
}

const EVENT_ROWS =
  "SELECT debate_id, seq, type, round, agent, ts, hash, payload FROM debate_events ORDER BY debate_id, seq";

/** SQLite through `<dataDir>/core.db`, opened afresh for every statement (the CLI runs beside it). */
function sqliteDialect(dataDir: () => string): Dialect {
  const withDb = <T>(work: (db: Database) => T): T => {
    const db = new Database(join(dataDir(), "core.db"));
    try {
      return work(db);
    } finally {
      db.close();
    }
  };
  return {
    env: () => ({ ARAGORA_DATA_DIR: dataDir() }),
    query: async (statement) => withDb((db) => db.query<Record<string, unknown>, []>(statement).all()),
    eventRows: async () => withDb((db) => db.query<unknown[], []>(EVENT_ROWS).values()),
    describeEvents: async () =>
      withDb((db) => {
        const row = db
          .query<{ type: string; sql: string }, []>("SELECT type, sql FROM sqlite_schema WHERE name = 'debate_events'")
          .get();
        return { kind: row?.type ?? "missing", definition: row?.sql };
      }),
    insertDebate: async (id) =>
      withDb((db) => {
        db.query(
          "INSERT INTO debates (id, user_id, org_id, question, config, metadata, status, created_at, updated_at) VALUES (?, 'local', 'local', 'Q?', ?, '{}', 'running', 0, 0)",
        ).run(id, JSON.stringify(CONFIG));
      }),
    insertOldEvent: async (e) =>
      withDb((db) => {
        db.query(
          "INSERT INTO debate_events (debate_id, seq, type, round, agent, ts, hash, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ).run(e.debateId, e.seq, e.type, e.round, e.agent, e.ts, e.hash, e.payload);
        db.query("UPDATE debates SET last_seq = ?1, updated_at = ?2 WHERE id = ?3 AND last_seq < ?1").run(
          e.seq,
          e.ts,
          e.debateId,
        );
      }),
  };
}

/** PostgreSQL through a connection of the test's own to the database the CLI and stores use. */
function postgresDialect(url: () => string, sql: () => postgres.Sql): Dialect {
  return {
    env: () => ({ DATABASE_URL: url() }),
    query: async (statement) => [...(await sql().unsafe(statement))],
    eventRows: async () =>
      (await sql().unsafe(EVENT_ROWS)).map((r) => [
        r.debate_id,
        Number(r.seq),
        r.type,
        r.round,
        r.agent,
        (r.ts as Date).getTime(),
        r.hash,
        r.payload,
      ]),
    describeEvents: async () => {
      const [kind] = await sql()<{ table_type: string }[]>`
        SELECT table_type FROM information_schema.tables WHERE table_schema = 'public' AND table_name = 'debate_events'`;
      const columns = await sql()`
        SELECT column_name, data_type, datetime_precision, is_nullable FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'debate_events' ORDER BY ordinal_position`;
      const constraints = await sql()`
        SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
        WHERE conrelid = to_regclass('public.debate_events') ORDER BY conname`;
      return {
        kind: kind?.table_type === "VIEW" ? "view" : kind ? "table" : "missing",
        definition: { columns: [...columns], constraints: [...constraints] },
      };
    },
    insertDebate: async (id) => {
      await sql()`INSERT INTO debates (id, user_id, org_id, question, config, metadata, status, created_at, updated_at)
        VALUES (${id}, 'local', 'local', 'Q?', ${JSON.stringify(CONFIG)}, '{}', 'running', now(), now())`;
    },
    insertOldEvent: async (e) => {
      await sql()`INSERT INTO debate_events (debate_id, seq, type, round, agent, ts, hash, payload)
        VALUES (${e.debateId}, ${e.seq}, ${e.type}, ${e.round}, ${e.agent}, ${new Date(e.ts)}, ${e.hash}, ${e.payload})`;
      await sql()`UPDATE debates SET last_seq = ${e.seq}, updated_at = ${new Date(e.ts)}
        WHERE id = ${e.debateId} AND last_seq < ${e.seq}`;
    },
  };
}

/** Each scenario on a data dir of its own, so the migration starts from an empty log. */
function onSqlite(scenario: (dialect: Dialect) => void) {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDataDir();
  });
  afterAll(() => dir.remove());
  scenario(sqliteDialect(() => dir.path));
}

/** Each scenario on a database of its own. */
function onPostgres(scenario: (dialect: Dialect) => void) {
  let db: TempDatabase;
  let sql: postgres.Sql;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql.end({ timeout: 1 });
    await db.drop();
  });
  scenario(
    postgresDialect(
      () => db.url,
      () => sql,
    ),
  );
}

describe("debate event log on SQLite", () => {
  describe("through the store", () => onSqlite(storeScenario));
  describe("migration", () => onSqlite(migrationScenario));
});

describe.skipIf(!(await postgresAvailable()))("debate event log on PostgreSQL", () => {
  describe("through the store", () => onPostgres(storeScenario));
  describe("migration", () => onPostgres(migrationScenario));
});
