/**
 * A decision receipt checked in the browser, the same checks `aragora receipt verify` makes
 * (actors/debate/receipt.ts): each signed field against its SHA-256 digest, the event hash chain
 * link by link, its head and length, each carried event against its chain entry, and the Ed25519
 * signature over the RFC 8785 text of the receipt, with the server's public key (pinned: the key
 * embedded in a document proves nothing against a forger who signs again). Each problem names the
 * field, the event (seq and type) or the signature that failed.
 *
 * @example
 * const key = await api.get<PublicKey>("/api/receipts/public-key");
 * const result = await verifyReceipt(JSON.parse(text), key);
 * result.ok ? "valid" : `tampered: ${result.problems.join("; ")}`;
 */
import canonicalize from "canonicalize";

/** The fields the receipt carries a digest of, so a change is named by field. */
export const RECEIPT_FIELDS = [
  "question",
  "configuration",
  "participants",
  "consensus",
  "baseline",
  "outcome",
  "hash_chain",
] as const;

const GENESIS_HASH = "0".repeat(64);

/** GET /api/receipts/public-key. */
export interface PublicKey {
  algorithm: "Ed25519";
  key_id: string;
  public_key: string;
}

/** What the check found. */
export interface VerifyResult {
  ok: boolean;
  /** One line per problem, naming the field, the event or the signature. */
  problems: string[];
  /** Events listed in the signed hash chain. */
  events: number;
  debateId: string | undefined;
}

interface ChainEntry {
  seq: number;
  type: string;
  digest: string;
  hash: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 8785 text of a value. @example canonical({ b: 1, a: 2 }) // '{"a":2,"b":1}' */
export function canonical(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error("value cannot be canonicalised");
  return text;
}

const encoder = new TextEncoder();

/** SHA-256 of a string's UTF-8 bytes, as lowercase hex. @example await sha256Hex("abc") // "ba7816bf..." */
export async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
  let hex = "";
  for (const byte of digest) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The bytes of base64 text; throws on text that is not base64. */
function base64Bytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/\s+/g, ""));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** The SubjectPublicKeyInfo bytes of a PEM "PUBLIC KEY". */
function spkiOf(pem: string): Uint8Array<ArrayBuffer> {
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, "");
  return base64Bytes(body);
}

/** Problems of shape: a document that is not a receipt at all. */
function shapeProblems(doc: unknown): string[] {
  if (!isObject(doc)) return ["not a receipt: the file is not a JSON object"];
  const problems: string[] = [];
  if (!isObject(doc.receipt)) problems.push('not a receipt: "receipt" must be an object');
  if (typeof doc.signature !== "string") problems.push('not a receipt: "signature" must be a string');
  if (doc.events !== undefined && !Array.isArray(doc.events)) problems.push('not a receipt: "events" must be a list');
  const chain = isObject(doc.receipt) ? doc.receipt.hash_chain : undefined;
  if (isObject(chain) && Array.isArray(chain.events)) {
    chain.events.forEach((e, i) => {
      const ok =
        isObject(e) &&
        Number.isInteger(e.seq) &&
        typeof e.type === "string" &&
        typeof e.digest === "string" &&
        typeof e.hash === "string";
      if (!ok) problems.push(`receipt.hash_chain.events.${i} must be {seq, type, digest, hash}`);
    });
  }
  return problems;
}

/**
 * Check a parsed receipt document against the server's key. Never throws: a malformed document
 * is a result with the reason.
 *
 * @example const r = await verifyReceipt(doc, key); if (!r.ok) console.log(r.problems);
 */
export async function verifyReceipt(doc: unknown, key: PublicKey): Promise<VerifyResult> {
  const shape = shapeProblems(doc);
  const claimed = isObject(doc) && isObject(doc.receipt) ? doc.receipt.debate_id : undefined;
  const debateId = typeof claimed === "string" ? claimed : undefined;
  if (shape.length > 0) return { ok: false, problems: shape, events: 0, debateId };
  try {
    return await check(doc as Record<string, unknown>, key, debateId);
  } catch (err) {
    return {
      ok: false,
      problems: [`the receipt could not be checked: ${(err as Error).message}`],
      events: 0,
      debateId,
    };
  }
}

