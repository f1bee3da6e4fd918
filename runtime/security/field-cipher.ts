/**
 * Field encryption: AES-256-GCM with a fresh 96-bit random IV for every write, and the version,
 * key id and the field's place (table, record id, field) bound as additional authenticated data,
 * so a ciphertext copied to another record or field does not decrypt, and neither does one whose
 * key id was edited. The stored form is a small versioned JSON envelope marked `_encrypted: true`
 * (the runbook's marker), so a reader tells encrypted from plaintext records during a migration
 * and a later version can change the format.
 *
 * ```json
 * {"_encrypted":true,"v":1,"kid":"k3f9a0c12b4de","iv":"<12 bytes, base64url>","ct":"<ciphertext+16-byte tag, base64url>"}
 * ```
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { KeyRing } from "./encryption-keys.ts";

/** Where a field lives: bound into its ciphertext. */
export interface FieldRef {
  readonly table: string;
  readonly id: string;
  readonly field: string;
}

/** The stored envelope of an encrypted field (version 1). */
export interface EncryptedField {
  readonly _encrypted: true;
  readonly v: 1;
  readonly kid: string;
  readonly iv: string;
  readonly ct: string;
}

/** The record needs a key that is not configured: names the key id, as the runbook's "Key not found". */
export class KeyNotFoundError extends Error {
  override name = "KeyNotFoundError";
  constructor(
    readonly keyId: string,
    readonly ref: FieldRef,
    configured: readonly string[],
  ) {
    super(
      `Key not found: ${ref.table}.${ref.field} of ${ref.id} was encrypted with key ${keyId}, which is not configured (configured: ${configured.join(", ") || "none"}); add that key to ARAGORA_ENCRYPTION_KEY (or the key file of ARAGORA_ENCRYPTION_KEY_FILE) after the active one`,
    );
  }
}

/** The ciphertext does not authenticate: it was altered, or moved from another record or field. */
export class TamperedFieldError extends Error {
  override name = "TamperedFieldError";
  constructor(readonly ref: FieldRef) {
    super(
      `${ref.table}.${ref.field} of ${ref.id} does not authenticate: its ciphertext was altered or belongs to another record or field`,
    );
  }
}

/** A value marked encrypted whose envelope is malformed (or of a version this server does not know). */
export class EnvelopeFormatError extends Error {
  override name = "EnvelopeFormatError";
  constructor(
    message: string,
    /** The field whose envelope it is, when known. */
    readonly ref?: FieldRef,
  ) {
    super(message);
  }
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]*$/;

function aad(version: number, kid: string, ref: FieldRef): Buffer {
  // JSON of an array: unambiguous whatever characters the parts hold.
  return Buffer.from(JSON.stringify([version, kid, ref.table, ref.id, ref.field]), "utf8");
}

/**
 * Encrypts `plaintext` for the field `ref` with the ring's active key.
 *
 * @example
 * const sealed = encryptField(ring, "sk-live-...", { table: "provider_keys", id: "pk_1", field: "secret" });
 */
export function encryptField(ring: KeyRing, plaintext: string, ref: FieldRef): EncryptedField {
  const { id: kid, key } = ring.active;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad(1, kid, ref));
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
  return { _encrypted: true, v: 1, kid, iv: iv.toString("base64url"), ct: ct.toString("base64url") };
}

/**
 * Whether `value` is an encrypted field's envelope (by its marker; the envelope is checked on decrypt).
 *
 * @example isEncryptedField(JSON.parse(row.secret)) ? decryptField(ring, ...) : row.secret
 */
export function isEncryptedField(value: unknown): value is EncryptedField {
  return typeof value === "object" && value !== null && (value as { _encrypted?: unknown })._encrypted === true;
}

/**
 * Decrypts an envelope made by {@link encryptField} for the same `ref`. Throws
 * {@link KeyNotFoundError} (the key id is not in the ring), {@link TamperedFieldError} (altered or
 * moved) or {@link EnvelopeFormatError}; never returns garbage.
 *
 * @example const secret = decryptField(ring, sealed, { table: "provider_keys", id: "pk_1", field: "secret" });
 */
