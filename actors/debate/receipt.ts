/**
 * Decision receipts: the RFC 8785 canonical JSON of a finished debate's question, configuration,
 * participants, consensus, round-0 baseline and the SHA-256 hash chain over its events, signed
 * with the server's Ed25519 key. {@link verifyReceipt} checks one offline and names what was
 * tampered with: a field (by its digest), an event (by its chain link) or the signature.
 *
 * @example
 * const keys = loadOrCreateReceiptKey(dataDir);
 * const doc = issueReceipt(input, keys); // same document as signReceipt(buildReceipt(input), keys)
 * verifyReceipt(doc).ok; // true
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type } from "arktype";
import canonicalize from "canonicalize";
import { jsonValueProblems, MAX_JSON_DEPTH } from "../../runtime/json-limits.ts";
import { lazy } from "../../schemas/lazy.ts";
import { type ChainEntry, chainLink, GENESIS_HASH, sha256Hex } from "./event-log.ts";
import type { DebateEventEnvelope } from "./types.ts";

export const RECEIPT_KEY_FILE = "keys/receipt-ed25519.pem";
/** The fields covered by per-field digests, so a verifier can say which one changed. */
export const RECEIPT_FIELDS = [
  "question",
  "configuration",
  "participants",
  "consensus",
  "baseline",
  "outcome",
  "hash_chain",
] as const;

export interface ReceiptKey {
  privateKey: KeyObject;
  publicKeyPem: string;
  keyId: string;
}

export type { ChainEntry };

export interface ReceiptInput {
  debateId: string;
  question: string;
  configuration: unknown;
  participants: string[];
  consensus: unknown;
  baseline: unknown;
  outcome: { status: string; stop_reason: string | null };
  /** The events as published (JSON payloads), in seq order, up to and including debate_end. */
  payloads?: string[];
  /** The same events as log rows: seq, type and chain link come from the columns instead of the payload. */
  events?: { seq: number; type: string; payload: string; hash?: string }[];
  /** The chain itself, as the debate's DebateLog sealed it: nothing is hashed again. */
  chain?: readonly ChainEntry[];
  issuedAt: Date;
}

export interface ReceiptDoc {
  receipt: Record<string, unknown>;
  signature: string;
  algorithm: "Ed25519";
  public_key: string;
  key_id: string;
  events?: DebateEventEnvelope[];
}

/** Canonical JSON text (RFC 8785). @example canonical({ b: 1, a: 2 }) // '{"a":2,"b":1}' */
export function canonical(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error("value cannot be canonicalised");
  return text;
}

/** The id of a public key: the first 16 hex of the SHA-256 of its PEM. @example keyIdOf(pem) // "3f2a9c..." */
export const keyIdOf = (publicKeyPem: string) => sha256Hex(publicKeyPem.trim()).slice(0, 16);

/**
 * The server's signing key from `<dataDir>/keys/receipt-ed25519.pem`, created (mode 0600) on
 * first use.
 *
 * @example const key = loadOrCreateReceiptKey(".nomic"); key.keyId // "3f2a..."
 */
export function loadOrCreateReceiptKey(dataDir: string): ReceiptKey {
  const path = join(dataDir, RECEIPT_KEY_FILE);
  let privateKey: KeyObject;
  if (existsSync(path)) {
    privateKey = createPrivateKey(readFileSync(path, "utf8"));
  } else {
    mkdirSync(join(dataDir, "keys"), { recursive: true, mode: 0o700 });
    const pair = generateKeyPairSync("ed25519");
    privateKey = pair.privateKey;
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }) as string;
    // wx: never overwrite a key another process created in the meantime.
    writeFileSync(path, pem, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
  }
  const publicKeyPem = createPublicKey(privateKey).export({ type: "spki", format: "pem" }) as string;
  return { privateKey, publicKeyPem, keyId: keyIdOf(publicKeyPem) };
}

