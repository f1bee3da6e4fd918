import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { type ChainLink, chainEntry, chainHash, GENESIS_HASH, verifyChain } from "./audit-chain.ts";

interface Entry {
  seq: number;
  at: string;
  actor: string;
  action: string;
  detail?: Record<string, unknown>;
}

function build(n: number): ChainLink<Entry>[] {
  const links: ChainLink<Entry>[] = [];
  for (let seq = 1; seq <= n; seq++) {
    const entry = {
      seq,
      at: `2030-01-01T00:00:${String(seq).padStart(2, "0")}Z`,
      actor: "acc_1",
      action: "key.created",
    };
    links.push(chainEntry(links.at(-1)?.hash ?? GENESIS_HASH, entry));
  }
  return links;
}

const forged = (prevHash: string): ChainLink<Entry> =>
  chainEntry(prevHash, { seq: 99, at: "2030-01-01T00:00:00Z", actor: "acc_evil", action: "member.role_changed" });

describe("chainEntry", () => {
  test("hash = SHA-256 hex of prevHash + canonical JSON of the entry", () => {
    const link = chainEntry(GENESIS_HASH, { b: [1, "x"], a: null });
    const expected = createHash("sha256").update(`${GENESIS_HASH}{"a":null,"b":[1,"x"]}`).digest("hex");
    expect(link).toEqual({ prevHash: GENESIS_HASH, hash: expected, entry: { b: [1, "x"], a: null } });
  });

  test("key order does not change the hash (a JSON column may reorder keys)", () => {
    expect(chainHash(GENESIS_HASH, { a: 1, b: { c: 2, d: 3 } })).toBe(
      chainHash(GENESIS_HASH, { b: { d: 3, c: 2 }, a: 1 }),
    );
  });

  test("refuses a malformed prevHash and an entry that is not JSON", () => {
    expect(() => chainEntry("abc", {})).toThrow(/64 lower-case hex/);
    expect(() => chainEntry(GENESIS_HASH.toUpperCase().replace(/0/g, "A"), {})).toThrow(/prevHash/);
    expect(() => chainEntry(GENESIS_HASH, undefined)).toThrow(/JSON value/);
    expect(() => chainEntry(GENESIS_HASH, { n: Number.NaN })).toThrow();
  });
});

describe("verifyChain", () => {
  test("an intact chain verifies and reports its head; so does an empty one", () => {
    const links = build(10);
    expect(verifyChain(links)).toEqual({ ok: true, head: (links[9] as ChainLink).hash });
    expect(verifyChain([])).toEqual({ ok: true, head: GENESIS_HASH });
  });

  test("an edited entry is detected at its index", () => {
    const links = build(10);
    const target = links[4] as ChainLink<Entry>;
    links[4] = { ...target, entry: { ...target.entry, actor: "acc_2" } };
    expect(verifyChain(links)).toEqual({ ok: false, index: 4, reason: "edited" });
  });

  test("an edited hash or prevHash is detected", () => {
    const links = build(5);
    links[2] = { ...(links[2] as ChainLink<Entry>), hash: "f".repeat(64) };
    expect(verifyChain(links)).toEqual({ ok: false, index: 2, reason: "edited" });
  });

  test("a removed entry is detected where the gap is", () => {
    const links = build(10);
    links.splice(4, 1);
    expect(verifyChain(links)).toEqual({ ok: false, index: 4, reason: "removed" });
    const headless = build(10).slice(1);
    expect(verifyChain(headless)).toEqual({ ok: false, index: 0, reason: "removed" });
  });

  test("an inserted entry is detected, whether it claims its neighbour as predecessor or not", () => {
    const links = build(10);
    links.splice(4, 0, forged((links[3] as ChainLink).hash));
    expect(verifyChain(links)).toEqual({ ok: false, index: 4, reason: "inserted" });
    const other = build(10);
    other.splice(4, 0, forged("a".repeat(64)));
    expect(verifyChain(other)).toEqual({ ok: false, index: 4, reason: "inserted" });
    const atFront = build(3);
    atFront.unshift(forged("b".repeat(64)));
    expect(verifyChain(atFront)).toEqual({ ok: false, index: 0, reason: "inserted" });
  });

  test("two swapped entries are detected as reordered", () => {
    const links = build(10);
    [links[3], links[4]] = [links[4] as ChainLink<Entry>, links[3] as ChainLink<Entry>];
    expect(verifyChain(links)).toEqual({ ok: false, index: 3, reason: "reordered" });
  });

  test("an entry replaced by a re-hashed forgery shows at the next entry, whose predecessor is gone", () => {
    const links = build(10);
    links[4] = forged((links[3] as ChainLink).hash);
    expect(verifyChain(links)).toEqual({ ok: false, index: 5, reason: "removed" });
  });

  test("a window verifies from the hash before it", () => {
    const links = build(10);
    expect(verifyChain(links.slice(5), { start: (links[4] as ChainLink).hash }).ok).toBe(true);
    expect(verifyChain(links.slice(5))).toEqual({ ok: false, index: 0, reason: "removed" });
  });

  test("cutting off the newest entries is caught only against a head recorded elsewhere", () => {
    const links = build(10);
    const checkpoint = (links[7] as ChainLink).hash;
    const cut = links.slice(0, 6);
    expect(verifyChain(cut).ok).toBe(true);
    expect(verifyChain(cut, { knownHead: checkpoint })).toEqual({ ok: false, index: 6, reason: "truncated" });
    expect(verifyChain(links, { knownHead: checkpoint }).ok).toBe(true);
    expect(verifyChain([], { knownHead: GENESIS_HASH }).ok).toBe(true);
  });

  test("a stored entry that no longer parses as JSON counts as edited, not a crash", () => {
    const links: ChainLink[] = build(3);
    links[1] = { ...(links[1] as ChainLink), entry: { bad: Number.NaN } };
    expect(verifyChain(links)).toEqual({ ok: false, index: 1, reason: "edited" });
  });
});
