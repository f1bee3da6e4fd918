/**
 * A tamper-evident audit log: each entry's hash covers the previous entry's hash and the entry's
 * canonical JSON (RFC 8785, via `canonicalize`), so editing, removing, inserting or reordering any
 * stored entry breaks the chain at that point. Canonical JSON makes the hash independent of key
 * order, which a database's JSON column may not keep.
 *
 * The chain proves the log is consistent with itself; it cannot tell that the newest entries were
 * cut off, or that the whole log was rebuilt, unless a hash recorded elsewhere (a checkpoint) is
 * given as `knownHead`. Appends must be serialised by the caller (one writer, or a transaction
 * that reads the last hash and inserts), or two entries will claim the same predecessor.
 */
import { createHash } from "node:crypto";
import canonicalize from "canonicalize";

/**
 * The `prevHash` of the first entry of a log.
 *
 * @example
 * const first = chainEntry(GENESIS_HASH, { action: "org.created", actor: "acc_1" });
 */
export const GENESIS_HASH = "0".repeat(64);

/** One stored entry with its place in the chain. */
export interface ChainLink<T = unknown> {
  prevHash: string;
  hash: string;
  entry: T;
}

/** Where and how a chain is broken. */
export type ChainBreak =
  /** The entry no longer matches its own hash. */
  | "edited"
  /** The entry that should come before this one is not in the chain (removed, or replaced by a re-hashed forgery). */
  | "removed"
  /** This entry does not belong between its neighbours. */
  | "inserted"
  /** This entry's predecessor appears later in the chain. */
  | "reordered"
  /** The chain does not contain the `knownHead` recorded earlier: entries were cut off or the log rebuilt. */
  | "truncated";

/** The outcome of {@link verifyChain}: the hash of the last entry, or the first break. */
export type ChainVerdict = { ok: true; head: string } | { ok: false; index: number; reason: ChainBreak };

const HEX_HASH = /^[0-9a-f]{64}$/;

/**
 * The hash of `entry` following `prevHash`: SHA-256 (hex) of `prevHash` + the entry's canonical JSON.
 *
 * @example
 * chainHash(GENESIS_HASH, { b: 1, a: 2 }) === chainHash(GENESIS_HASH, { a: 2, b: 1 }); // true
 */
export function chainHash(prevHash: string, entry: unknown): string {
  const json = canonicalize(entry);
  if (json === undefined) throw new TypeError("audit entry must be a JSON value");
  return createHash("sha256").update(prevHash).update(json).digest("hex");
}

/**
 * The link to store for `entry` after the entry whose hash is `prevHash` ({@link GENESIS_HASH} for
 * the first). `entry` must be plain JSON as it will be read back (ISO strings, not Dates), since
 * what is verified later is what was stored.
 *
 * @example
 * const link = chainEntry(last?.hash ?? GENESIS_HASH, { at: "2030-01-01T00:00:00Z", actor: "acc_1", action: "key.created" });
 * await db.audit.insert({ prev_hash: link.prevHash, hash: link.hash, ...link.entry });
 */
export function chainEntry<T>(prevHash: string, entry: T): ChainLink<T> {
  if (!HEX_HASH.test(prevHash)) throw new TypeError("prevHash must be 64 lower-case hex characters");
  return { prevHash, hash: chainHash(prevHash, entry), entry };
}

function recomputes(link: ChainLink): boolean {
  try {
    return chainHash(link.prevHash, link.entry) === link.hash;
  } catch {
    return false;
  }
}

/**
 * Checks `links` in order and reports the first break. `start` is the hash the first link must
 * follow (default {@link GENESIS_HASH}; pass the hash of the entry before a window to verify only
 * the window). `knownHead`, a hash recorded earlier outside the log, must appear in the chain.
 *
 * @example
 * const verdict = verifyChain(rows.map((r) => ({ prevHash: r.prev_hash, hash: r.hash, entry: entryOf(r) })));
 * if (!verdict.ok) log.error({ index: verdict.index, reason: verdict.reason }, "audit chain broken");
 */
export function verifyChain(
  links: readonly ChainLink[],
  options: { start?: string; knownHead?: string } = {},
): ChainVerdict {
  const start = options.start ?? GENESIS_HASH;
  const position = new Map<string, number>(links.map((link, i) => [link.hash, i]));

  for (let i = 0; i < links.length; i++) {
    const link = links[i] as ChainLink;
    if (!recomputes(link)) return { ok: false, index: i, reason: "edited" };
    const expected = i === 0 ? start : (links[i - 1] as ChainLink).hash;
    if (link.prevHash === expected) continue;
    const found = position.get(link.prevHash);
    if (found !== undefined && found > i) return { ok: false, index: i, reason: "reordered" };
    // The predecessor sits further back: everything after it up to here was put in.
    if (found !== undefined && found < i - 1) return { ok: false, index: found + 1, reason: "inserted" };
    // This link claims some unknown predecessor, yet the next one follows the previous link: this one was put in.
    if (links[i + 1]?.prevHash === expected) return { ok: false, index: i, reason: "inserted" };
    return { ok: false, index: i, reason: "removed" };
  }

  const head = links.at(-1)?.hash ?? start;
  if (options.knownHead !== undefined && options.knownHead !== start && !position.has(options.knownHead)) {
    return { ok: false, index: links.length, reason: "truncated" };
  }
  return { ok: true, head };
}
