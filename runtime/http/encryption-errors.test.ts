import { describe, expect, test } from "bun:test";
import { generateKeyHex, keyFromHex, ringOf } from "../security/encryption-keys.ts";
import { KeyNotFoundError, openText, sealText } from "../security/field-cipher.ts";
import { encryptionFailureAnswer } from "./encryption-errors.ts";

const ref = { table: "mfa_totp", id: "u-0190aa", field: "secret" };
const secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/** The error opening `stored` with `ring` throws. */
function failureOf(run: () => unknown): unknown {
  try {
    run();
  } catch (err) {
    return err;
  }
  throw new Error("expected a failure");
}

describe("the answers to a stored secret that cannot be opened", () => {
  const old = keyFromHex(generateKeyHex());
  const current = keyFromHex(generateKeyHex());
  const sealed = sealText(ringOf([old], "test"), secret, ref);

  test("a key that is not configured: 503 encryption_key_missing with the key id; the record only in the log", () => {
    const answer = encryptionFailureAnswer(failureOf(() => openText(ringOf([current], "test"), sealed, ref)));
    expect(answer).toMatchObject({ status: 503, code: "encryption_key_missing", fields: { key_id: old.id } });
    expect(answer?.message).toContain(
      `Key not found: a stored secret this request needs was encrypted with key ${old.id}`,
    );
    expect(answer?.message).not.toContain(ref.id);
    expect(answer?.logFields).toEqual({
      error_code: "encryption_key_missing",
      table: "mfa_totp",
      field: "secret",
      record_id: ref.id,
      key_id: old.id,
    });
    // With no key at all, the same answer.
    expect(encryptionFailureAnswer(failureOf(() => openText(undefined, sealed, ref)))?.code).toBe(
      "encryption_key_missing",
    );
  });

  test("an altered or moved ciphertext: 500 stored_secret_tampered; a broken envelope: stored_secret_malformed", () => {
    const ring = ringOf([old], "test");
    const envelope = JSON.parse(sealed) as { ct: string };
    const altered = JSON.stringify({ ...envelope, ct: `${envelope.ct[0] === "A" ? "B" : "A"}${envelope.ct.slice(1)}` });
    const tampered = encryptionFailureAnswer(failureOf(() => openText(ring, altered, ref)));
    expect(tampered).toMatchObject({ status: 500, code: "stored_secret_tampered" });
    expect(tampered?.logFields).toMatchObject({ table: "mfa_totp", field: "secret", record_id: ref.id });
    const moved = encryptionFailureAnswer(failureOf(() => openText(ring, sealed, { ...ref, id: "u-other" })));
    expect(moved?.code).toBe("stored_secret_tampered");
    const malformed = encryptionFailureAnswer(failureOf(() => openText(ring, '{"_encrypted":true,"v":1}', ref)));
    expect(malformed).toMatchObject({ status: 500, code: "stored_secret_malformed" });
    expect(malformed?.logFields).toMatchObject({ record_id: ref.id });
    for (const answer of [tampered, moved, malformed]) {
      expect(JSON.stringify(answer)).not.toContain(secret);
      expect(JSON.stringify(answer)).not.toContain(envelope.ct.slice(0, 12));
    }
  });

  test("anything else is left to the rest of the mapper", () => {
    expect(encryptionFailureAnswer(new Error("boom"))).toBeUndefined();
    expect(encryptionFailureAnswer(new KeyNotFoundError("k1", ref, []))?.status).toBe(503);
  });
});
