import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import type { StoredEvent } from "./debate-store.ts";
import { chunkEvents, debateSpans, EventSeqConflict, readChunk, unstoredEvents } from "./event-chunks.ts";

const hashOf = (seq: number) => seq.toString(16).padStart(64, "0");

/** A stored event whose payload is an envelope made by JSON.stringify, as DebateLog makes them. */
function event(debateId: string, seq: number, data: unknown = { seq }, ts = 1_700_000_000_000 + seq): StoredEvent {
  const envelope = {
    type: "turn_end",
    debate_id: debateId,
    seq,
    ts: new Date(ts).toISOString(),
    round: seq % 3 === 0 ? null : 1,
    agent: seq % 2 === 0 ? null : "openai:gpt",
    data,
  };
  return {
    debateId,
    seq,
    type: envelope.type,
    round: envelope.round,
    agent: envelope.agent,
    ts,
    hash: hashOf(seq),
    payload: JSON.stringify(envelope),
  };
}

function readAll(events: StoredEvent[], sinceSeq = 0, limit = 1_000_000): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (const c of chunkEvents(events)) readChunk(out, c.debateId, c.firstSeq, c.hashes, c.events, sinceSeq, limit);
  return out;
}

describe("chunkEvents", () => {
  test("one chunk per debate, in the order each debate first appears, seqs and hashes in order", () => {
    const batch = [event("d-a", 4), event("d-b", 1), event("d-a", 5), event("d-b", 2), event("d-a", 6)];
    const chunks = chunkEvents(batch);
    expect(chunks.map((c) => [c.debateId, c.firstSeq, c.lastSeq, c.lastTs])).toEqual([
      ["d-a", 4, 6, (batch[4] as StoredEvent).ts],
      ["d-b", 1, 2, (batch[3] as StoredEvent).ts],
    ]);
    expect(chunks[0]?.hashes).toBe(hashOf(4) + hashOf(5) + hashOf(6));
    expect(chunks[0]?.events).toBe(`[${batch[0]?.payload},${batch[2]?.payload},${batch[4]?.payload}]`);
  });

  test("a gap in a debate's seqs starts another chunk; debateSpans gives each debate's whole range", () => {
    const chunks = chunkEvents([event("d-a", 1), event("d-a", 2), event("d-a", 5), event("d-b", 9)]);
    expect(chunks.map((c) => [c.debateId, c.firstSeq, c.lastSeq])).toEqual([
      ["d-a", 1, 2],
      ["d-a", 5, 5],
      ["d-b", 9, 9],
    ]);
    expect(debateSpans(chunks).map((s) => [s.debateId, s.firstSeq, s.lastSeq])).toEqual([
      ["d-a", 1, 5],
      ["d-b", 9, 9],
    ]);
  });

  test("a debate's events out of order in a batch are put in seq order; a seq twice is a conflict", () => {
    const chunks = chunkEvents([event("d-a", 4), event("d-b", 7), event("d-a", 2), event("d-a", 3), event("d-a", 6)]);
    expect(chunks.map((c) => [c.debateId, c.firstSeq, c.lastSeq])).toEqual([
      ["d-a", 2, 4],
      ["d-a", 6, 6],
      ["d-b", 7, 7],
    ]);
    expect(chunks[0]?.hashes).toBe(hashOf(2) + hashOf(3) + hashOf(4));
    expect(() => chunkEvents([event("d-a", 1), event("d-a", 2), event("d-a", 2)])).toThrow(EventSeqConflict);
    expect(() => chunkEvents([event("d-a", 3), event("d-a", 1), event("d-a", 3)])).toThrow(EventSeqConflict);
    expect(() => chunkEvents([{ ...event("d-a", 1), hash: "abc" }])).toThrow(/not 64/);
  });
});

describe("readChunk", () => {
  test("gives back every field of every event, payloads byte for byte", () => {
    const data = {
      text: 'quote " backslash \\ slash / tab \t newline \n nul \u0000 bell \u0007 del \u007f',
      unicode: "é ü 中文 العربية \u2028\u2029 \ufeff",
      emoji: "😀 👩‍👩‍👧 🇫🇷",
      lone: "\ud800 then \udfff",
      numbers: [0, -0, 1, -1, 0.1, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, 2 ** 53 + 2, 123.456],
      nested: { a: { b: { c: [null, true, false, {}, [], ""] } } },
      "10": "integer-like keys",
      "2": "come first in JSON.stringify's order",
      ["__proto__"]: { kept: "as an own key" },
    };
    const batch = [event("d-a", 1, data), event("d-a", 2, "plain"), event("d-a", 3, [data, data])];
    expect(batch[0]?.payload).toContain('"__proto__":{"kept"');
    expect(batch[0]?.payload).toContain("\\ud800");
    expect(readAll(batch)).toEqual(batch);
  });

  test("since_seq and limit cut inside a chunk", () => {
    const batch = Array.from({ length: 10 }, (_, i) => event("d-a", i + 1));
    expect(readAll(batch, 3, 4).map((e) => e.seq)).toEqual([4, 5, 6, 7]);
    expect(readAll(batch, 9).map((e) => e.seq)).toEqual([10]);
    expect(readAll(batch, 10)).toEqual([]);
    expect(readAll(batch, 0, 1)).toEqual([batch[0] as StoredEvent]);
    expect(readAll(batch, 4, 3)).toEqual(batch.slice(4, 7));
  });

  test("any JSON a payload can carry round-trips byte for byte (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ stringUnit: "binary" }), { minLength: 1, maxLength: 8 }), (values) => {
        const batch = values.map((v, i) => event("d-p", i + 1, v));
        expect(readAll(batch).map((e) => e.payload)).toEqual(batch.map((e) => e.payload));
      }),
      { numRuns: 300 },
    );
  });
});

describe("unstoredEvents", () => {
  const stored = (events: StoredEvent[]) =>
    chunkEvents(events).map((c) => ({ debate_id: c.debateId, first_seq: c.firstSeq, hashes: c.hashes }));

  test("drops each event stored with the same link, keeps the rest in order", () => {
    const log = [1, 2, 3, 4, 5].map((s) => event("d-a", s));
    const batch = [event("d-b", 1), ...log.slice(2), event("d-a", 6), event("d-b", 2)];
    expect(unstoredEvents(batch, stored(log.slice(0, 4)))).toEqual([
      event("d-b", 1),
      event("d-a", 5),
      event("d-a", 6),
      event("d-b", 2),
    ]);
    expect(unstoredEvents(log, stored(log))).toEqual([]);
    expect(unstoredEvents(log, [])).toBe(log);
  });

  test("a seq stored with another link is a conflict naming the debate and seq", () => {
    const rival = { ...event("d-a", 3), hash: "f".repeat(64) };
    expect(() => unstoredEvents([event("d-a", 2), rival], stored([1, 2, 3].map((s) => event("d-a", s))))).toThrow(
      new EventSeqConflict("debate d-a: seq 3 is already stored as another event"),
    );
  });
});
