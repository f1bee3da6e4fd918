import { describe, expect, test } from "bun:test";
import { LruMap } from "./lru-map.ts";

const keys = (m: LruMap<number>) => [...m.entries()].map(([k]) => k);

describe("LruMap", () => {
  test("entries run oldest first; set and touch make an entry the newest", () => {
    const m = new LruMap<number>();
    m.set("a", 1);
    m.set("b", 2);
    m.set("c", 3);
    expect(keys(m)).toEqual(["a", "b", "c"]);
    m.touch("a");
    expect(keys(m)).toEqual(["b", "c", "a"]);
    m.set("b", 20);
    expect(keys(m)).toEqual(["c", "a", "b"]);
    expect(m.get("b")).toBe(20);
    expect(m.oldest()).toEqual(["c", 3]);
    m.touch("b");
    m.touch("missing");
    expect(keys(m)).toEqual(["c", "a", "b"]);
  });

  test("get does not change recency", () => {
    const m = new LruMap<number>();
    m.set("a", 1);
    m.set("b", 2);
    m.get("a");
    expect(m.oldest()).toEqual(["a", 1]);
  });

  test("delete relinks the neighbours wherever the entry sits", () => {
    const m = new LruMap<number>();
    for (const [i, k] of ["a", "b", "c", "d"].entries()) m.set(k, i);
    expect(m.delete("b")).toBe(true);
    expect(keys(m)).toEqual(["a", "c", "d"]);
    m.delete("a");
    expect(m.oldest()).toEqual(["c", 2]);
    m.delete("d");
    expect(keys(m)).toEqual(["c"]);
    m.delete("c");
    expect(m.oldest()).toBeUndefined();
    expect(m.size).toBe(0);
    expect(m.delete("c")).toBe(false);
    m.set("e", 5);
    expect(keys(m)).toEqual(["e"]);
  });

  test("under churn the order stays a consistent list (checked against a reference)", () => {
    const m = new LruMap<number>();
    let reference: string[] = [];
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let i = 0; i < 5000; i++) {
      const k = `k${rand(50)}`;
      const op = rand(3);
      if (op === 0) {
        m.set(k, i);
        reference = [...reference.filter((x) => x !== k), k];
      } else if (op === 1) {
        m.touch(k);
        if (reference.includes(k)) reference = [...reference.filter((x) => x !== k), k];
      } else {
        m.delete(k);
        reference = reference.filter((x) => x !== k);
      }
    }
    expect(keys(m)).toEqual(reference);
    expect(m.size).toBe(reference.length);
  });
});