/**
 * The chain entries of a debate's events: digest of each published payload and the running link.
 *
 * @example hashChain(['{"type":"debate_start",...}'])[0].hash
 */
export function hashChain(payloads: string[]): ChainEntry[] {
  let previous = GENESIS_HASH;
  return payloads.map((payload) => {
    const e = JSON.parse(payload) as { seq: number; type: string };
    const link = chainLink(previous, payload);
    previous = link.hash;
    return { seq: e.seq, type: e.type, digest: link.digest, hash: link.hash };
  });
}

/** An event log row, as the chain is built from it. */
export type ChainRow = { seq: number; type: string; payload: string; hash?: string };

/**
 * The chain over log rows: seq, type and link come from the columns the log wrote when it sealed
 * each event (the same chainLink), so only the payload digests are computed here.
 *
 * @example chainOfRows(await store.events("d-42", 0)).at(-1)?.hash
 */
export function chainOfRows(rows: readonly ChainRow[]): ChainEntry[] {
  let previous = GENESIS_HASH;
  return rows.map((row) => {
    const digest = sha256Hex(row.payload);
    const hash = row.hash ?? sha256Hex(previous + digest);
    previous = hash;
    return { seq: row.seq, type: row.type, digest, hash };
  });
}

/** The body and the canonical text of each of its top-level values, each computed once. */
function receiptParts(input: ReceiptInput): { body: Record<string, unknown>; texts: Record<string, string> } {
  const events = input.chain
    ? [...input.chain]
    : input.events
      ? chainOfRows(input.events)
      : hashChain(input.payloads ?? []);
  const fields: Record<(typeof RECEIPT_FIELDS)[number], unknown> = {
    question: input.question,
    configuration: input.configuration,
    participants: input.participants,
    consensus: input.consensus ?? null,
    baseline: input.baseline ?? null,
    outcome: input.outcome,
    hash_chain: {
      algorithm: "sha256",
      link: "sha256(previous_hash + sha256(event JSON as published))",
      genesis: GENESIS_HASH,
      length: events.length,
      head: events.at(-1)?.hash ?? GENESIS_HASH,
      events,
    },
  };
  const texts: Record<string, string> = {};
  for (const f of RECEIPT_FIELDS) {
    texts[f] = f === "hash_chain" ? canonicalChain(fields.hash_chain as ChainField) : canonical(fields[f]);
  }
  const digests = Object.fromEntries(RECEIPT_FIELDS.map((f) => [f, sha256Hex(texts[f] as string)]));
  const body: Record<string, unknown> = {
    version: 1,
    debate_id: input.debateId,
    issued_at: input.issuedAt.toISOString(),
    ...fields,
    digests,
  };
  texts.version = "1";
  texts.debate_id = JSON.stringify(input.debateId);
  texts.issued_at = JSON.stringify(body.issued_at);
  texts.digests = canonical(digests);
  return { body, texts };
}

/** Strings whose JSON form is the string in quotes. */
const PLAIN = /^[0-9A-Za-z_]*$/;

interface ChainField {
  algorithm: string;
  link: string;
  genesis: string;
  length: number;
  head: string;
  events: ChainEntry[];
}

/**
 * RFC 8785 text of the hash_chain field, written directly: its values are ASCII strings and
 * integers, whose JCS form is their JSON.stringify form, and its keys are emitted in sorted order.
 * Equal to `canonical(chain)`; it exists because the chain is most of a receipt's bytes. Without
 * `events` it is the text of the field as stored (see {@link storedReceiptJson}).
 */
