/**
 * Sealed streams: a streaming, chunked AEAD file format for large files (backup archives), so a
 * file of any size is encrypted and decrypted in bounded memory and every kind of damage is
 * detected and named before a byte of the damaged part is handed on.
 *
 * The construction is STREAM (Hoang, Reyhanitabar, Rogaway, Vizár 2015) over AES-256-GCM from
 * `node:crypto`. Each file draws a random 32-byte salt; HKDF-SHA256(key, salt) gives the file its
 * own AES key, a 7-byte nonce prefix and a 32-byte key commitment, so nonces never repeat across
 * files (whatever their number) and a file opened with the wrong key is refused before any chunk
 * is tried (GCM alone does not commit to its key). Chunk `i` is sealed with the nonce
 * `prefix ‖ u32 i ‖ final` and the additional data `header ‖ u32 i ‖ final`: moving a chunk, cutting
 * the file after any chunk, adding data after the last one or editing the header each make a chunk
 * fail to authenticate, and the reader names which.
 *
 * ```
 * header  "ARAGSEAL" | version u8 = 1 | chunk size u32 | key id length u8 | key id (ASCII)
 *         | salt (32) | key commitment (32) | check (8: sha256 of the bytes before it, to tell
 *           a damaged header from a key that is not configured)
 * chunks  u32 (bit 31: final; bits 0-30: plaintext length) | ciphertext | GCM tag (16)
 *         every chunk but the last holds exactly `chunk size` bytes; the last holds 0..chunk size
 * ```
 *
 * @example
 * await pipeline(createReadStream("a.tar.gz"), sealStream(ring.active), createWriteStream("a.tar.gz.enc"));
 * await pipeline(createReadStream("a.tar.gz.enc"), openSealedStream(ring, { label: "a.tar.gz.enc" }), createWriteStream("b.tar.gz"));
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createSecretKey,
  hkdfSync,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import type { EncryptionKey, KeyRing } from "./encryption-keys.ts";

/** The first bytes of every sealed file. */
export const SEALED_MAGIC: Buffer = Buffer.from("ARAGSEAL", "latin1");
export const SEALED_VERSION = 1;
/** Plaintext bytes per chunk unless told otherwise. */
export const DEFAULT_CHUNK_BYTES = 64 * 1024;
/** The largest chunk a reader accepts: what it may have to hold in memory at once. */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

const SALT_BYTES = 32;
const COMMIT_BYTES = 32;
const CHECK_BYTES = 8;
const PREFIX_BYTES = 7;
const SUBKEY_BYTES = 32;
const TAG_BYTES = 16;
const RECORD_HEAD_BYTES = 4;
const FINAL_BIT = 0x8000_0000;
const MAX_CHUNKS = 0xffff_ffff;
const KEY_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** magic, version, chunk size, key id length: what is read before the key id's length is known. */
const FIXED_BYTES = SEALED_MAGIC.length + 1 + 4 + 1;
/** The longest header (a 64-character key id). */
export const MAX_HEADER_BYTES = FIXED_BYTES + 64 + SALT_BYTES + COMMIT_BYTES + CHECK_BYTES;
const HKDF_INFO = Buffer.from("aragora sealed-stream v1", "latin1");
/** How far from its place a reader looks for a chunk that fails, to tell "moved" from "altered". */
const REORDER_WINDOW = 256;

/** What is wrong with a sealed file; each kind of damage has its own name. */
export type SealedFailure =
  | "not-sealed"
  | "version"
  | "header"
  | "key-not-found"
  | "wrong-key"
  | "truncated"
  | "appended"
  | "reordered"
  | "altered";

