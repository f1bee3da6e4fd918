/**
 * The operator's check of the stored debates (`aragora verify`, the `debates.verify` playbook
 * action): for every debate, the event log against its own hash chain (each payload's digest and
 * the stored link), the record against its signed receipt (question, configuration, participants,
 * consensus, baseline, outcome), the receipt's chain head and length against the log, and the
 * receipt's signature against the trusted keys. Each difference is named: the debate, and the field
 * or the event (seq and type). A debate is read in one short read transaction and the debates are
 * paged, so a live server is never held up and memory holds one debate at a time.
 *
 * @example
 * const store = await openStore(config, log, { readOnly: true });
 * const source = await openDebateSnapshots(store);
 * const summary = await verifyDebates(source, { keys: trustedKeys(config.dataDir, []), retentionDays: 2555 }, {
 *   difference: (d) => console.log(`${d.debateId}: ${d.what}: ${d.detail}`),
 * });
 * await source.close();
 * await store.close();
 * summary.differences; // 0 when every stored debate matches its chain and its receipt
 */
import { createPrivateKey, createPublicKey, verify } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { StoredEvent } from "./debate-store.ts";
import { HASH_LENGTH, readChunk } from "./event-chunks.ts";
import { GENESIS_HASH, sha256Hex } from "./event-log.ts";
import { canonical, keyIdOf, RECEIPT_FIELDS, RECEIPT_KEY_FILE, receiptDocument } from "./receipt.ts";

/** One debate as stored, read in one transaction: the columns as they are, nothing parsed. */
export interface StoredDebate {
  id: string;
  question: string;
  /** JSON text of the configuration (`debates.config`). */
  config: string;
  status: string;
  stopReason: string | null;
  consensus: string | null;
  baseline: string | null;
  lastSeq: number;
  /** Epoch ms, or null while running. */
  finishedAt: number | null;
  /** `debate_participants`, in seat order. */
  participants: string[];
  chunks: { firstSeq: number; lastSeq: number; hashes: string; events: string }[];
  /** The stored receipt document, or null. */
  receipt: string | null;
}

/** Where the stored debates are read from (SQLite or PostgreSQL: see debate-snapshots.ts). */
export interface DebateSnapshots {
  /** Debate ids after `after` (in id order), at most `limit`. */
  ids(after: string, limit: number): Promise<string[]>;
  /** One debate, read in one transaction; null when it is gone. */
  debate(id: string): Promise<StoredDebate | null>;
  /** Receipts and event chunks whose debate record is missing. */
  orphans(): Promise<{ debateId: string; table: "debate_receipts" | "debate_event_chunks" }[]>;
  close(): Promise<void>;
}

export interface Difference {
  debateId: string;
  /** The field, the event (`event seq 12 (turn_end)`) or the part of the receipt that differs. */
  what: string;
  detail: string;
}

export interface VerifyOptions {
  /** Public keys (PEM) receipts may be signed with, by key id. */
  keys: ReadonlyMap<string, string>;
  /** A finished debate older than this has no receipt by design (receipt retention). */
  retentionDays: number;
  now?: Date;
  /** Debates read per page of ids. */
  pageSize?: number;
}

export interface VerifySummary {
  debates: number;
  events: number;
  receipts: number;
  /** Finished debates whose receipt the retention schedule has deleted. */
  receiptsExpired: number;
  differences: number;
  /** Debates with at least one difference. */
  debatesDiffering: number;
}

/** At most this many differences are named per debate; the rest are counted in one more line. */
export const DIFFERENCES_PER_DEBATE = 20;

/**
 * The keys a receipt may be signed with: this data dir's signing key (its public half) and the
 * PEM files named, each by its key id. Nothing is created: a data dir without a key has none.
 *
 * @example trustedKeys(".nomic", ["other-node.pem"]).size // 2
 */
export function trustedKeys(dataDir: string, publicKeyFiles: readonly string[]): Map<string, string> {
  const keys = new Map<string, string>();
  const own = join(dataDir, RECEIPT_KEY_FILE);
  if (existsSync(own)) {
    const pem = createPublicKey(createPrivateKey(readFileSync(own, "utf8"))).export({
      type: "spki",
      format: "pem",
    }) as string;
    keys.set(keyIdOf(pem), pem);
  }
  for (const file of publicKeyFiles) {
    const text = readFileSync(file, "utf8");
    // A PEM file, or the JSON of GET /api/receipts/public-key.
    const pem = text.trimStart().startsWith("{")
      ? String((JSON.parse(text) as { public_key?: unknown }).public_key)
      : text;
    const normal = createPublicKey(pem).export({ type: "spki", format: "pem" }) as string;
    keys.set(keyIdOf(normal), normal);
  }
  return keys;
}