export function decryptField(ring: KeyRing, envelope: EncryptedField, ref: FieldRef): string {
  const { v, kid, iv, ct } = envelope as unknown as Record<string, unknown>;
  if (v !== 1)
    throw new EnvelopeFormatError(
      `${ref.table}.${ref.field} of ${ref.id}: envelope version ${String(v)} is not known`,
      ref,
    );
  if (
    typeof kid !== "string" ||
    typeof iv !== "string" ||
    typeof ct !== "string" ||
    !B64URL.test(iv) ||
    !B64URL.test(ct)
  ) {
    throw new EnvelopeFormatError(`${ref.table}.${ref.field} of ${ref.id}: the encrypted envelope is malformed`, ref);
  }
  const key = ring.byId.get(kid);
  if (key === undefined) throw new KeyNotFoundError(kid, ref, ring.ids);
  const ivBytes = Buffer.from(iv, "base64url");
  const body = Buffer.from(ct, "base64url");
  if (ivBytes.length !== IV_BYTES || body.length < TAG_BYTES) throw new TamperedFieldError(ref);
  const decipher = createDecipheriv("aes-256-gcm", key.key, ivBytes);
  decipher.setAAD(aad(1, kid, ref));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new TamperedFieldError(ref);
  }
}

/**
 * A text column's stored form of `plaintext`: the envelope as JSON.
 *
 * @example await repo.update(table).set({ secret: sealText(ring, secret, ref) })
 */
export function sealText(ring: KeyRing, plaintext: string, ref: FieldRef): string {
  return JSON.stringify(encryptField(ring, plaintext, ref));
}

/**
 * Whether a text column's stored value is an encrypted envelope (rather than a plaintext value
 * written before encryption was turned on).
 *
 * @example if (!isSealedText(row.secret)) plaintextCount++;
 */
export function isSealedText(stored: string): boolean {
  return stored.startsWith(SEALED_MARK);
}

/** How every sealed text value starts (the envelope's first member, as JSON.stringify writes it). */
export const SEALED_MARK = '{"_encrypted":true';
/** How {@link sealText} writes the envelope up to the key id (its members in encryptField's order). */
const SEALED_PREFIX = `${SEALED_MARK},"v":1,"kid":"`;
/** How many characters of a stored value {@link keyIdOfSealedHead} needs: the prefix, a key id, its quote. */
export const SEALED_HEAD_LENGTH = SEALED_PREFIX.length + "k0123456789ab".length + 1;

/**
 * The key id in the first {@link SEALED_HEAD_LENGTH} characters of a sealed value as
 * {@link sealText} writes it (what a database can group by without reading whole values), or
 * undefined for a value sealed in another form, which only a full parse reads.
 *
 * @example keyIdOfSealedHead('{"_encrypted":true,"v":1,"kid":"k3f9a0c12b4de"') // "k3f9a0c12b4de"
 */
export function keyIdOfSealedHead(head: string): string | undefined {
  if (!head.startsWith(SEALED_PREFIX) || head.length !== SEALED_HEAD_LENGTH || !head.endsWith('"')) return undefined;
  const kid = head.slice(SEALED_PREFIX.length, -1);
  return /^k[0-9a-f]{12}$/.test(kid) ? kid : undefined;
}

/** The key id a sealed text value needs, or null for plaintext (for `aragora keys verify`'s counts). */
export function keyIdOfSealedText(stored: string): string | null {
  if (!isSealedText(stored)) return null;
  try {
    const kid = (JSON.parse(stored) as { kid?: unknown }).kid;
    return typeof kid === "string" ? kid : null;
  } catch {
    return null;
  }
}

/**
 * The plaintext of a text column: decrypted when sealed, as stored when written before encryption
 * (the migration reads both). `ring` undefined with a sealed value throws {@link KeyNotFoundError}.
 *
 * @example const secret = openText(ring, row.secret, { table: "oauth_identities", id: row.id, field: "refresh_token" });
 */
export function openText(ring: KeyRing | undefined, stored: string, ref: FieldRef): string {
  if (!isSealedText(stored)) return stored;
  let envelope: unknown;
  try {
    envelope = JSON.parse(stored);
  } catch {
    throw new EnvelopeFormatError(
      `${ref.table}.${ref.field} of ${ref.id}: the encrypted envelope is not valid JSON`,
      ref,
    );
  }
  if (!isEncryptedField(envelope))
    throw new EnvelopeFormatError(`${ref.table}.${ref.field} of ${ref.id}: the encrypted envelope is malformed`, ref);
  if (ring === undefined) throw new KeyNotFoundError(String((envelope as { kid?: unknown }).kid), ref, []);
  return decryptField(ring, envelope, ref);
}