/** A sealed file that cannot be opened; `reason` says why, the message says where. */
export class SealedStreamError extends Error {
  override name = "SealedStreamError";
  constructor(
    readonly reason: SealedFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The file needs a key that is not configured: names its key id (the runbook's "Key not found"). */
export class SealedKeyNotFoundError extends SealedStreamError {
  override name = "SealedKeyNotFoundError";
  constructor(
    readonly keyId: string,
    label: string,
    configured: readonly string[],
  ) {
    super(
      "key-not-found",
      `Key not found: ${label} was encrypted with key ${keyId}, which is not configured (configured: ${configured.join(", ") || "none"}); add that key to ARAGORA_ENCRYPTION_KEY after the active one`,
    );
  }
}

/** A sealed file's header, as read (nothing in it is secret). */
export interface SealedHeader {
  readonly version: number;
  /** Plaintext bytes per chunk. */
  readonly chunkBytes: number;
  /** The id of the key the file was sealed with. */
  readonly keyId: string;
  readonly salt: Buffer;
  readonly commitment: Buffer;
  /** The header's bytes, bound into every chunk. */
  readonly bytes: Buffer;
}

interface FileKeys {
  key: KeyObject;
  prefix: Buffer;
  commitment: Buffer;
}

function deriveFileKeys(key: KeyObject, salt: Buffer): FileKeys {
  const okm = Buffer.from(hkdfSync("sha256", key, salt, HKDF_INFO, SUBKEY_BYTES + PREFIX_BYTES + COMMIT_BYTES));
  const fileKey = createSecretKey(okm.subarray(0, SUBKEY_BYTES));
  const prefix = Buffer.from(okm.subarray(SUBKEY_BYTES, SUBKEY_BYTES + PREFIX_BYTES));
  const commitment = Buffer.from(okm.subarray(SUBKEY_BYTES + PREFIX_BYTES));
  okm.fill(0);
  return { key: fileKey, prefix, commitment };
}

function headerBytes(keyId: string, chunkBytes: number, salt: Buffer, commitment: Buffer): Buffer {
  const kid = Buffer.from(keyId, "latin1");
  const fixed = Buffer.alloc(FIXED_BYTES);
  SEALED_MAGIC.copy(fixed, 0);
  fixed.writeUInt8(SEALED_VERSION, SEALED_MAGIC.length);
  fixed.writeUInt32BE(chunkBytes, SEALED_MAGIC.length + 1);
  fixed.writeUInt8(kid.length, SEALED_MAGIC.length + 5);
  const body = Buffer.concat([fixed, kid, salt, commitment]);
  return Buffer.concat([body, createHash("sha256").update(body).digest().subarray(0, CHECK_BYTES)]);
}

/** `prefix ‖ u32 index ‖ final` (the nonce) or `header ‖ u32 index ‖ final` (the additional data). */
function withPosition(lead: Buffer, index: number, final: boolean): Buffer {
  const out = Buffer.alloc(lead.length + 5);
  lead.copy(out, 0);
  out.writeUInt32BE(index, lead.length);
  out.writeUInt8(final ? 1 : 0, lead.length + 4);
  return out;
}

function sealChunk(keys: FileKeys, header: Buffer, index: number, final: boolean, plain: Buffer): Buffer {
  const cipher = createCipheriv("aes-256-gcm", keys.key, withPosition(keys.prefix, index, final));
  cipher.setAAD(withPosition(header, index, final));
  const head = Buffer.alloc(RECORD_HEAD_BYTES);
  head.writeUInt32BE((final ? FINAL_BIT : 0) + plain.length);
  const body = cipher.update(plain);
  const rest = cipher.final();
  return Buffer.concat([head, body, rest, cipher.getAuthTag()]);
}

/** The plaintext when the chunk authenticates at (`index`, `final`), else undefined (nothing unauthenticated escapes). */
function openChunk(
  keys: FileKeys,
  header: Buffer,
  index: number,
  final: boolean,
  sealed: Buffer,
  tag: Buffer,
): Buffer | undefined {
  const decipher = createDecipheriv("aes-256-gcm", keys.key, withPosition(keys.prefix, index, final));
  decipher.setAAD(withPosition(header, index, final));
  decipher.setAuthTag(tag);
  const body = decipher.update(sealed);
  try {
    decipher.final();
  } catch {
    return undefined;
  }
  return body;
}

/** Why chunk `index` failed: moved from elsewhere, its final flag changed, or altered. */
function diagnose(
  keys: FileKeys,
  header: Buffer,
  index: number,
  final: boolean,
  sealed: Buffer,
  tag: Buffer,
  label: string,
): SealedStreamError {
  if (openChunk(keys, header, index, !final, sealed, tag) !== undefined) {
    return final
      ? new SealedStreamError(
          "truncated",
          `${label}: truncated: chunk ${index} was marked as the last one but was written as a middle chunk (the file was cut short)`,
        )
      : new SealedStreamError(
          "appended",
          `${label}: data was appended: chunk ${index} was written as the last chunk but is marked as followed by more`,
        );
  }
  const from = Math.max(0, index - REORDER_WINDOW);
  const to = Math.min(MAX_CHUNKS, index + REORDER_WINDOW);
  // The final flag travels with a chunk, so a moved chunk authenticates at its own index and flag.
  for (let j = from; j <= to; j++) {
    if (j !== index && openChunk(keys, header, j, final, sealed, tag) !== undefined) {
      return new SealedStreamError(
        "reordered",
        `${label}: chunks are out of order: position ${index} holds chunk ${j}${final ? " (the last one)" : ""}`,
      );
    }
  }
  return new SealedStreamError(
    "altered",
    `${label}: chunk ${index} does not authenticate: its bytes were altered (or it comes from another file)`,
  );
}

/**
 * Reads a header from the first bytes of a file: the header, `undefined` while more bytes are
 * needed, or throws {@link SealedStreamError} (`not-sealed`, `version`, `header`).
 *
 * @example const header = parseSealedHeader(firstBytes, "a.tar.gz.enc"); header?.keyId // "k3f9a0c12b4de"
 */
export function parseSealedHeader(bytes: Buffer, label = "sealed stream"): SealedHeader | undefined {
  const magicSeen = Math.min(bytes.length, SEALED_MAGIC.length);
  if (!bytes.subarray(0, magicSeen).equals(SEALED_MAGIC.subarray(0, magicSeen))) {
    throw new SealedStreamError(
      "not-sealed",
      `${label} is not a sealed (encrypted) file: its first bytes are not ARAGSEAL`,
    );
  }
  if (bytes.length < FIXED_BYTES) return undefined;
  const version = bytes.readUInt8(SEALED_MAGIC.length);
  if (version !== SEALED_VERSION) {
    throw new SealedStreamError(
      "version",
      `${label}: sealed format version ${version} is not known (this server reads version ${SEALED_VERSION})`,
    );
  }
  const chunkBytes = bytes.readUInt32BE(SEALED_MAGIC.length + 1);
  const kidLength = bytes.readUInt8(SEALED_MAGIC.length + 5);
  if (chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES || kidLength < 1 || kidLength > 64) {
    throw new SealedStreamError("header", `${label}: the sealed header is damaged (impossible chunk size or key id)`);
  }
  const total = FIXED_BYTES + kidLength + SALT_BYTES + COMMIT_BYTES + CHECK_BYTES;
  if (bytes.length < total) return undefined;
  const header = Buffer.from(bytes.subarray(0, total));
  const check = createHash("sha256")
    .update(header.subarray(0, total - CHECK_BYTES))
    .digest()
    .subarray(0, CHECK_BYTES);
  if (!check.equals(header.subarray(total - CHECK_BYTES))) {
    throw new SealedStreamError("header", `${label}: the sealed header is damaged (its checksum does not match)`);
  }
  let at = FIXED_BYTES;
  const keyId = header.subarray(at, at + kidLength).toString("latin1");
  at += kidLength;
  if (!KEY_ID.test(keyId)) throw new SealedStreamError("header", `${label}: the sealed header's key id is malformed`);
  const salt = header.subarray(at, at + SALT_BYTES);
  at += SALT_BYTES;
  const commitment = header.subarray(at, at + COMMIT_BYTES);
  return { version, chunkBytes, keyId, salt, commitment, bytes: header };
}

/**
 * The header of a sealed file on disk, or null when the file is not sealed (a plain file). Reads
 * only the first bytes; throws {@link SealedStreamError} when the header is damaged or cut short.
 *
 * @example readSealedHeaderFile("backups/aragora-backup-20261128T031500Z.tar.gz.enc")?.keyId // "k3f9a0c12b4de"
 */
export function readSealedHeaderFile(path: string): SealedHeader | null {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(MAX_HEADER_BYTES);
    let got = 0;
    while (got < buf.length) {
      const n = readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const bytes = buf.subarray(0, got);
    if (!isSealedPrefix(bytes)) return null;
    const header = parseSealedHeader(bytes, path);
    if (header === undefined) throw new SealedStreamError("truncated", `${path}: truncated inside its sealed header`);
    return header;
  } finally {
    closeSync(fd);
  }
}

/**
 * Whether bytes start like a sealed file (the whole magic is present and matches).
 *
 * @example isSealedPrefix(Buffer.from("ARAGSEAL\x01")) // true
 */
export function isSealedPrefix(bytes: Uint8Array): boolean {
  return bytes.length >= SEALED_MAGIC.length && SEALED_MAGIC.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 8));
}

/** Joins what has arrived with what was left over, without copying when nothing was left over. */
function appendBytes(left: Buffer, chunk: Buffer): Buffer {
  return left.length === 0 ? chunk : Buffer.concat([left, chunk]);
}

class SealingStream extends Transform {
  private readonly keys: FileKeys;
  private readonly header: Buffer;
  private pending: Buffer = Buffer.alloc(0);
  private index = 0;
  private headerSent = false;