function canonicalChain(chain: Omit<ChainField, "events"> & { events?: ChainEntry[] }): string {
  const head = `{"algorithm":${JSON.stringify(chain.algorithm)},`;
  const tail = `"genesis":${JSON.stringify(chain.genesis)},"head":${JSON.stringify(chain.head)},"length":${JSON.stringify(chain.length)},"link":${JSON.stringify(chain.link)}}`;
  if (chain.events === undefined) return head + tail;
  let events = "";
  for (const e of chain.events) {
    // Hex digests and snake_case type names need no escaping, so they are quoted as they are; any
    // other value (a tampered or foreign row) goes through JSON.stringify.
    const plain = PLAIN.test(e.digest) && PLAIN.test(e.hash) && PLAIN.test(e.type) && Number.isSafeInteger(e.seq);
    const item = plain
      ? `{"digest":"${e.digest}","hash":"${e.hash}","seq":${e.seq},"type":"${e.type}"}`
      : `{"digest":${JSON.stringify(e.digest)},"hash":${JSON.stringify(e.hash)},"seq":${JSON.stringify(e.seq)},"type":${JSON.stringify(e.type)}}`;
    events = events === "" ? item : `${events},${item}`;
  }
  return `${head}"events":[${events}],${tail}`;
}

/** The canonical text of an object from the canonical texts of its values (RFC 8785 sorts keys by UTF-16 units). */
function canonicalObject(texts: Record<string, string>): string {
  const keys = Object.keys(texts).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${texts[k]}`).join(",")}}`;
}

/** The unsigned receipt body. @example const body = buildReceipt({ debateId, question, ... }) */
export function buildReceipt(input: ReceiptInput): Record<string, unknown> {
  return receiptParts(input).body;
}

/**
 * Build and sign a receipt in one pass: the document {@link signReceipt}(buildReceipt(input)) gives,
 * with each field canonicalised once (the signature covers the body's canonical text, composed from
 * the field texts the digests were computed over).
 *
 * @example const doc = issueReceipt({ debateId, question, ..., events: rows, issuedAt: new Date() }, key);
 */
export function issueReceipt(input: ReceiptInput, key: ReceiptKey): ReceiptDoc {
  const { body, texts } = receiptParts(input);
  body.key_id = key.keyId;
  texts.key_id = JSON.stringify(key.keyId);
  const signed = canonicalObject(texts);
  const signature = sign(null, Buffer.from(signed), key.privateKey).toString("base64");
  const doc: ReceiptDoc = {
    receipt: body,
    signature,
    algorithm: "Ed25519",
    public_key: key.publicKeyPem,
    key_id: key.keyId,
  };
  signedTexts.set(doc, { signed, texts });
  return doc;
}

/**
 * The canonical body text each issued document was signed over, and the text of each of its
 * fields, to serialise it (whole or as stored) without a second pass.
 */
const signedTexts = new WeakMap<ReceiptDoc, { signed: string; texts: Record<string, string> }>();

/** The document's JSON text around a body text, its keys in the order receipts have always had. */
const envelope = (body: string, doc: ReceiptDoc) =>
  `{"receipt":${body},"signature":${JSON.stringify(doc.signature)},"algorithm":${JSON.stringify(doc.algorithm)},"public_key":${JSON.stringify(doc.public_key)},"key_id":${JSON.stringify(doc.key_id)}}`;

/**
 * The receipt document as JSON text. For a document from {@link issueReceipt} the body is written
 * as the canonical text it was signed over (the same JSON value as JSON.stringify gives, keys
 * sorted), which spares serialising the ~16 KB hash chain again; any other document goes through
 * JSON.stringify.
 *
 * @example writeFileSync("receipt.json", receiptJson(issueReceipt(input, key)));
 */
export function receiptJson(doc: ReceiptDoc): string {
  const issued = signedTexts.get(doc);
  if (issued === undefined || doc.events !== undefined) return JSON.stringify(doc);
  return envelope(issued.signed, doc);
}

/**
 * The receipt as the debate stores keep it: the signed document without `hash_chain.events`. Those
 * entries (seq, type, digest, link of every event, most of a receipt's bytes) are already in the
 * event log, which holds each event's payload and link; {@link receiptDocument} puts them back
 * when the receipt is served, so what a client downloads is the document that was signed.
 *
 * @example await store.finish(id, { ...outcome, receipt: { json: storedReceiptJson(doc), at: new Date() } });
 */