async function check(
  doc: Record<string, unknown>,
  key: PublicKey,
  debateId: string | undefined,
): Promise<VerifyResult> {
  const problems: string[] = [];
  const receipt = doc.receipt as Record<string, unknown>;

  // 1. Each signed field against its digest: names the field that changed.
  const digests = (isObject(receipt.digests) ? receipt.digests : {}) as Record<string, unknown>;
  const fieldDigests = await Promise.all(
    RECEIPT_FIELDS.map((f) => (f in receipt ? sha256Hex(canonical(receipt[f])) : Promise.resolve(undefined))),
  );
  RECEIPT_FIELDS.forEach((field, i) => {
    if (fieldDigests[i] === undefined) problems.push(`field "${field}" is missing`);
    else if (digests[field] !== fieldDigests[i])
      problems.push(`field "${field}" was altered: its content does not match its digest`);
  });

  // 2. The hash chain: each link is sha256(previous link + the event's digest).
  const chain = (isObject(receipt.hash_chain) ? receipt.hash_chain : {}) as {
    head?: unknown;
    length?: unknown;
    events?: ChainEntry[];
  };
  const entries = Array.isArray(chain.events) ? chain.events : [];
  const links = await Promise.all(
    entries.map((e, i) => sha256Hex((i === 0 ? GENESIS_HASH : (entries[i - 1] as ChainEntry).hash) + e.digest)),
  );
  let previous = GENESIS_HASH;
  for (const [i, entry] of entries.entries()) {
    if (links[i] !== entry.hash) {
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
    problems.push(`hash_chain.length says ${String(chain.length)} but ${entries.length} events are listed`);

  // 3. The events the document carries: each must hash to its chain entry's digest.
  if (Array.isArray(doc.events)) {
    const bySeq = new Map(entries.map((e) => [e.seq, e]));
    const seen = new Set<unknown>();
    const events = doc.events as Record<string, unknown>[];
    const eventDigests = await Promise.all(events.map((e) => sha256Hex(JSON.stringify(e))));
    events.forEach((event, i) => {
      const seq = isObject(event) ? event.seq : undefined;
      const entry = bySeq.get(seq as number);
      seen.add(seq);
      if (!entry) {
        problems.push(`event seq ${String(seq)} (${String(event?.type)}) is not in the signed hash chain`);
      } else if (eventDigests[i] !== entry.digest) {
        problems.push(
          `event seq ${entry.seq} (${entry.type}) was altered: its content does not match its hash ${entry.hash.slice(0, 16)}…`,
        );
      }
    });
    for (const entry of entries)
      if (!seen.has(entry.seq)) problems.push(`event seq ${entry.seq} (${entry.type}) is missing`);
  }

  // 4. The Ed25519 signature over the canonical receipt, with the server's key.
  let signatureOk = false;
  try {
    const publicKey = await crypto.subtle.importKey("spki", spkiOf(key.public_key), { name: "Ed25519" }, false, [
      "verify",
    ]);
    signatureOk = await crypto.subtle.verify(
      { name: "Ed25519" },
      publicKey,
      base64Bytes(doc.signature as string),
      encoder.encode(canonical(receipt)),
    );
  } catch (err) {
    problems.push(`signature could not be checked: ${(err as Error).message}`);
  }
  if (!signatureOk) {
    const before = problems.length;
    const fieldsAltered = problems.some((p) => p.startsWith("field "));
    if (receipt.key_id !== key.key_id) {
      problems.push(
        `field "key_id" names key ${JSON.stringify(receipt.key_id)}, not this server's key ${key.key_id}: it was signed elsewhere or altered`,
      );
    }
    if (receipt.version !== 1)
      problems.push(`field "version" was altered: it is ${JSON.stringify(receipt.version)}, receipts are version 1`);
    const issued = typeof receipt.issued_at === "string" ? receipt.issued_at : "";
    if (Number.isNaN(Date.parse(issued)) || new Date(issued).toISOString() !== issued)
      problems.push(`field "issued_at" was altered: ${JSON.stringify(receipt.issued_at)} is not a timestamp as issued`);
    const ids = Array.isArray(doc.events)
      ? new Set((doc.events as Record<string, unknown>[]).map((e) => (isObject(e) ? e.debate_id : undefined)))
      : new Set<unknown>();
    if (ids.size > 0 && !(ids.size === 1 && ids.has(receipt.debate_id)))
      problems.push(`field "debate_id" was altered: the receipt's events belong to ${[...ids].map(String).join(", ")}`);
    if (problems.length === before && !fieldsAltered) {
      problems.push(
        `signature is not valid for this server's key: every field matches its digest, so the change is in debate_id ${JSON.stringify(receipt.debate_id)}, issued_at ${JSON.stringify(receipt.issued_at)}, the digests or the signature itself`,
      );
    } else {
      problems.push("signature is not valid for this server's key");
    }
  }
  if (typeof doc.public_key === "string" && doc.public_key.trim() !== key.public_key.trim())
    problems.push('field "public_key" names a different public key than this server\'s');
  return { ok: problems.length === 0, problems, events: entries.length, debateId };
}