  constructor(
    key: EncryptionKey,
    private readonly chunkBytes: number,
  ) {
    super();
    const salt = randomBytes(SALT_BYTES);
    this.keys = deriveFileKeys(key.key, salt);
    this.header = headerBytes(key.id, chunkBytes, salt, this.keys.commitment);
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  private seal(final: boolean, plain: Buffer): void {
    if (this.index > MAX_CHUNKS) throw new Error(`a sealed stream holds at most ${MAX_CHUNKS} chunks`);
    this.push(sealChunk(this.keys, this.header, this.index, final, plain));
    this.index++;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.sendHeader();
      const data = appendBytes(this.pending, chunk);
      let at = 0;
      // A full chunk is never the last: the last one is sealed at the end, however short (even empty).
      for (; data.length - at >= this.chunkBytes; at += this.chunkBytes) {
        this.seal(false, data.subarray(at, at + this.chunkBytes));
      }
      // A copy: the writer may reuse its buffer once this call returns.
      this.pending = Buffer.from(data.subarray(at));
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(true, this.pending);
      this.pending = Buffer.alloc(0);
      done();
    } catch (err) {
      done(err as Error);
    }
  }
}

class OpeningStream extends Transform {
  private pending: Buffer = Buffer.alloc(0);
  private state: "header" | "chunks" | "done" = "header";
  private header: SealedHeader | undefined;
  private keys: FileKeys | undefined;
  private index = 0;

