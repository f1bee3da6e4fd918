import { beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import fc from "fast-check";
import {
  type EncryptionKey,
  generateKeyHex,
  type KeyRing,
  keyFromHex,
  parseKeyList,
  ringOf,
} from "./encryption-keys.ts";
import {
  DEFAULT_CHUNK_BYTES,
  isSealedPrefix,
  openSealedStream,
  parseSealedHeader,
  readSealedHeaderFile,
  SEALED_MAGIC,
  SealedKeyNotFoundError,
  SealedStreamError,
  sealStream,
} from "./sealed-stream.ts";

const oldHex = generateKeyHex();
const newHex = generateKeyHex();
const oldRing = parseKeyList(oldHex, "OLD");
const rotated = parseKeyList(`${newHex},${oldHex}`, "ARAGORA_ENCRYPTION_KEY");
const oldKey = oldRing.active;
const C = 16;
const RECORD = 4 + C + 16;

/** Cuts `bytes` into pieces at the given fractions (so streams see arbitrary write boundaries). */
function pieces(bytes: Buffer, cuts: number[] = []): Buffer[] {
  const at = [...new Set(cuts.map((f) => Math.floor(f * bytes.length)))].filter((n) => n > 0 && n < bytes.length);
  at.sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const n of [...at, bytes.length]) {
    if (n > from) out.push(bytes.subarray(from, n));
    from = n;
  }
  return out;
}

async function through(transform: Transform, input: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), transform, async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

const seal = (plain: Buffer, key: EncryptionKey = oldKey, chunkBytes = C, cuts: number[] = []) =>
  through(sealStream(key, { chunkBytes }), pieces(plain, cuts));
const open = (sealed: Buffer, ring: KeyRing | undefined, cuts: number[] = []) =>
  through(openSealedStream(ring, { label: "test.enc" }), pieces(sealed, cuts));

/** The failure `open` gives, or "opened" when it does not fail. */
/** The failure opening `sealed` gives, or "opened"; `{ ring: undefined }` opens with no keys at all. */
async function failure(
  sealed: Buffer,
  keys: { ring: KeyRing | undefined } = { ring: oldRing },
): Promise<SealedStreamError | "opened"> {
  try {
    await open(sealed, keys.ring);
    return "opened";
  } catch (err) {
    if (err instanceof SealedStreamError) return err;
    throw err;
  }
}

async function reasonOf(sealed: Buffer, ring: KeyRing = oldRing): Promise<string> {
  const f = await failure(sealed, { ring });
  return f === "opened" ? f : f.reason;
}

function headerLength(sealed: Buffer): number {
  return (parseSealedHeader(sealed) as { bytes: Buffer }).bytes.length;
}