const quote = (s: string, max = 80) => JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);

/** Where two texts first differ, with a little of each around it. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - 20);
  const cut = (s: string) => `${from > 0 ? "…" : ""}${s.slice(from, i + 40)}${s.length > i + 40 ? "…" : ""}`;
  return `at character ${i}: ${JSON.stringify(cut(a))} vs ${JSON.stringify(cut(b))}`;
}

const parsed = (text: string | null): { ok: true; value: unknown } | { ok: false } => {
  if (text === null) return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The log's events in seq order, each checked against the chain: every payload must hash, with
 * the stored link before it, to its own stored link; seqs must run 1, 2, ... without a gap or a
 * repeat; each payload must carry its own seq and debate id; the record's last_seq must be the last.
 */
function checkLog(d: StoredDebate, differ: (what: string, detail: string) => void): StoredEvent[] {
  const rows: StoredEvent[] = [];
  let next = 1;
  // The stored link before the next event; undefined after a gap or an unreadable chunk.
  let previous: string | undefined = GENESIS_HASH;
  for (const c of d.chunks) {
    const range = c.firstSeq === c.lastSeq ? `event seq ${c.firstSeq}` : `events seq ${c.firstSeq}..${c.lastSeq}`;
    if (c.firstSeq > next) {
      differ(
        next === c.firstSeq - 1 ? `event seq ${next}` : `events seq ${next}..${c.firstSeq - 1}`,
        "missing from the log",
      );
      previous = undefined;
    } else if (c.firstSeq < next) {
      differ(range, `stored twice: the log already holds seq ${c.firstSeq}..${next - 1}`);
    }
    next = Math.max(next, c.lastSeq + 1);
    const events: StoredEvent[] = [];
    try {
      readChunk(events, d.id, c.firstSeq, c.hashes, c.events, 0, Number.POSITIVE_INFINITY);
    } catch (err) {
      differ(range, `cannot be read: the stored events are not valid JSON (${(err as Error).message})`);
      previous = undefined;
      continue;
    }
    const count = c.lastSeq - c.firstSeq + 1;
    if (events.length !== count || c.hashes.length !== count * HASH_LENGTH) {
      differ(
        range,
        `the stored chunk holds ${events.length} events and ${c.hashes.length / HASH_LENGTH} links for ${count} seqs`,
      );
    }
    for (const e of events) {
      const label = `event seq ${e.seq} (${e.type})`;
      const own = JSON.parse(e.payload) as { seq?: unknown; debate_id?: unknown };
      if (own.seq !== e.seq) differ(label, `its payload says seq ${JSON.stringify(own.seq)}`);
      if (own.debate_id !== d.id) differ(label, `its payload belongs to debate ${JSON.stringify(own.debate_id)}`);
      if (previous !== undefined && sha256Hex(previous + sha256Hex(e.payload)) !== e.hash) {
        differ(label, "does not hash to its stored chain link: its payload or its link was altered");
      }
      previous = e.hash;
      rows.push(e);
    }
  }
  const last = next - 1;
  if (d.lastSeq !== last) differ("last_seq", `the record says ${d.lastSeq}, the log ends at seq ${last}`);
  return rows;
}

/** The record's value of each signed field, or undefined when the record's JSON cannot be read. */
function recordFields(d: StoredDebate, differ: (what: string, detail: string) => void): Record<string, unknown> {
  const fields: Record<string, unknown> = { question: d.question };
  const columns: [string, string | null][] = [
    ["configuration", d.config],
    ["consensus", d.consensus],
    ["baseline", d.baseline],
  ];
  for (const [field, text] of columns) {
    const p = parsed(text);
    if (p.ok) fields[field] = p.value;
    else differ(field, "the record's value is not valid JSON");
  }
  const agents = isObject(fields.configuration) ? fields.configuration.agents : undefined;
  fields.participants = agents;
  fields.outcome = { status: d.status, stop_reason: d.stopReason };
  return fields;
}