  constructor(
    private readonly ring: KeyRing | undefined,
    private readonly label: string,
  ) {
    super();
  }

  /** The header, once read (its key id names the key that opened the file). */
  get sealedHeader(): SealedHeader | undefined {
    return this.header;
  }

  private readHeader(): boolean {
    const header = parseSealedHeader(this.pending, this.label);
    if (header === undefined) return false;
    const key = this.ring?.byId.get(header.keyId);
    if (key === undefined) throw new SealedKeyNotFoundError(header.keyId, this.label, this.ring?.ids ?? []);
    const keys = deriveFileKeys(key.key, header.salt);
    if (!timingSafeEqual(keys.commitment, header.commitment)) {
      throw new SealedStreamError(
        "wrong-key",
        `${this.label}: the configured key ${header.keyId} is not the key this file was sealed with (wrong key, or an altered header)`,
      );
    }
    this.header = header;
    this.keys = keys;
    this.pending = this.pending.subarray(header.bytes.length);
    this.state = "chunks";
    return true;
  }

  /** Opens the next chunk if all of it has arrived; false while more bytes are needed. */
  private readChunk(): boolean {
    const header = this.header as SealedHeader;
    const keys = this.keys as FileKeys;
    if (this.pending.length < RECORD_HEAD_BYTES) return false;
    const head = this.pending.readUInt32BE(0);
    const final = (head & FINAL_BIT) !== 0;
    const length = head & ~FINAL_BIT;
    if (length > header.chunkBytes || (!final && length !== header.chunkBytes)) {
      throw new SealedStreamError(
        "altered",
        `${this.label}: chunk ${this.index} is damaged: it claims ${length} bytes${final ? " as the last chunk" : ""}, but chunks hold ${header.chunkBytes}`,
      );
    }
    const end = RECORD_HEAD_BYTES + length + TAG_BYTES;
    if (this.pending.length < end) return false;
    const sealed = this.pending.subarray(RECORD_HEAD_BYTES, RECORD_HEAD_BYTES + length);
    const tag = this.pending.subarray(RECORD_HEAD_BYTES + length, end);
    const plain = openChunk(keys, header.bytes, this.index, final, sealed, tag);
    if (plain === undefined) throw diagnose(keys, header.bytes, this.index, final, sealed, tag, this.label);
    // Only authenticated bytes are handed on.
    if (plain.length > 0) this.push(plain);
    this.pending = this.pending.subarray(end);
    this.index++;
    if (final) this.state = "done";
    return true;
  }

