/**
 * The keys that encrypt stored secrets: `ARAGORA_ENCRYPTION_KEY` is one 64-hex-character key or a
 * comma-separated list of them, newest first (the first encrypts, all decrypt); a key file holds the
 * same keys one a line. Each key is known by a key id derived from it (never the key itself), which
 * every ciphertext carries, so a reader knows which key it needs and an operator can count records
 * per key without seeing any key material.
 *
 * Parsing never echoes a value: an error says which entry is wrong and what the form is.
 */
import { createHmac, createSecretKey, type KeyObject, randomBytes } from "node:crypto";

/** One usable key: its id and the AES-256 key object (the raw bytes are not kept in reach). */
export interface EncryptionKey {
  readonly id: string;
  readonly key: KeyObject;
}

/** The configured keys, the active (encrypting) one first. */
export interface KeyRing {
  readonly active: EncryptionKey;
  /** Every key by id, the active one included. */
  readonly byId: ReadonlyMap<string, EncryptionKey>;
  /** Ids in configured order (active first). */
  readonly ids: readonly string[];
}

/** A key list that cannot be used; the message names the source and the rule, never the value. */
export class KeyFormatError extends Error {
  override name = "KeyFormatError";
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * The id of a key: `k` + the first 12 hex characters of HMAC-SHA256(key, "aragora key id"). It
 * names the key stably across restarts and nodes without revealing anything about it.
 *
 * @example keyIdOf(Buffer.alloc(32)) // "k" + 12 hex characters
 */
export function keyIdOf(raw: Uint8Array): string {
  return `k${createHmac("sha256", raw).update("aragora key id").digest("hex").slice(0, 12)}`;
}

/**
 * A new random 256-bit key as 64 lower-case hex characters (what `aragora keys generate` prints).
 *
 * @example const hex = generateKeyHex(); // "9f0c…" (64 characters)
 */
export function generateKeyHex(): string {
  return randomBytes(32).toString("hex");
}

/**
 * Parses a key list: entries separated by commas (`source` an environment variable) or by new
 * lines (a key file; `#` comments and blank lines ignored). `source` names where the keys came
 * from, for the error message.
 *
 * @example
 * const ring = parseKeyList(process.env.ARAGORA_ENCRYPTION_KEY!, "ARAGORA_ENCRYPTION_KEY");
 * ring.active.id; // the id of the first key
 */
export function parseKeyList(value: string, source: string, separator: "," | "\n" = ","): KeyRing {
  const entries = value
    .split(separator === "," ? "," : /\r?\n/)
    .map((e) => e.trim())
    .filter((e) => e !== "" && !(separator === "\n" && e.startsWith("#")));
  if (entries.length === 0) {
    throw new KeyFormatError(
      `${source} holds no key: expected 64 hex characters (a 256-bit key), or several separated by ${separator === "," ? "commas" : "new lines"}, newest first`,
    );
  }
  const keys: EncryptionKey[] = entries.map((entry, i) => {
    if (!HEX_KEY.test(entry)) {
      const where = entries.length > 1 ? `entry ${i + 1} of ${entries.length} of ${source}` : source;
      throw new KeyFormatError(
        `${where} is not a key: expected exactly 64 hex characters (32 bytes), got ${entry.length} characters`,
      );
    }
    const raw = Buffer.from(entry, "hex");
    const key = { id: keyIdOf(raw), key: createSecretKey(raw) };
    raw.fill(0);
    return key;
  });
  return ringOf(keys, source);
}

/** The form of a key file, for error messages. */
export const KEY_FILE_FORM =
  "one key a line, 64 hex characters (a 256-bit key), newest first; blank lines and lines starting with # are ignored";

/**
 * Parses a key file's text: one key a line, newest (active) first; blank lines and `#` comments
 * (a whole line, or after the key) ignored. A problem is a {@link KeyFormatError} naming
 * `path:line`, what is wrong and the expected form, never the line's content.
 *
 * @example
 * const ring = parseKeyFile(readSecretFile(path), path);
 * // a bad line: "/etc/aragora/keys:3: is not a key: expected 64 hex characters, got 63 characters; ..."
 */
export function parseKeyFile(text: string, path: string): KeyRing {
  const keys: EncryptionKey[] = [];
  const lineOf = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const hash = raw.indexOf("#");
    const entry = (hash < 0 ? raw : raw.slice(0, hash)).trim();
    if (entry === "") continue;
    const where = `${path}:${i + 1}`;
    if (!HEX_KEY.test(entry)) {
      throw new KeyFormatError(
        `${where}: is not a key: expected 64 hex characters, got ${entry.length} characters${/\s/.test(entry) ? " with spaces" : ""}; the file holds ${KEY_FILE_FORM}`,
      );
    }
    const bytes = Buffer.from(entry, "hex");
    const key = { id: keyIdOf(bytes), key: createSecretKey(bytes) };
    bytes.fill(0);
    const first = lineOf.get(key.id);
    if (first !== undefined) {
      throw new KeyFormatError(`${where}: repeats the key of line ${first} (${key.id}); expected each key once`);
    }
    lineOf.set(key.id, i + 1);
    keys.push(key);
  }
  if (keys.length === 0) throw new KeyFormatError(`${path}: holds no key; expected ${KEY_FILE_FORM}`);
  return ringOf(keys, path);
}

/**
 * A ring from keys already made (the active one first); duplicates are refused since they would
 * make the list's order meaningless.
 *
 * @example const ring = ringOf([newKey, oldKey], "test");
 */
export function ringOf(keys: readonly EncryptionKey[], source: string): KeyRing {
  const byId = new Map<string, EncryptionKey>();
  for (const [i, k] of keys.entries()) {
    if (byId.has(k.id)) throw new KeyFormatError(`entry ${i + 1} of ${source} repeats key ${k.id}`);
    byId.set(k.id, k);
  }
  const active = keys[0];
  if (active === undefined) throw new KeyFormatError(`${source} holds no key`);
  return { active, byId, ids: keys.map((k) => k.id) };
}

/**
 * One key from 64 hex characters (tests and `aragora keys generate`).
 *
 * @example const key = keyFromHex(generateKeyHex());
 */
export function keyFromHex(hex: string): EncryptionKey {
  return parseKeyList(hex, "key").active;
}
