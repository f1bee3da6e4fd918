import { describe, expect, test } from "bun:test";
import { DueQueue } from "./due-queue.ts";

type Item = { id: string; dueAt: number };

/** Takes everything due by `now`, soonest first, as the endpoint actor's pump does. */
function takeDue(q: DueQueue<Item>, now: number): string[] {
  const out: string[] = [];
  for (let d = q.peek(); d !== undefined && d.dueAt <= now; d = q.peek()) {
    out.push(d.id);
    q.delete(d.id);
  }
  return out;
}

describe("DueQueue", () => {
  test("soonest due first, then by id; what is not due stays", () => {
    const q = new DueQueue<Item>();
    for (const [id, dueAt] of [
      ["c", 30],
      ["b", 10],
      ["a", 10],
      ["d", 99],
    ] as const)
      q.set({ id, dueAt });
    expect(takeDue(q, 50)).toEqual(["a", "b", "c"]);
    expect(q.size).toBe(1);
    expect(q.peek()).toEqual({ id: "d", dueAt: 99 });
  });

  test("a replaced or deleted item is never taken at its old time", () => {
    const q = new DueQueue<Item>();
    q.set({ id: "a", dueAt: 1 });
    q.set({ id: "b", dueAt: 2 });
    q.set({ id: "a", dueAt: 50 }); // a retry: due later
    q.delete("b");
    expect(takeDue(q, 10)).toEqual([]);
    expect(q.peek()?.dueAt).toBe(50);
    expect(takeDue(q, 50)).toEqual(["a"]);
    expect(q.peek()).toBeUndefined();
  });

  test("matches a full sort over many replacements (stale entries are compacted)", () => {
    const q = new DueQueue<Item>();
    const truth = new Map<string, number>();
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 5000; i++) {
      const id = `k${rnd() % 300}`;
      const dueAt = rnd() % 1000;
      q.set({ id, dueAt });
      truth.set(id, dueAt);
      if (i % 7 === 0) {
        const gone = `k${rnd() % 300}`;
        q.delete(gone);
        truth.delete(gone);
      }
    }
    const expected = [...truth.entries()].sort(([ia, a], [ib, b]) => a - b || (ia < ib ? -1 : 1)).map(([id]) => id);
    expect(q.size).toBe(truth.size);
    expect(takeDue(q, 1000)).toEqual(expected);
  });
});
