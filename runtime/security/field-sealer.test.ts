import { describe, expect, test } from "bun:test";
import { registry } from "../metrics.ts";
import { generateKeyHex, type KeyRing, keyFromHex, ringOf } from "./encryption-keys.ts";
import { EnvelopeFormatError, KeyNotFoundError, TamperedFieldError } from "./field-cipher.ts";
import { fieldSealer } from "./field-sealer.ts";

const ref = { table: "mfa_totp", id: "u-1", field: "secret" };

async function metric(line: string): Promise<number> {
  const found = (await registry.metrics()).split("\n").find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(" ") + 1));
}

describe("the field sealer", () => {
  test("seals with the active key of the moment, opens with any, and counts both per store", async () => {
    const older = keyFromHex(generateKeyHex());
    const newer = keyFromHex(generateKeyHex());
    let ring: KeyRing | undefined = ringOf([older], "test");
    const sealer = fieldSealer(() => ring);
    const encryptsBefore = await metric('aragora_encryption_operations_total{operation="encrypt",store="sealer-test"}');
    const first = sealer.seal("sealer-test", "JBSWY3DPEHPK3PXP", ref);
    expect(first).toContain(`"kid":"${older.id}"`);
    ring = ringOf([newer, older], "test");
    const second = sealer.seal("sealer-test", "JBSWY3DPEHPK3PXP", ref);
    expect(second).toContain(`"kid":"${newer.id}"`);
    expect(sealer.open("sealer-test", first, ref)).toBe("JBSWY3DPEHPK3PXP");
    expect(sealer.open("sealer-test", second, ref)).toBe("JBSWY3DPEHPK3PXP");
    expect(await metric('aragora_encryption_operations_total{operation="encrypt",store="sealer-test"}')).toBe(
      encryptsBefore + 2,
    );
    expect(await metric('aragora_encryption_operations_total{operation="decrypt",store="sealer-test"}')).toBe(2);
    expect(await metric('aragora_encryption_operation_latency_seconds_count{operation="encrypt"}')).toBeGreaterThan(0);
  });

  test("with no key: plaintext stored as it is and read back; a sealed value names the key it needs", async () => {
    const key = keyFromHex(generateKeyHex());
    const sealed = fieldSealer(() => ringOf([key], "test")).seal("sealer-test", "s3cret", ref);
    const none = fieldSealer(() => undefined);
    expect(none.seal("sealer-test", "s3cret", ref)).toBe("s3cret");
    expect(none.open("sealer-test", "s3cret", ref)).toBe("s3cret");
    const before = await metric('aragora_encryption_errors_total{operation="decrypt",error_type="key_not_found"}');
    expect(() => none.open("sealer-test", sealed, ref)).toThrow(KeyNotFoundError);
    expect(() => none.open("sealer-test", sealed, ref)).toThrow(key.id);
    expect(await metric('aragora_encryption_errors_total{operation="decrypt",error_type="key_not_found"}')).toBe(
      before + 2,
    );
  });

  test("with no key, a value that looks like an envelope is refused rather than stored as plaintext", () => {
    const none = fieldSealer(() => undefined);
    expect(() => none.seal("sealer-test", '{"_encrypted":true,"kid":"kx"}', ref)).toThrow(EnvelopeFormatError);
    expect(none.seal("sealer-test", '{"other":1}', ref)).toBe('{"other":1}');
  });

  test("a value moved to another record does not open, and the failure is counted as tampered", async () => {
    const ring = ringOf([keyFromHex(generateKeyHex())], "test");
    const sealer = fieldSealer(() => ring);
    const sealed = sealer.seal("sealer-test", "s3cret", ref);
    // Counted from where it stands: other suites in the same process count tampered reads too.
    const before = await metric('aragora_encryption_errors_total{operation="decrypt",error_type="tampered"}');
    expect(() => sealer.open("sealer-test", sealed, { ...ref, id: "u-2" })).toThrow(TamperedFieldError);
    expect(await metric('aragora_encryption_errors_total{operation="decrypt",error_type="tampered"}')).toBe(before + 1);
  });
});