/** The receipt against the record, the log and the trusted keys. */
function checkReceipt(
  d: StoredDebate,
  text: string,
  rows: StoredEvent[],
  keys: ReadonlyMap<string, string>,
  differ: (what: string, detail: string) => void,
): void {
  const doc = parsed(text);
  const body = doc.ok && isObject(doc.value) ? doc.value.receipt : undefined;
  if (!doc.ok || !isObject(doc.value) || !isObject(body)) {
    differ("receipt", doc.ok ? "the stored receipt has no signed body" : "the stored receipt is not valid JSON");
    return;
  }
  if (body.debate_id !== d.id)
    differ("receipt debate_id", `the receipt names debate ${JSON.stringify(body.debate_id)}`);

  // The signed values against their digests: a stored receipt edited in place.
  const digests = isObject(body.digests) ? body.digests : {};
  for (const field of RECEIPT_FIELDS) {
    if (field === "hash_chain") continue;
    if (!(field in body)) differ(`receipt field "${field}"`, "missing from the stored receipt");
    else if (digests[field] !== sha256Hex(canonical(body[field]))) {
      differ(`receipt field "${field}"`, "does not match its signed digest: the stored receipt was altered");
    }
  }

  // The record against what was signed.
  const record = recordFields(d, differ);
  for (const field of ["question", "configuration", "participants", "consensus", "baseline", "outcome"]) {
    if (!(field in record) || !(field in body)) continue;
    const mine = record[field] === undefined ? "undefined" : canonical(record[field]);
    const signed = canonical(body[field]);
    if (mine === signed) continue;
    differ(
      field,
      typeof record[field] === "string" && typeof body[field] === "string"
        ? `the record says ${quote(record[field] as string)}, the signed receipt ${quote(body[field] as string)}`
        : `the record differs from the signed receipt ${firstDifference(mine, signed)}`,
    );
  }
  if (Array.isArray(body.participants) && canonical(d.participants) !== canonical(body.participants)) {
    differ(
      "participants (debate_participants)",
      `the seats are ${canonical(d.participants)}, the signed receipt ${canonical(body.participants)}`,
    );
  }

  // The chain the receipt signed against the log.
  const chain = isObject(body.hash_chain) ? body.hash_chain : {};
  const length = chain.length;
  const end = rows.find((r) => r.type === "debate_end");
  if (typeof length !== "number") {
    differ("receipt hash_chain.length", `is ${JSON.stringify(length)}, not a number of events`);
    return;
  }
  if (end && end.seq !== length) {
    differ("receipt hash_chain.length", `is ${length}, but the log's debate_end is seq ${end.seq}`);
  }
  const at = rows.find((r) => r.seq === length);
  if (length > 0 && at?.hash !== chain.head) {
    differ(
      "receipt hash_chain.head",
      at
        ? `is not the log's link at seq ${length}: the log or the receipt was altered after it was signed`
        : `names seq ${length}, which the log does not hold`,
    );
  }
  if (Array.isArray(chain.events)) {
    // Stored by an earlier version with its entries inside: each against the log's.
    const bySeq = new Map(rows.map((r) => [r.seq, r]));
    for (const entry of chain.events as { seq: number; type: string; digest: string; hash: string }[]) {
      const row = bySeq.get(entry.seq);
      if (!row) continue;
      if (row.hash !== entry.hash || sha256Hex(row.payload) !== entry.digest) {
        differ(`event seq ${entry.seq} (${entry.type})`, "differs from the receipt's chain entry for it");
      }
    }
  }
  const generated = rows.find((r) => r.type === "receipt_generated");
  if (generated) {
    const data = (JSON.parse(generated.payload) as { data?: { head?: unknown; events?: unknown } }).data ?? {};
    if (data.head !== chain.head || data.events !== length) {
      differ(`event seq ${generated.seq} (receipt_generated)`, "names another chain head or length than the receipt");
    }
  }

  // The signature, over the document as it is served: its chain rebuilt from the log.
  const served = JSON.parse(
    receiptDocument(
      text,
      rows.filter((r) => r.seq <= length),
    ),
  ) as {
    receipt: Record<string, unknown>;
    signature?: unknown;
  };
  if (digests.hash_chain !== sha256Hex(canonical(served.receipt.hash_chain))) {
    differ('receipt field "hash_chain"', "does not match its signed digest once rebuilt from the log");
  }
  const keyId = String(body.key_id);
  const pem = keys.get(keyId);
  if (!pem) {
    differ(
      "receipt signature",
      `signed with key ${keyId}, which is not a trusted key (this data dir's: ${[...keys.keys()].join(", ") || "none"}; --public-key trusts another)`,
    );
    return;
  }
  let valid = false;
  try {
    valid = verify(null, Buffer.from(canonical(served.receipt)), pem, Buffer.from(String(served.signature), "base64"));
  } catch (err) {
    differ("receipt signature", `cannot be checked: ${(err as Error).message}`);
    return;
  }
  if (!valid)
    differ("receipt signature", `is not valid for key ${keyId}: the receipt or the events it covers were altered`);
}

