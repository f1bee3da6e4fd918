/**
 * The debate store's queries, written once on the Repo (actors/debate/debate-store-sql.ts), answer
 * alike on SQLite and on PostgreSQL, through the DebateStore interface on a real store: a debate
 * read back whole (JSON columns parsed, times and the ELO flag typed), every read a client can reach
 * scoped by its organisation (a colleague reads a debate, another organisation does not), the list's
 * filters (a workspace among them) and its cursor paging, the legacy owner's debates adopted into
 * an organisation's workspace, the debates still running, each organisation's leaderboard and its
 * order, the usage rows of a time range, each organisation's cost cap, receipt pruning's count, and
 * the event outbox (the committed events webhooks act on, once each, with their organisation), and
 * the health probe, which writes (SQLite: a page)
 * and changes nothing a reader sees; and store health wraps every method (on a store opened
 * read-only: reads answer, writes are refused as 503 read_only and reported).
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import {
  type DebateRow,
  type DebateStore,
  LOCAL_OWNER,
  type Owner,
  openDebateStore,
  reportingHealth,
  type StoredEvent,
} from "../../actors/debate/debate-store.ts";
import type { DebateConfig } from "../../actors/debate/types.ts";
import { type Config, loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { StoreHealth, StoreUnavailableError } from "../../runtime/store/store-health.ts";
import { debateConfig } from "../debate/in-process-agents.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const ALICE: Owner = { userId: "alice", orgId: "acme", workspaceId: "w-acme" };
/** Alice's colleague, in another workspace of the organisation. */
const BOB: Owner = { userId: "bob", orgId: "acme", workspaceId: "w-acme-lab" };
/** Of another organisation. */
const MALLORY: Owner = { userId: "mallory", orgId: "umbrella", workspaceId: "w-umbrella" };
const T0 = 1_900_000_000_000;

/** Debates of acme (alice's, one of bob's) and one of umbrella's at known instants, some finished with receipts and ratings. */
async function seed(store: DebateStore): Promise<void> {
  const add = (id: string, owner: Owner, at: number, config: DebateConfig) =>
    store.create({ id, owner, question: `${id}?`, config, metadata: { tag: id }, createdAt: new Date(T0 + at) });
  await add("d-q1", ALICE, 1000, debateConfig({ agents: ["t:a", "t:b"] }));
  await add("d-q2", ALICE, 2000, debateConfig({ agents: ["t:b", "t:c"] }));
  // Two created in the same millisecond: the cursor orders them by id.
  await add("d-q3", ALICE, 3000, debateConfig({ agents: ["t:a", "t:c"] }));
  await add("d-q4", BOB, 3000, debateConfig({ agents: ["t:c", "t:d"] }));
  await add("d-q5", MALLORY, 4000, debateConfig({ agents: ["t:a", "t:b"] }));
  const finish = (id: string, at: number, winners: string[], losers: string[]) =>
    store.finish(id, {
      status: "completed",
      stopReason: "consensus",
      error: null,
      consensus: {
        method: "majority",
        reached: true,
        answer: "yes",
        winner: winners[0] ?? null,
        supporters: winners,
        support: 1,
        votes: [],
      },
      baseline: { answer: "yes", support: 1, answers: { "t:a": "yes" } },
      summary: null,
      finishedAt: new Date(T0 + at),
      elo: { winners, losers },
      receipt: { json: `{"receipt":"${id}"}`, at: new Date(T0 + at) },
    });
  expect(await finish("d-q1", 10_000, ["t:a"], ["t:b"])).toBe(true);
  expect(await finish("d-q2", 20_000, ["t:c"], ["t:b"])).toBe(true);
  expect(await finish("d-q5", 30_000, ["t:a"], ["t:b"])).toBe(true);
}

/** Every method of the store, named at compile time: a method added to DebateStore must be listed here. */
const METHODS = {
  create: true,
  get: true,
  byId: true,
  list: true,
  unfinished: true,
  appendEvents: true,
  events: true,
  finish: true,
  receipt: true,
  rankings: true,
  deleteReceiptsBefore: true,
  probeWrite: true,
  adoptLegacy: true,
  usage: true,
  costCap: true,
  setCostCap: true,
  outboxTake: true,
  outboxRemove: true,
  close: true,
} satisfies Record<keyof DebateStore, true>;

