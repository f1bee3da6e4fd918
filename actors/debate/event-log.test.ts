import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../runtime/log.ts";
import type { DebateStore, StoredEvent } from "./debate-store.ts";
import { EventSeqConflict } from "./event-chunks.ts";
import { chainLink, DebateLog, EventWriter, GENESIS_HASH } from "./event-log.ts";
import { chainOfRows, issueReceipt, loadOrCreateReceiptKey, receiptJson, verifyReceipt } from "./receipt.ts";
import type { EventType } from "./types.ts";

const log = createLogger("ERROR");

type LooseEmit = (type: EventType, round: number | null, agent: string | null, data: object) => void;
/** The log's mechanics (seq, chain, coalescing, batching) do not depend on what an event says: these tests emit partial data. */
const loose = (l: DebateLog) =>
  l as Omit<DebateLog, "emit" | "record"> & {
    emit: LooseEmit;
    record: (type: EventType, round: number | null, agent: string | null, data: object) => StoredEvent;
  };

/** A store whose appends take `delayMs` and are recorded. */
function recordingStore(delayMs = 0) {
  const rows: StoredEvent[] = [];
  const store = {
    async appendEvents(events: StoredEvent[]) {
      if (delayMs) await Bun.sleep(delayMs);
      rows.push(...events);
    },
  } as unknown as DebateStore;
  return { rows, store };
}