export function storedReceiptJson(doc: ReceiptDoc): string {
  const { events: _, ...chain } = doc.receipt.hash_chain as ChainField;
  const issued = signedTexts.get(doc);
  const body = issued
    ? canonicalObject({ ...issued.texts, hash_chain: canonicalChain(chain) })
    : canonical({ ...doc.receipt, hash_chain: chain });
  return envelope(body, doc);
}

const DOCUMENT_KEYS = ["receipt", "signature", "algorithm", "public_key", "key_id"];

/** Keys and value types of the hash_chain field as stored, for the direct canonical text. */
const STORED_CHAIN = { algorithm: "string", genesis: "string", head: "string", length: "number", link: "string" };

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * The self-contained receipt document, as JSON text, from the stored receipt and the debate's log
 * rows for seq 1 to `hash_chain.length` (in order): `hash_chain.events` rebuilt from the rows (each
 * payload's digest, each row's stored link), the body written as the RFC 8785 text that was signed,
 * and the events themselves under `events`, so `aragora receipt verify` checks each one offline. A
 * receipt stored with its events inside (by earlier versions) keeps its own chain.
 *
 * @example
 * const stored = await store.receipt(id, owner);
 * const text = receiptDocument(stored, await store.events(id, 0, JSON.parse(stored).receipt.hash_chain.length));
 */
export function receiptDocument(stored: string, rows: readonly ChainRow[]): string {
  const doc = JSON.parse(stored) as Record<string, unknown>;
  const body = doc.receipt;
  const chain = isPlainObject(body) ? body.hash_chain : undefined;
  if (!isPlainObject(body) || !isPlainObject(chain) || "events" in chain) {
    return JSON.stringify({ ...doc, events: rows.map((r) => JSON.parse(r.payload)) });
  }
  const events = chainOfRows(rows);
  const keys = Object.keys(chain);
  const direct =
    keys.length === Object.keys(STORED_CHAIN).length &&
    keys.every((k) => typeof chain[k] === STORED_CHAIN[k as keyof typeof STORED_CHAIN]);
  const texts: Record<string, string> = {};
  for (const [k, v] of Object.entries(body)) {
    if (k !== "hash_chain") texts[k] = canonical(v);
    else
      texts[k] = direct
        ? canonicalChain({ ...(chain as Omit<ChainField, "events">), events })
        : canonical({ ...chain, events });
  }
  // The document's own keys in the order receipts have always been served, whatever order the
  // store kept them in (PostgreSQL's jsonb, through which migration 0006 passed them, sorts them).
  const order = [...DOCUMENT_KEYS, ...Object.keys(doc).filter((k) => !DOCUMENT_KEYS.includes(k) && k !== "events")];
  const fields = order.filter((k) => k !== "receipt" && k in doc);
  let text = `{"receipt":${canonicalObject(texts)}`;
  for (const k of fields) text += `,${JSON.stringify(k)}:${JSON.stringify(doc[k])}`;
  return `${text},"events":[${rows.map((r) => r.payload).join(",")}]}`;
}

/** Sign a receipt body. @example const doc = signReceipt(body, key) */
export function signReceipt(receipt: Record<string, unknown>, key: ReceiptKey): ReceiptDoc {
  const body = { ...receipt, key_id: key.keyId };
  const signature = sign(null, Buffer.from(canonical(body)), key.privateKey).toString("base64");
  return { receipt: body, signature, algorithm: "Ed25519", public_key: key.publicKeyPem, key_id: key.keyId };
}

export interface VerifyResult {
  ok: boolean;
  /** One line per problem, naming the field, the event (seq and type) or the signature. */
  problems: string[];
  /** Which key verified it: "pinned" (--public-key) or "embedded" (the key inside the receipt). */
  keySource: "pinned" | "embedded";
  events: number;
}