/**
 * Every difference in one stored debate, and how many events it holds.
 *
 * @example const { differences } = verifyStoredDebate(await source.debate("d-42"), options);
 */
export function verifyStoredDebate(
  d: StoredDebate,
  options: VerifyOptions,
): { differences: Difference[]; events: number; receipt: "checked" | "expired" | "none" } {
  const differences: Difference[] = [];
  const differ = (what: string, detail: string) => differences.push({ debateId: d.id, what, detail });
  const rows = checkLog(d, differ);
  let receipt: "checked" | "expired" | "none" = "none";
  if (d.receipt !== null) {
    receipt = "checked";
    checkReceipt(d, d.receipt, rows, options.keys, differ);
  } else if (d.status !== "running") {
    const cutoff = (options.now ?? new Date()).getTime() - options.retentionDays * 86_400_000;
    if (d.finishedAt !== null && d.finishedAt < cutoff) receipt = "expired";
    else differ("receipt", `missing: the debate is ${d.status} and its receipt is not past retention`);
  }
  return { differences, events: rows.length, receipt };
}

/**
 * Check every stored debate, one at a time, page by page, telling `on.difference` each difference
 * as it is found (at most {@link DIFFERENCES_PER_DEBATE} per debate, then a count) and
 * `on.progress` after every page.
 *
 * @example const summary = await verifyDebates(source, options, { difference: print });
 */
export async function verifyDebates(
  source: DebateSnapshots,
  options: VerifyOptions,
  on: { difference: (d: Difference) => void; progress?: (summary: VerifySummary) => void; signal?: AbortSignal },
): Promise<VerifySummary> {
  const summary: VerifySummary = {
    debates: 0,
    events: 0,
    receipts: 0,
    receiptsExpired: 0,
    differences: 0,
    debatesDiffering: 0,
  };
  const report = (list: Difference[]) => {
    summary.differences += list.length;
    if (list.length > 0) summary.debatesDiffering++;
    for (const d of list.slice(0, DIFFERENCES_PER_DEBATE)) on.difference(d);
    if (list.length > DIFFERENCES_PER_DEBATE) {
      const first = list[0] as Difference;
      on.difference({
        debateId: first.debateId,
        what: "more",
        detail: `${list.length - DIFFERENCES_PER_DEBATE} more differences in this debate`,
      });
    }
  };
  let after = "";
  for (;;) {
    on.signal?.throwIfAborted();
    const ids = await source.ids(after, options.pageSize ?? 100);
    if (ids.length === 0) break;
    for (const id of ids) {
      on.signal?.throwIfAborted();
      const debate = await source.debate(id);
      if (!debate) continue;
      let result: ReturnType<typeof verifyStoredDebate>;
      try {
        result = verifyStoredDebate(debate, options);
      } catch (err) {
        // Stored values no check foresaw (say a number JSON cannot hold): named, and the next debate checked.
        const detail = `could not be checked: ${(err as Error).message}`;
        result = { differences: [{ debateId: id, what: "debate", detail }], events: 0, receipt: "none" };
      }
      summary.debates++;
      summary.events += result.events;
      if (result.receipt === "checked") summary.receipts++;
      if (result.receipt === "expired") summary.receiptsExpired++;
      report(result.differences);
      // Hashing a debate's log takes a few milliseconds: let a server running this serve between debates.
      await new Promise((resolve) => setImmediate(resolve));
    }
    after = ids.at(-1) as string;
    on.progress?.(summary);
  }
  const orphans = await source.orphans();
  for (const o of orphans) {
    report([
      { debateId: o.debateId, what: "record", detail: `missing: ${o.table} holds rows of a debate with no record` },
    ]);
  }
  return summary;
}
