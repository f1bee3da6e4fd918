import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { generateKeyHex, KeyFormatError, parseKeyList, ringOf } from "./encryption-keys.ts";
import {
  decryptField,
  EnvelopeFormatError,
  encryptField,
  type FieldRef,
  KeyNotFoundError,
  keyIdOfSealedHead,
  keyIdOfSealedText,
  openText,
  SEALED_HEAD_LENGTH,
  sealText,
  TamperedFieldError,
} from "./field-cipher.ts";

const oldHex = generateKeyHex();
const newHex = generateKeyHex();
const old = parseKeyList(oldHex, "OLD");
const rotated = parseKeyList(`${newHex},${oldHex}`, "ARAGORA_ENCRYPTION_KEY");
const ref: FieldRef = { table: "provider_keys", id: "pk_1", field: "secret" };
const anyRef = fc.record({
  table: fc.string({ minLength: 1 }),
  id: fc.string({ minLength: 1 }),
  field: fc.string({ minLength: 1 }),
});

describe("the envelope", () => {
  test("round trips any text for any field, with a fresh IV every time", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), anyRef, (text, where) => {
        const a = encryptField(old, text, where);
        const b = encryptField(old, text, where);
        expect(a.iv).not.toBe(b.iv);
        expect(decryptField(old, a, where)).toBe(text);
        expect(openText(old, sealText(old, text, where), where)).toBe(text);
      }),
    );
  });

  test("any flipped byte of the IV or the ciphertext is reported as tampered", () => {
    const sealed = encryptField(old, "sk-live-0123456789", ref);
    fc.assert(
      fc.property(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), (inIv, at, xor) => {
        const part = Buffer.from(inIv ? sealed.iv : sealed.ct, "base64url");
        const i = at % part.length;
        part[i] = (part[i] as number) ^ xor;
        const altered = { ...sealed, [inIv ? "iv" : "ct"]: part.toString("base64url") };
        expect(() => decryptField(old, altered, ref)).toThrow(TamperedFieldError);
      }),
    );
  });

  test("a ciphertext moved to another record, field or table does not decrypt", () => {
    fc.assert(
      fc.property(anyRef, anyRef, (from, to) => {
        fc.pre(from.table !== to.table || from.id !== to.id || from.field !== to.field);
        expect(() => decryptField(old, encryptField(old, "secret", from), to)).toThrow(TamperedFieldError);
      }),
    );
    // Parts are bound as a list, not glued: ("a_b","c") and ("a","b_c") differ.
    const a = encryptField(old, "secret", { table: "t", id: "a_b", field: "c" });
    expect(() => decryptField(old, a, { table: "t", id: "a", field: "b_c" })).toThrow(TamperedFieldError);
  });

  test("a key id edited to another configured key is caught", () => {
    const sealed = encryptField(rotated, "secret", ref);
    const other = rotated.ids[1] as string;
    expect(() => decryptField(rotated, { ...sealed, kid: other }, ref)).toThrow(TamperedFieldError);
  });

  test("an unknown key id names the key it needs", () => {
    const sealed = encryptField(parseKeyList(newHex, "NEW"), "secret", ref);
    const err = (() => {
      try {
        decryptField(old, sealed, ref);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KeyNotFoundError);
    expect((err as KeyNotFoundError).keyId).toBe(sealed.kid);
    expect((err as Error).message).toContain(`Key not found`);
    expect((err as Error).message).toContain(sealed.kid);
    expect(() => openText(undefined, sealText(old, "x", ref), ref)).toThrow(KeyNotFoundError);
  });

  test("a malformed envelope or an unknown version is an error, not garbage", () => {
    const sealed = encryptField(old, "secret", ref);
    expect(() => decryptField(old, { ...sealed, v: 2 as 1 }, ref)).toThrow(EnvelopeFormatError);
    expect(() => decryptField(old, { ...sealed, ct: "not base64url!" }, ref)).toThrow(EnvelopeFormatError);
    expect(() => decryptField(old, { ...sealed, iv: "" }, ref)).toThrow(TamperedFieldError);
    expect(() => openText(old, '{"_encrypted":true,', ref)).toThrow(EnvelopeFormatError);
  });
});

describe("rotation", () => {
  test("the first key encrypts; every key in the list decrypts", () => {
    const before = sealText(old, "written with the old key", ref);
    expect(keyIdOfSealedText(before)).toBe(old.active.id);
    expect(openText(rotated, before, ref)).toBe("written with the old key");
    const after = sealText(rotated, "written after rotation", ref);
    expect(keyIdOfSealedText(after)).toBe(rotated.active.id);
    expect(rotated.active.id).not.toBe(old.active.id);
    expect(() => openText(old, after, ref)).toThrow(KeyNotFoundError);
  });

  test("plaintext written before encryption reads as it is", () => {
    expect(openText(rotated, "plain-token", ref)).toBe("plain-token");
    expect(keyIdOfSealedText("plain-token")).toBeNull();
  });
});

describe("key lists", () => {
  test("a key's id is stable and reveals nothing of the key", () => {
    expect(parseKeyList(oldHex, "A").active.id).toBe(old.active.id);
    expect(old.active.id).toMatch(/^k[0-9a-f]{12}$/);
    expect(oldHex).not.toContain(old.active.id.slice(1));
  });

  test("a malformed value names the variable and the form, never the value", () => {
    const secretish = `${"ab".repeat(31)}zz`;
    for (const value of [secretish, `${newHex},${secretish}`, "", "  ,  ", newHex.slice(2)]) {
      let message = "";
      try {
        parseKeyList(value, "ARAGORA_ENCRYPTION_KEY");
      } catch (e) {
        expect(e).toBeInstanceOf(KeyFormatError);
        message = (e as Error).message;
      }
      expect(message).toContain("ARAGORA_ENCRYPTION_KEY");
      expect(message).toContain("64 hex characters");
      expect(message).not.toContain(secretish);
      expect(message).not.toContain(newHex.slice(2));
    }
    expect(() => parseKeyList(`${newHex},${newHex}`, "K")).toThrow(/repeats key/);
  });

  test("a key file: one key a line, comments and blank lines ignored", () => {
    const ring = parseKeyList(`# rotated 2026-12-04\n${newHex}\n\n${oldHex}\n`, "/etc/aragora/keys", "\n");
    expect(ring.ids).toEqual(rotated.ids);
    expect(ringOf([old.active], "x").active.id).toBe(old.active.id);
  });
});

describe("the head of a sealed value", () => {
  test("names the key id sealText wrote, from its first SEALED_HEAD_LENGTH characters alone", () => {
    const stored = sealText(old, "a secret", { table: "t", id: "r-1", field: "f" });
    expect(keyIdOfSealedHead(stored.slice(0, SEALED_HEAD_LENGTH))).toBe(old.active.id);
    expect(keyIdOfSealedText(stored)).toBe(old.active.id);
  });

  test("another form of envelope is left to a full parse", () => {
    const envelope = JSON.parse(sealText(old, "a secret", { table: "t", id: "r-1", field: "f" }));
    const reordered = JSON.stringify({ _encrypted: true, kid: envelope.kid, v: 1, iv: envelope.iv, ct: envelope.ct });
    expect(keyIdOfSealedHead(reordered.slice(0, SEALED_HEAD_LENGTH))).toBeUndefined();
    expect(keyIdOfSealedText(reordered)).toBe(old.active.id);
  });
});