describe("round trip", () => {
  test("every size around the chunk boundaries, cut into pieces anywhere on both sides", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1, C - 1, C, C + 1, 2 * C, 3 * C + 7, 10 * C),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 }),
        async (size, sealCuts, openCuts) => {
          const plain = Buffer.from(Array.from({ length: size }, (_, i) => (i * 7 + size) & 0xff));
          const sealed = await seal(plain, oldKey, C, sealCuts);
          // One last chunk (possibly empty) after the full ones, each with its 20 bytes of framing.
          expect(sealed.length).toBe(headerLength(sealed) + size + (Math.floor(size / C) + 1) * 20);
          expect((await open(sealed, oldRing, openCuts)).equals(plain)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  test("random contents of random sizes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 12 * C }), fc.integer({ min: 1, max: 40 }), async (bytes, chunk) => {
        const plain = Buffer.from(bytes);
        expect((await open(await seal(plain, oldKey, chunk), oldRing)).equals(plain)).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  test("the default 64 KiB chunks: 0, 1, chunk-1, chunk, chunk+1 and several chunks", async () => {
    for (const size of [0, 1, DEFAULT_CHUNK_BYTES - 1, DEFAULT_CHUNK_BYTES, DEFAULT_CHUNK_BYTES + 1, 200_000]) {
      const plain = Buffer.alloc(size, size & 0xff);
      const sealed = await through(sealStream(oldKey), pieces(plain, [0.3, 0.5]));
      expect(parseSealedHeader(sealed)?.chunkBytes).toBe(DEFAULT_CHUNK_BYTES);
      expect((await open(sealed, oldRing)).equals(plain)).toBe(true);
    }
  });

  test("each file has its own salt: the same plaintext seals differently, and the key id is in the header", async () => {
    const plain = Buffer.from("the same archive, twice");
    const a = await seal(plain);
    const b = await seal(plain);
    expect(a.equals(b)).toBe(false);
    expect(parseSealedHeader(a)?.salt.equals(parseSealedHeader(b)?.salt as Buffer)).toBe(false);
    expect(parseSealedHeader(a)?.keyId).toBe(oldKey.id);
    expect(a.subarray(0, 8).equals(SEALED_MAGIC)).toBe(true);
    expect(a.includes(plain)).toBe(false);
  });

  test("after a rotation (new,old) a file sealed with the old key opens, and new files use the new key", async () => {
    const plain = Buffer.from("sealed before the rotation");
    expect((await open(await seal(plain, oldKey), rotated)).equals(plain)).toBe(true);
    const fresh = await seal(plain, rotated.active);
    expect(parseSealedHeader(fresh)?.keyId).toBe(rotated.ids[0] as string);
    expect(await reasonOf(fresh, oldRing)).toBe("key-not-found");
  });
});

describe("tampering is detected and named", () => {
  // Six chunks: five full ones (0-4) and a last one of 3 bytes (5).
  const plain = Buffer.from(Array.from({ length: 5 * C + 3 }, (_, i) => i & 0xff));
  let sealed: Buffer;
  let h: number;
  const record = (i: number) => sealed.subarray(h + i * RECORD, h + (i + 1) * RECORD);
  const withRecords = (order: number[]) =>
    Buffer.concat([sealed.subarray(0, h), ...order.map(record), sealed.subarray(h + 5 * RECORD)]);

  beforeAll(async () => {
    sealed = await seal(plain);
    h = headerLength(sealed);
  });

  test("the layout: header, five full chunks, a last one of 3 bytes", () => {
    expect(sealed.length).toBe(h + 5 * RECORD + 4 + 3 + 16);
    expect(sealed.readUInt32BE(h)).toBe(C);
    expect(sealed.readUInt32BE(h + 5 * RECORD)).toBe(0x8000_0000 + 3);
  });

  test("truncation anywhere: every strict prefix fails as truncated", async () => {
    for (let n = 0; n < sealed.length; n++) {
      const f = await failure(sealed.subarray(0, n));
      expect(f === "opened" ? f : f.reason).toBe("truncated");
    }
    const f = await failure(sealed.subarray(0, h + 5 * RECORD));
    expect(f !== "opened" && f.message).toContain("truncated after chunk 4: the last chunk is missing");
  });

  test("truncation that marks the new last chunk as final is still named", async () => {
    const cut = Buffer.from(sealed.subarray(0, h + 3 * RECORD));
    const last = h + 2 * RECORD;
    cut.writeUInt32BE((cut.readUInt32BE(last) | 0x8000_0000) >>> 0, last);
    const f = await failure(cut);
    expect(f !== "opened" && [f.reason, f.message]).toEqual([
      "truncated",
      expect.stringContaining("chunk 2 was marked as the last one"),
    ]);
  });

  test("appending: any bytes after the last chunk", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 3 * RECORD }), async (extra) => {
        expect(await reasonOf(Buffer.concat([sealed, extra]))).toBe("appended");
      }),
      { numRuns: 40 },
    );
    // A whole valid file appended, too.
    expect(await reasonOf(Buffer.concat([sealed, sealed]))).toBe("appended");
  });

  test("reordering: swapped, duplicated or dropped chunks", async () => {
    for (const order of [
      [1, 0, 2, 3, 4],
      [0, 1, 2, 4, 3],
      [0, 3, 2, 1, 4],
      [0, 1, 1, 3, 4],
      [0, 2, 3, 4, 4],
    ]) {
      const f = await failure(withRecords(order));
      expect(f !== "opened" && f.reason).toBe("reordered");
    }
    const f = await failure(withRecords([1, 0, 2, 3, 4]));
    expect(f !== "opened" && f.message).toContain("position 0 holds chunk 1");
    // Dropping a middle chunk: the next one sits one place early.
    expect(await reasonOf(withRecords([0, 1, 3, 4]))).toBe("reordered");
  });

  test("any flipped bit in a chunk's ciphertext or tag is altered; anywhere after the header it fails", async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.integer({ min: 0, max: 7 }), async (at, bit) => {
        const bad = Buffer.from(sealed);
        const i = h + (at % (sealed.length - h));
        bad[i] = (bad[i] as number) ^ (1 << bit);
        const reason = await reasonOf(bad);
        const inFraming = (i - h) % RECORD < 4 || i >= h + 5 * RECORD;
        if (!inFraming) expect(reason).toBe("altered");
        else expect(["altered", "truncated", "appended"]).toContain(reason);
      }),
      { numRuns: 150 },
    );
  });

  test("any flipped bit in the header is reported as a damaged header (or not sealed / unknown version)", async () => {
    for (let i = 0; i < h; i++) {
      const bad = Buffer.from(sealed);
      bad[i] = (bad[i] as number) ^ 0x10;
      const reason = await reasonOf(bad);
      if (i < 8) expect(reason).toBe("not-sealed");
      else if (i === 8) expect(reason).toBe("version");
      else expect(reason).toBe("header");
    }
  });

  test("a chunk moved in from another file sealed with the same key does not authenticate", async () => {
    const other = await seal(plain);
    const ho = headerLength(other);
    const mixed = Buffer.concat([
      sealed.subarray(0, h + RECORD),
      other.subarray(ho + RECORD, ho + 2 * RECORD),
      sealed.subarray(h + 2 * RECORD),
    ]);
    const f = await failure(mixed);
    expect(f !== "opened" && [f.reason, f.message]).toEqual(["altered", expect.stringContaining("chunk 1")]);
  });

  test("nothing unauthenticated is handed on: a consumer sees only whole authenticated chunks", async () => {
    const bad = Buffer.from(sealed);
    bad[h + 3 * RECORD + 10] = (bad[h + 3 * RECORD + 10] as number) ^ 1;
    const seen: Buffer[] = [];
    await expect(
      pipeline(Readable.from([bad]), openSealedStream(oldRing), async (source: AsyncIterable<Buffer>) => {
        for await (const c of source) seen.push(c);
      }),
    ).rejects.toThrow(/chunk 3 does not authenticate/);
    // Whatever reached the consumer before the failure is whole chunks of the true plaintext.
    const got = Buffer.concat(seen);
    expect(got.length % C).toBe(0);
    expect(got.length).toBeLessThanOrEqual(3 * C);
    expect(got.equals(plain.subarray(0, got.length))).toBe(true);
  });
});