describe("DebateLog", () => {
  test("its chain equals the chain of the stored rows, across a resume, and a receipt from it verifies", async () => {
    const { rows, store } = recordingStore();
    const writer = new EventWriter({ store, log, publish: () => {} });
    const first = loose(new DebateLog("d-c", writer, { seq: 0, hash: GENESIS_HASH }));
    first.emit("debate_start", null, null, { question: "Q?" });
    first.emit("token", 0, "a", { phase: "proposal", text: 'he said "hi"' });
    first.emit("turn_end", 0, "a", { phase: "proposal", text: "hi" });
    await writer.flush();
    // A restart: the next incarnation seeds its chain from the stored rows.
    const resumed = loose(
      new DebateLog("d-c", writer, {
        seq: first.lastSeq,
        hash: first.lastHash,
        chain: chainOfRows(rows),
      }),
    );
    resumed.emit("debate_end", null, null, { status: "completed" });
    await writer.flush();

    expect(resumed.chain).toEqual(chainOfRows(rows.map(({ hash: _, ...r }) => r)));
    expect(resumed.chain.map((e) => e.seq)).toEqual([1, 2, 3, 4]);

    const dir = mkdtempSync(join(tmpdir(), "aragora-chain-"));
    try {
      const key = loadOrCreateReceiptKey(dir);
      const input = {
        debateId: "d-c",
        question: "Q?",
        configuration: { rounds: 1 },
        participants: ["a"],
        consensus: null,
        baseline: null,
        outcome: { status: "completed", stop_reason: "completed" },
        issuedAt: new Date(0),
      };
      const doc = issueReceipt({ ...input, chain: resumed.chain }, key);
      // The same receipt body as one built from the log's rows, hashed afresh.
      expect(doc.receipt).toEqual(issueReceipt({ ...input, events: rows }, key).receipt);
      const stored = JSON.parse(receiptJson(doc));
      expect(stored).toEqual(JSON.parse(JSON.stringify(doc)));
      expect(
        verifyReceipt({ ...stored, events: rows.map((r) => JSON.parse(r.payload)) }, key.publicKeyPem),
      ).toMatchObject({
        ok: true,
        events: 4,
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a turn's deltas before the next batch become one token event, sealed before the turn's next event", async () => {
    const { rows, store } = recordingStore();
    const published: number[] = [];
    const writer = new EventWriter({ store, log, publish: (_id, seq) => published.push(seq) });
    const events = loose(new DebateLog("d-1", writer, { seq: 0, hash: GENESIS_HASH }));
    events.emit("turn_start", 0, "a", { phase: "proposal" });
    events.emit("turn_start", 0, "b", { phase: "proposal" });
    for (const d of ["Hel", "lo ", "wor"]) events.emit("token", 0, "a", { phase: "proposal", text: d });
    events.emit("token", 0, "b", { phase: "proposal", text: "Hi" });
    events.emit("token", 0, "a", { phase: "proposal", text: "ld" });
    events.emit("turn_end", 0, "a", { phase: "proposal", text: "Hello world" });
    await writer.flush();

    const payloads = rows.map((r) => JSON.parse(r.payload));
    expect(payloads.map((e) => [e.seq, e.type, e.agent, e.data.text ?? null])).toEqual([
      [1, "turn_start", "a", null],
      [2, "turn_start", "b", null],
      [3, "token", "a", "Hello world"],
      [4, "token", "b", "Hi"],
      [5, "turn_end", "a", "Hello world"],
    ]);
    expect(published).toEqual([1, 2, 3, 4, 5]);
    // The chain covers the sealed events exactly as stored and published.
    let head = GENESIS_HASH;
    for (const r of rows) head = chainLink(head, r.payload).hash;
    expect(head).toBe(events.lastHash);
  });

  test("deltas held when the writer takes its next batch are sealed into it", async () => {
    const { rows, store } = recordingStore();
    const writer = new EventWriter({ store, log, publish: () => {}, flushMs: 1 });
    const events = loose(new DebateLog("d-2", writer, { seq: 0, hash: GENESIS_HASH }));
    events.emit("token", 1, "a", { phase: "critique", text: "one " });
    events.emit("token", 1, "a", { phase: "critique", text: "two" });
    while (rows.length === 0) await Bun.sleep(1);
    events.emit("token", 1, "a", { phase: "critique", text: " three" });
    await writer.flush();
    expect(rows.map((r) => JSON.parse(r.payload).data.text)).toEqual(["one two", " three"]);
  });
});

describe("EventWriter.flush", () => {
  test("resolves once its own events are committed, without waiting for events appended later", async () => {
    const { rows, store } = recordingStore(5);
    const writer = new EventWriter({ store, log, publish: () => {} });
    const a = loose(new DebateLog("d-a", writer, { seq: 0, hash: GENESIS_HASH }));
    const b = loose(new DebateLog("d-b", writer, { seq: 0, hash: GENESIS_HASH }));
    a.emit("debate_start", null, null, {});
    const flushed = writer.flush().then(() => rows.length);
    // Another debate keeps appending while the first batch commits.
    const busy = setInterval(() => b.emit("round_start", 0, null, {}), 1);
    const committedWhenResolved = await flushed;
    clearInterval(busy);
    await writer.flush();
    expect(committedWhenResolved).toBeGreaterThanOrEqual(1);
    expect(committedWhenResolved).toBeLessThan(rows.length);
    expect(rows[0]?.debateId).toBe("d-a");
  });
});

describe("EventWriter batches", () => {
  test("one batch is in flight at a time, also when a batch starts by sealing held token deltas", async () => {
    let inFlight = 0;
    let most = 0;
    const store = {
      async appendEvents() {
        inFlight++;
        most = Math.max(most, inFlight);
        await Bun.sleep(20);
        inFlight--;
      },
    } as unknown as DebateStore;
    const published: number[] = [];
    const writer = new EventWriter({ store, log, publish: (_id, seq) => published.push(seq) });
    const events = loose(new DebateLog("d-1", writer, { seq: 0, hash: GENESIS_HASH }));
    events.emit("token", 1, "a", { phase: "proposal", text: "x" });
    await Bun.sleep(5);
    // The first batch (its seal made it) is committing: these must wait for the next one.
    events.emit("token", 1, "a", { phase: "proposal", text: "y" });
    events.emit("turn_end", 1, "a", { phase: "proposal", text: "xy" });
    await Bun.sleep(60);
    await writer.flush();
    expect(most).toBe(1);
    expect(published).toEqual([1, 2, 3]);
  });
});

describe("DebateLog.record", () => {
  test("seals the next event into the chain without queueing it, and refuses while token deltas are held", async () => {
    const { rows, store } = recordingStore();
    const writer = new EventWriter({ store, log, publish: () => {} });
    const events = loose(new DebateLog("d-r", writer, { seq: 0, hash: GENESIS_HASH }));
    events.emit("debate_start", null, null, { question: "Q?" });
    events.emit("token", 0, "a", { phase: "proposal", text: "x" });
    expect(() => events.record("debate_end", null, null, {})).toThrow(/token deltas still held/);
    await writer.flush();
    const last = events.record("receipt_generated", null, null, { head: "h" });
    await writer.flush();
    expect(rows.map((r) => r.seq)).toEqual([1, 2]);
    expect(last.seq).toBe(3);
    expect(last.hash).toBe(chainLink(events.chain[1]?.hash as string, last.payload).hash);
    expect(events.chain.map((e) => e.seq)).toEqual([1, 2, 3]);
  });
});

describe("EventWriter fences a debate whose log another process writes", () => {
  test("the conflicting debate's events stop being written; every other debate's go on, in order", async () => {
    const stored: StoredEvent[] = [];
    let conflicts = 0;
    // Another process has already stored seq 2 of d-bad as another event.
    const store = {
      async appendEvents(events: StoredEvent[]) {
        const bad = events.find((e) => e.debateId === "d-bad" && e.seq >= 2);
        if (bad) {
          conflicts++;
          throw new EventSeqConflict(`debate d-bad: seq ${bad.seq} is already stored as another event`, "d-bad");
        }
        stored.push(...events);
      },
    } as unknown as DebateStore;
    const published: string[] = [];
    const fenced: string[] = [];
    const writer = new EventWriter({
      store,
      log,
      publish: (id, seq) => published.push(`${id}:${seq}`),
      onConflict: (id) => fenced.push(id),
    });
    const good = loose(new DebateLog("d-good", writer, { seq: 0, hash: GENESIS_HASH }));
    const bad = loose(new DebateLog("d-bad", writer, { seq: 0, hash: GENESIS_HASH }));
    bad.emit("debate_start", null, null, {});
    await writer.flush();
    for (let i = 0; i < 3; i++) {
      good.emit("round_start", i, null, {});
      bad.emit("round_start", i, null, {});
    }
    // Resolves although d-bad's events were never stored: the writer did not stall on them.
    await writer.flush();
    good.emit("debate_end", null, null, {});
    bad.emit("debate_end", null, null, {});
    await writer.flush();

    expect(fenced).toEqual(["d-bad"]);
    expect(conflicts).toBe(1);
    expect(published).toEqual(["d-bad:1", "d-good:1", "d-good:2", "d-good:3", "d-good:4"]);
    expect(stored.map((e) => `${e.debateId}:${e.seq}`)).toEqual(published);
  });
});