  private drain(): void {
    for (;;) {
      if (this.state === "header" && !this.readHeader()) return;
      if (this.state === "chunks" && !this.readChunk()) return;
      if (this.state === "done") {
        if (this.pending.length > 0) {
          throw new SealedStreamError(
            "appended",
            `${this.label}: data was appended: ${this.pending.length}+ byte(s) follow the last chunk (chunk ${this.index - 1})`,
          );
        }
        return;
      }
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.pending = appendBytes(this.pending, chunk);
      this.drain();
      // Keep only what is left of the current chunk, not the whole buffer it was cut from.
      if (this.pending.length > 0 && this.pending.byteOffset > 0) this.pending = Buffer.from(this.pending);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    done(this.endFailure());
  }

  /** What is wrong when the input ends here; undefined when the last chunk was read. */
  private endFailure(): SealedStreamError | undefined {
    const label = this.label;
    if (this.state === "done") return undefined;
    if (this.state === "header") {
      return this.pending.length === 0
        ? new SealedStreamError("truncated", `${label}: truncated: the file is empty`)
        : new SealedStreamError("truncated", `${label}: truncated inside its sealed header`);
    }
    return new SealedStreamError(
      "truncated",
      this.pending.length > 0
        ? `${label}: truncated inside chunk ${this.index} (the file was cut short)`
        : this.index === 0
          ? `${label}: truncated: no chunk follows the header (the file was cut short)`
          : `${label}: truncated after chunk ${this.index - 1}: the last chunk is missing (the file was cut short)`,
    );
  }
}

/**
 * A Transform that seals what is written to it with `key` (header first, then chunks of
 * `chunkBytes` plaintext bytes). Memory use is one chunk plus what the stream buffers.
 *
 * @example
 * await pipeline(createReadStream(plain), sealStream(ring.active), createWriteStream(`${plain}.enc`));
 */
export function sealStream(key: EncryptionKey, options: { chunkBytes?: number } = {}): Transform {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_CHUNK_BYTES) {
    throw new RangeError(`chunkBytes must be an integer from 1 to ${MAX_CHUNK_BYTES}`);
  }
  if (!KEY_ID.test(key.id)) throw new RangeError("the key id must be 1-64 characters of [A-Za-z0-9_-]");
  return new SealingStream(key, chunkBytes);
}

/**
 * A Transform that opens a sealed stream with the key its header names, taken from `ring`. It
 * hands on only authenticated chunks and fails with {@link SealedStreamError} (or
 * {@link SealedKeyNotFoundError}) naming what is wrong: a consumer must treat everything it
 * received as void unless the stream ends without error (a cut-off file is only known at its end).
 * `label` names the file in messages.
 *
 * @example
 * await pipeline(createReadStream(sealed), openSealedStream(ring, { label: sealed }), createWriteStream(plain));
 */
export function openSealedStream(
  ring: KeyRing | undefined,
  options: { label?: string } = {},
): Transform & { readonly sealedHeader: SealedHeader | undefined } {
  return new OpeningStream(ring, options.label ?? "sealed stream");
}