function queries(config: () => Config) {
  let core: Store;
  let store: DebateStore;
  beforeAll(async () => {
    core = await openStore(config(), quiet);
    store = await openDebateStore(core, config());
    await seed(store);
  });
  afterAll(async () => {
    await store?.close();
    await core?.close();
  });
  const ids = (rows: DebateRow[]) => rows.map((r) => r.id);

  test("a debate reads back whole, and only its organisation reads it", async () => {
    const row = await store.get("d-q1", "acme");
    expect(row).toMatchObject({
      id: "d-q1",
      owner: ALICE,
      question: "d-q1?",
      config: { agents: ["t:a", "t:b"], consensus: "majority" },
      metadata: { tag: "d-q1" },
      status: "completed",
      stopReason: "consensus",
      error: null,
      consensus: { reached: true, answer: "yes", winner: "t:a" },
      baseline: { answer: "yes", support: 1 },
      summary: null,
      eloApplied: true,
      createdAt: new Date(T0 + 1000),
      finishedAt: new Date(T0 + 10_000),
    });
    expect(row?.lastSeq).toBe(0);
    expect(await store.get("d-q1", MALLORY.orgId)).toBeNull();
    expect(await store.get("d-q1", "other")).toBeNull();
    expect(await store.get("d-none", "acme")).toBeNull();
    // A colleague's debate: the organisation's, its creator kept.
    expect((await store.get("d-q4", ALICE.orgId))?.owner).toEqual(BOB);
    const running = await store.byId("d-q3");
    expect(running).toMatchObject({ status: "running", eloApplied: false, finishedAt: null, consensus: null });
    expect(await store.byId("d-none")).toBeNull();
  });

  test("the list: newest first, the organisation's only, each filter, and a cursor that pages through ties", async () => {
    const all = { limit: 10 };
    expect(ids(await store.list("acme", all))).toEqual(["d-q4", "d-q3", "d-q2", "d-q1"]);
    expect(ids(await store.list("umbrella", all))).toEqual(["d-q5"]);
    expect(ids(await store.list("other", all))).toEqual([]);
    expect(ids(await store.list("acme", { ...all, status: "completed" }))).toEqual(["d-q2", "d-q1"]);
    expect(ids(await store.list("acme", { ...all, agent: "t:a" }))).toEqual(["d-q3", "d-q1"]);
    expect(ids(await store.list("acme", { ...all, agent: "t:b", status: "completed" }))).toEqual(["d-q2", "d-q1"]);
    expect(ids(await store.list("acme", { ...all, since: new Date(T0 + 2000) }))).toEqual(["d-q4", "d-q3", "d-q2"]);
    // A workspace: its organisation's debates in it only (another organisation's workspace id finds none).
    expect(ids(await store.list("acme", { ...all, workspaceId: "w-acme" }))).toEqual(["d-q3", "d-q2", "d-q1"]);
    expect(ids(await store.list("acme", { ...all, workspaceId: "w-acme-lab" }))).toEqual(["d-q4"]);
    expect(ids(await store.list("acme", { ...all, workspaceId: "w-umbrella" }))).toEqual([]);
    expect(ids(await store.list("acme", { ...all, workspaceId: "w-acme", status: "running" }))).toEqual(["d-q3"]);
    const pages: string[][] = [];
    let after: { createdAt: number; id: string } | undefined;
    for (;;) {
      const page = await store.list("acme", { limit: 1, ...(after ? { after } : {}) });
      if (page.length === 0) break;
      pages.push(ids(page));
      const last = page.at(-1) as DebateRow;
      after = { createdAt: last.createdAt.getTime(), id: last.id };
    }
    expect(pages).toEqual([["d-q4"], ["d-q3"], ["d-q2"], ["d-q1"]]);
  });

  test("the debates still running, of any owner", async () => {
    // Both created in the same millisecond: their order is not defined.
    expect(ids(await store.unfinished()).sort()).toEqual(["d-q3", "d-q4"]);
  });

  test("a receipt is its organisation's, and each organisation's leaderboard is its own, best first", async () => {
    expect(await store.receipt("d-q1", "acme")).toBe('{"receipt":"d-q1"}');
    expect(await store.receipt("d-q5", "acme")).toBeNull();
    expect(await store.receipt("d-q5", "umbrella")).toBe('{"receipt":"d-q5"}');
    expect(await store.receipt("d-q3", "acme")).toBeNull();
    const board = await store.rankings("acme");
    expect(board.map((r) => r.name)).toEqual(["t:a", "t:c", "t:b"]);
    // umbrella's debate (t:a beat t:b) counts on umbrella's board only.
    expect(board.find((r) => r.name === "t:b")).toMatchObject({ debates: 2, wins: 0, losses: 2 });
    expect(board.find((r) => r.name === "t:a")).toMatchObject({ debates: 1, wins: 1, losses: 0, elo: 1516 });
    const theirs = await store.rankings("umbrella");
    expect(theirs.map((r) => [r.name, r.debates, r.elo])).toEqual([
      ["t:a", 1, 1516],
      ["t:b", 1, 1484],
    ]);
    expect(await store.rankings("other")).toEqual([]);
    const elos = board.map((r) => r.elo);
    expect(elos).toEqual([...elos].sort((a, b) => b - a));
    expect(typeof elos[0]).toBe("number");
  });

  test("usage: the organisation's debates created in [from, to), oldest first, with their owners and summaries", async () => {
    const rows = await store.usage("acme", new Date(T0 + 2000), new Date(T0 + 3001));
    expect(rows.map((r) => [r.id, r.userId, r.status])).toEqual([
      ["d-q2", "alice", "completed"],
      ["d-q3", "alice", "running"],
      ["d-q4", "bob", "running"],
    ]);
    expect(rows[0]).toEqual({
      id: "d-q2",
      userId: "alice",
      status: "completed",
      createdAt: new Date(T0 + 2000),
      summary: null,
    });
    expect((await store.usage("acme", new Date(T0), new Date(T0 + 2000))).map((r) => r.id)).toEqual(["d-q1"]);
    expect((await store.usage("umbrella", new Date(T0), new Date(T0 + 10_000))).map((r) => r.id)).toEqual(["d-q5"]);
    expect(await store.usage("other", new Date(T0), new Date(T0 + 10_000))).toEqual([]);
  });

  test("cost caps: each organisation's own, replaced and removed", async () => {
    expect(await store.costCap("acme")).toBeNull();
    await store.setCostCap("acme", 12.5, "alice", new Date(T0));
    await store.setCostCap("umbrella", 3, "mallory", new Date(T0));
    expect(await store.costCap("acme")).toEqual({
      orgId: "acme",
      monthlyCostCapUsd: 12.5,
      updatedBy: "alice",
      updatedAt: new Date(T0),
    });
    await store.setCostCap("acme", 20.25, "bob", new Date(T0 + 1));
    expect(await store.costCap("acme")).toMatchObject({ monthlyCostCapUsd: 20.25, updatedBy: "bob" });
    await store.setCostCap("acme", null, "bob", new Date(T0 + 2));
    expect(await store.costCap("acme")).toBeNull();
    expect(await store.costCap("umbrella")).toMatchObject({ monthlyCostCapUsd: 3 });
  });

  test("the probe changes nothing a reader sees; on SQLite it still writes a page (a no-op commit would pass on a full disk)", async () => {
    const before = await store.list("acme", { limit: 10 });
    // data_version moves when another connection commits a change to the file.
    const watcher = core.sqlitePath === undefined ? undefined : new Database(core.sqlitePath, { readonly: true });
    const version = () => watcher?.query<{ data_version: number }, []>("PRAGMA data_version").get()?.data_version;
    try {
      const was = version();
      await store.probeWrite();
      if (watcher) expect(version()).not.toBe(was);
    } finally {
      watcher?.close();
    }
    expect(await store.list("acme", { limit: 10 })).toEqual(before);
  });

  test("store health wraps every method: on a store opened read-only, reads answer and writes are refused as read_only", async () => {
    const readOnly = await openStore(config(), quiet, { readOnly: true });
    const unwrapped = await openDebateStore(readOnly, config());
    const health = new StoreHealth("test");
    const wrapped = reportingHealth(unwrapped, health);
    try {
      const methods = Object.keys(METHODS).filter((m) => m !== "close") as (keyof DebateStore)[];
      expect(methods.filter((m) => wrapped[m] === unwrapped[m])).toEqual([]);
      expect((await wrapped.get("d-q1", "acme"))?.id).toBe("d-q1");
      const refused = await wrapped.probeWrite().catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(StoreUnavailableError);
      expect(refused).toMatchObject({ status: 503, part: "debates", reason: "read_only" });
      const pruning = await wrapped.deleteReceiptsBefore(new Date(T0 + 40_000)).catch((e: unknown) => e);
      expect(pruning).toMatchObject({ reason: "read_only" });
      expect(health.snapshot().failing.map((f) => [f.part, f.reason])).toEqual([["debates", "read_only"]]);
      expect(await store.receipt("d-q2", "acme")).toBe('{"receipt":"d-q2"}');
    } finally {
      health.stop();
      await wrapped.close();
      await readOnly.close();
    }
  });

  test("the legacy owner's debates move into the adopting organisation's workspace, once", async () => {
    await store.create({
      id: "d-legacy",
      owner: LOCAL_OWNER,
      question: "Old?",
      config: debateConfig({ agents: ["t:a", "t:b"] }),
      metadata: {},
      createdAt: new Date(T0 + 5000),
    });
    expect(await store.get("d-legacy", "initech")).toBeNull();
    expect(await store.adoptLegacy({ orgId: "initech", workspaceId: "w-initech" })).toBe(1);
    expect((await store.get("d-legacy", "initech"))?.owner).toEqual({
      userId: "local",
      orgId: "initech",
      workspaceId: "w-initech",
    });
    expect(ids(await store.list("initech", { limit: 10, workspaceId: "w-initech" }))).toEqual(["d-legacy"]);
    expect(await store.adoptLegacy({ orgId: "acme", workspaceId: "w-acme" })).toBe(0);
    expect(ids(await store.list("acme", { limit: 10, workspaceId: "w-acme" }))).toEqual(["d-q3", "d-q2", "d-q1"]);
  });

  test("receipt pruning deletes the receipts created before the cutoff and counts them", async () => {
    expect(await store.deleteReceiptsBefore(new Date(T0 + 20_000))).toBe(1);
    expect(await store.receipt("d-q1", "acme")).toBeNull();
    expect(await store.receipt("d-q2", "acme")).toBe('{"receipt":"d-q2"}');
    expect(await store.deleteReceiptsBefore(new Date(T0 + 20_000))).toBe(0);
    expect(await store.deleteReceiptsBefore(new Date(T0 + 40_000))).toBe(2);
  });

  test("the event outbox holds the committed events of its types, once each, with their organisation, until removed", async () => {
    const event = (debateId: string, seq: number, type: string): StoredEvent => ({
      debateId,
      seq,
      type,
      round: null,
      agent: null,
      ts: T0 + seq,
      hash: String(seq % 10).repeat(64),
      payload: JSON.stringify({ type, debate_id: debateId, seq }),
    });
    const batch = [
      event("d-q3", 1, "debate_start"),
      event("d-q3", 2, "token"),
      event("d-q3", 3, "consensus"),
      event("d-q5", 1, "debate_start"),
      event("d-q5", 2, "turn_end"),
    ];
    await store.appendEvents(batch);
    // A batch written again (its acknowledgement lost) stores nothing twice.
    await store.appendEvents(batch);
    const rows = await store.outboxTake(10);
    expect(rows.map((r) => [r.debateId, r.seq, r.type, r.orgId])).toEqual([
      ["d-q3", 1, "debate_start", "acme"],
      ["d-q3", 3, "consensus", "acme"],
      ["d-q5", 1, "debate_start", "umbrella"],
    ]);
    expect(rows[1]?.payload).toBe((batch[2] as StoredEvent).payload);
    expect((await store.outboxTake(1)).length).toBe(1);
    await store.outboxRemove(rows.slice(0, 2));
    expect((await store.outboxTake(10)).map((r) => [r.debateId, r.seq])).toEqual([["d-q5", 1]]);
    await store.outboxRemove(rows);
    expect(await store.outboxTake(10)).toEqual([]);
  });
}

describe("the debate store's queries on SQLite", () => {
  const dir = tempDataDir();
  afterAll(() => dir.remove());
  queries(() => loadConfig({ ARAGORA_DATA_DIR: dir.path }));
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("the debate store's queries on PostgreSQL", () => {
  let db: TempDatabase;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
  });
  afterAll(() => db.drop());
  queries(() => loadConfig({ DATABASE_URL: db.url }));
});