/** The parts of a receipt document the checks read, so a malformed one is INVALID with a reason. */
const ChainEntryShape = lazy(() => type({ seq: "number.integer", type: "string", digest: "string", hash: "string" }));
const ReceiptShape = lazy(() =>
  type({
    receipt: type("object").narrow((v, ctx) => !Array.isArray(v) || ctx.mustBe("an object (not an array)")),
    signature: "string",
    "public_key?": "string",
    "events?": type({ seq: "number.integer", type: "string" }).array(),
  }),
);

/** Why a parsed document cannot be a receipt the server issued, or an empty list. */
function receiptShapeProblems(doc: unknown, publicKeyPem: string | undefined): string[] {
  // Lone surrogates, NUL and non-finite numbers never survive canonical JSON: no receipt holds them.
  const values = jsonValueProblems(doc, "document", MAX_JSON_DEPTH);
  if (values.length > 0) return values.map((p) => `${p.field} ${p.rule}: no issued receipt holds that`);
  const shaped = ReceiptShape(doc);
  if (shaped instanceof type.errors) return [...shaped].map((e) => `not a receipt: ${e.message}`);
  const problems: string[] = [];
  const chainEvents = (shaped.receipt as { hash_chain?: { events?: unknown } }).hash_chain?.events;
  if (Array.isArray(chainEvents)) {
    const entries = ChainEntryShape.array()(chainEvents);
    if (entries instanceof type.errors) {
      problems.push(
        ...[...entries].map(
          (e) => `receipt.hash_chain.events${e.path.length ? `.${e.path.join(".")}` : ""} ${e.problem}`,
        ),
      );
    }
  }
  if (publicKeyPem === undefined && shaped.public_key === undefined) {
    problems.push("the receipt carries no public_key: pass --public-key to check its signature");
  }
  return problems;
}

/**
 * Verify a receipt document offline. With `publicKeyPem` the signature must come from that key
 * (pin it: the embedded key proves nothing against a forger who re-signs). Any document, however
 * malformed, gets a result: not a receipt, or the problems found, never an exception.
 *
 * @example
 * const r = verifyReceipt(JSON.parse(text), readFileSync("receipt-public.pem", "utf8"));
 * if (!r.ok) console.log(r.problems.join("\n"));
 */
export function verifyReceipt(doc: unknown, publicKeyPem?: string): VerifyResult {
  const keySource = publicKeyPem ? "pinned" : "embedded";
  const malformed = receiptShapeProblems(doc, publicKeyPem);
  if (malformed.length > 0) return { ok: false, problems: malformed, keySource, events: 0 };
  try {
    return checkReceipt(doc as ReceiptDoc, publicKeyPem);
  } catch (err) {
    return {
      ok: false,
      problems: [`the receipt could not be checked: ${(err as Error).message}`],
      keySource,
      events: 0,
    };
  }
}