describe("keys", () => {
  test("a key that is not configured is named (the runbook's Key not found)", async () => {
    const sealed = await seal(Buffer.from("x"));
    for (const ring of [parseKeyList(newHex, "NEW"), undefined]) {
      const f = await failure(sealed, { ring });
      expect(f).toBeInstanceOf(SealedKeyNotFoundError);
      expect((f as SealedKeyNotFoundError).keyId).toBe(oldKey.id);
      expect((f as Error).message).toContain(`Key not found: test.enc was encrypted with key ${oldKey.id}`);
      expect((f as Error).message).toContain(ring ? `configured: ${ring.active.id}` : "configured: none");
    }
  });

  test("a wrong key under the right id is refused before any chunk is tried", async () => {
    const sealed = await seal(Buffer.alloc(100, 1));
    const impostor = ringOf([{ id: oldKey.id, key: keyFromHex(newHex).key }], "test");
    const f = await failure(sealed, { ring: impostor });
    expect(f !== "opened" && [f.reason, f.message]).toEqual([
      "wrong-key",
      expect.stringContaining(`the configured key ${oldKey.id} is not the key this file was sealed with`),
    ]);
  });

  test("a header re-labelled with another configured key's id (checksum recomputed) is refused", async () => {
    const sealed = await seal(Buffer.alloc(40, 2));
    const header = parseSealedHeader(sealed) as { bytes: Buffer };
    const newId = rotated.ids[0] as string;
    expect(newId.length).toBe(oldKey.id.length);
    const body = Buffer.from(header.bytes.subarray(0, header.bytes.length - 8));
    body.write(newId, 14, "latin1");
    const check = createHash("sha256").update(body).digest().subarray(0, 8);
    const forged = Buffer.concat([body, check, sealed.subarray(header.bytes.length)]);
    expect(await reasonOf(forged, rotated)).toBe("wrong-key");
  });
});

describe("headers", () => {
  test("not sealed, unknown version, and the header read from a file", async () => {
    expect(await reasonOf(Buffer.from("\x1f\x8b\x08\x00 a gzip stream"))).toBe("not-sealed");
    const sealed = await seal(Buffer.from("v"));
    const v2 = Buffer.from(sealed);
    v2[8] = 2;
    const f = await failure(v2);
    expect(f !== "opened" && f.message).toContain("sealed format version 2 is not known");
    expect(isSealedPrefix(sealed)).toBe(true);
    expect(isSealedPrefix(sealed.subarray(0, 7))).toBe(false);

    const dir = mkdtempSync(join(tmpdir(), "sealed-"));
    try {
      writeFileSync(join(dir, "a.enc"), sealed);
      writeFileSync(join(dir, "plain"), "not sealed at all");
      writeFileSync(join(dir, "cut.enc"), sealed.subarray(0, 30));
      const damaged = Buffer.from(sealed);
      damaged[20] = (damaged[20] as number) ^ 1;
      writeFileSync(join(dir, "damaged.enc"), damaged);
      expect(readSealedHeaderFile(join(dir, "a.enc"))?.keyId).toBe(oldKey.id);
      expect(readSealedHeaderFile(join(dir, "plain"))).toBeNull();
      expect(() => readSealedHeaderFile(join(dir, "cut.enc"))).toThrow(/truncated inside its sealed header/);
      expect(() => readSealedHeaderFile(join(dir, "damaged.enc"))).toThrow(/header is damaged/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("chunk sizes out of range are refused when sealing", () => {
    expect(() => sealStream(oldKey, { chunkBytes: 0 })).toThrow(RangeError);
    expect(() => sealStream(oldKey, { chunkBytes: 16 * 1024 * 1024 + 1 })).toThrow(RangeError);
  });
});