function checkReceipt(doc: ReceiptDoc, publicKeyPem?: string): VerifyResult {
  const problems: string[] = [];
  const receipt = doc.receipt ?? {};
  const keySource = publicKeyPem ? "pinned" : "embedded";
  const pem = publicKeyPem ?? doc.public_key;

  // 1. Field digests: which signed field no longer matches what was signed.
  const digests = (receipt.digests ?? {}) as Record<string, string>;
  for (const field of RECEIPT_FIELDS) {
    if (!(field in receipt)) problems.push(`field "${field}" is missing`);
    else if (digests[field] !== sha256Hex(canonical(receipt[field]))) {
      problems.push(`field "${field}" was altered: its content does not match its digest`);
    }
  }

  // 2. The hash chain: each link must follow from the previous one.
  const chain = (receipt.hash_chain ?? {}) as { head?: string; length?: number; events?: ChainEntry[] };
  const entries = Array.isArray(chain.events) ? chain.events : [];
  let previous = GENESIS_HASH;
  for (const entry of entries) {
    if (sha256Hex(previous + entry.digest) !== entry.hash) {
      problems.push(
        `event hash chain broken at seq ${entry.seq} (${entry.type}): its hash does not follow from the previous link`,
      );
      break;
    }
    previous = entry.hash;
  }
  if (entries.length > 0 && chain.head !== previous)
    problems.push("hash_chain.head does not match the last event hash");
  if (chain.length !== entries.length)
    problems.push(`hash_chain.length says ${chain.length} but ${entries.length} events are listed`);

  // 3. The events, when the document carries them: each must hash to its chain entry.
  if (Array.isArray(doc.events)) {
    const bySeq = new Map(entries.map((e) => [e.seq, e]));
    const seen = new Set<number>();
    for (const event of doc.events) {
      const entry = bySeq.get(event.seq);
      seen.add(event.seq);
      if (!entry) {
        problems.push(`event seq ${event.seq} (${event.type}) is not in the signed hash chain`);
        continue;
      }
      if (sha256Hex(JSON.stringify(event)) !== entry.digest) {
        problems.push(
          `event seq ${event.seq} (${entry.type}) was altered: its content does not match its hash ${entry.hash.slice(0, 16)}…`,
        );
      }
    }
    for (const entry of entries)
      if (!seen.has(entry.seq)) problems.push(`event seq ${entry.seq} (${entry.type}) is missing`);
  }

  // 4. The signature over the canonical receipt.
  let signatureOk = false;
  try {
    signatureOk = verify(
      null,
      Buffer.from(canonical(receipt)),
      createPublicKey(pem),
      Buffer.from(doc.signature, "base64"),
    );
  } catch (err) {
    problems.push(`signature could not be checked: ${(err as Error).message}`);
  }
  if (!signatureOk) {
    const which = publicKeyPem ? "the pinned public key" : "the public key embedded in the receipt";
    problems.push(`signature is not valid for ${which}: the signed content, the signature or the key was altered`);
    // The fields outside the digests: checked where something else pins them, else listed with
    // their values, since the signature can only say that one of them (or itself) changed.
    const fieldProblems = problems.length;
    if (receipt.version !== 1)
      problems.push(`field "version" was altered: it is ${JSON.stringify(receipt.version)}, receipts are version 1`);
    if (typeof doc.public_key === "string" && receipt.key_id !== keyIdOf(doc.public_key)) {
      problems.push(
        `field "key_id" was altered: ${JSON.stringify(receipt.key_id)} is not the id of the receipt's public key`,
      );
    }
    const issued = typeof receipt.issued_at === "string" ? receipt.issued_at : "";
    if (Number.isNaN(Date.parse(issued)) || new Date(issued).toISOString() !== issued) {
      problems.push(`field "issued_at" was altered: ${JSON.stringify(receipt.issued_at)} is not a timestamp as issued`);
    }
    const ids = Array.isArray(doc.events) ? new Set(doc.events.map((e) => e.debate_id)) : new Set<string>();
    if (ids.size > 0 && !(ids.size === 1 && ids.has(receipt.debate_id as string))) {
      problems.push(`field "debate_id" was altered: the receipt's events belong to ${[...ids].join(", ")}`);
    }
    const digestsAltered = problems.slice(0, fieldProblems).some((p) => p.startsWith("field "));
    if (problems.length === fieldProblems && !digestsAltered) {
      problems.push(
        `every field matches its digest, so the change is in a field the digests do not cover or in the signature: debate_id ${JSON.stringify(receipt.debate_id)}, issued_at ${JSON.stringify(receipt.issued_at)}, key_id ${JSON.stringify(receipt.key_id)}, digests, signature`,
      );
    }
  }
  if (publicKeyPem && doc.public_key && doc.public_key.trim() !== publicKeyPem.trim()) {
    problems.push("the receipt names a different public key than the pinned one");
  }
  return { ok: problems.length === 0, problems, keySource, events: entries.length };
}
