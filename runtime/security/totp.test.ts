import { describe, expect, test } from "bun:test";
import { Secret, TOTP } from "otpauth";
import { hashRecoveryCode, matchRecoveryCode, newRecoveryCodes, newTotpSecret, verifyTotp } from "./totp.ts";

const T = Date.UTC(2030, 0, 1, 12, 0, 10);
const STEP = Math.floor(T / 30_000);

function codeAt(secret: string, ms: number): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 }).generate({
    timestamp: ms,
  });
}

describe("newTotpSecret", () => {
  test("a 160-bit base32 secret and a key URI naming issuer, account and the SHA-1/6-digit/30 s profile", () => {
    const { secret, uri } = newTotpSecret("Aragora", "ada@example.com");
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const url = new URL(uri);
    expect(url.protocol).toBe("otpauth:");
    expect(url.host).toBe("totp");
    expect(decodeURIComponent(url.pathname)).toBe("/Aragora:ada@example.com");
    expect(Object.fromEntries(url.searchParams)).toEqual({
      issuer: "Aragora",
      secret,
      algorithm: "SHA1",
      digits: "6",
      period: "30",
    });
    expect(newTotpSecret("Aragora", "x").secret).not.toBe(secret);
    expect(() => newTotpSecret("", "x")).toThrow(/must not be empty/);
  });
});

describe("verifyTotp", () => {
  test("the RFC 6238 test vector (SHA-1, T = 59 s) verifies", () => {
    const rfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"; // base32 of "12345678901234567890"
    expect(verifyTotp(rfcSecret, "287082", { now: 59_000, window: 0 })).toEqual({ ok: true, step: 1 });
    expect(verifyTotp(rfcSecret, "287083", { now: 59_000, window: 0 })).toEqual({ ok: false, reason: "invalid" });
  });

  test("the current code verifies and returns its time step; spaces are ignored", () => {
    const { secret } = newTotpSecret("Aragora", "ada");
    const code = codeAt(secret, T);
    expect(verifyTotp(secret, code, { now: T })).toEqual({ ok: true, step: STEP });
    expect(verifyTotp(secret, `${code.slice(0, 3)} ${code.slice(3)}`, { now: T })).toEqual({ ok: true, step: STEP });
  });

  test("a window of 1 accepts the previous and next step, not two away; a wider window does", () => {
    // A fixed secret, so the four codes below are known to differ from each other.
    const secret = "KRUGS4ZANFZSAYJAMZUXQZLEEB2GK43U";
    expect(new Set([-2, -1, 0, 1].map((k) => codeAt(secret, T + k * 30_000))).size).toBe(4);
    expect(verifyTotp(secret, codeAt(secret, T - 30_000), { now: T })).toEqual({ ok: true, step: STEP - 1 });
    expect(verifyTotp(secret, codeAt(secret, T + 30_000), { now: T })).toEqual({ ok: true, step: STEP + 1 });
    const old = codeAt(secret, T - 60_000);
    expect(verifyTotp(secret, old, { now: T })).toEqual({ ok: false, reason: "invalid" });
    expect(verifyTotp(secret, old, { now: T, window: 2 })).toEqual({ ok: true, step: STEP - 2 });
  });

  test("a code whose step is at or before lastStep is a replay", () => {
    const { secret } = newTotpSecret("Aragora", "ada");
    const code = codeAt(secret, T);
    const first = verifyTotp(secret, code, { now: T });
    if (!first.ok) throw new Error("expected the code to verify");
    expect(verifyTotp(secret, code, { now: T + 5000, lastStep: first.step })).toEqual({
      ok: false,
      reason: "replayed",
    });
    const previous = codeAt(secret, T - 30_000);
    expect(verifyTotp(secret, previous, { now: T, lastStep: first.step })).toEqual({ ok: false, reason: "replayed" });
    const next = codeAt(secret, T + 30_000);
    expect(verifyTotp(secret, next, { now: T + 30_000, lastStep: first.step })).toEqual({ ok: true, step: STEP + 1 });
  });

  test("anything but six digits is invalid without a lookup; a bad window or secret is a programming error", () => {
    const { secret } = newTotpSecret("Aragora", "ada");
    for (const junk of ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "123-456"]) {
      expect(verifyTotp(secret, junk, { now: T })).toEqual({ ok: false, reason: "invalid" });
    }
    expect(() => verifyTotp(secret, "123456", { window: -1 })).toThrow(/window/);
    expect(() => verifyTotp(secret, "123456", { window: 11 })).toThrow(/window/);
    expect(() => verifyTotp("not base32!", "123456")).toThrow(/not base32/);
  });
});

describe("recovery codes", () => {
  test("ten distinct codes of four Crockford groups, each with its SHA-256", () => {
    const { codes, hashes } = newRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);
    expect(hashes).toEqual(codes.map(hashRecoveryCode));
    for (const h of hashes) expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(newRecoveryCodes(3).codes).toHaveLength(3);
    expect(() => newRecoveryCodes(0)).toThrow(RangeError);
  });

  test("a code matches as typed: any case, without dashes, with spaces, with O for 0 and I or L for 1", () => {
    const hashes = newRecoveryCodes().hashes;
    const code = "0K1M-QX9P-2VHD-8RTA";
    const all = [...hashes.slice(0, 5), hashRecoveryCode(code), ...hashes.slice(5)];
    for (const typed of [
      code,
      code.toLowerCase(),
      code.replace(/-/g, ""),
      code.replace(/-/g, " "),
      "OK1M-QX9P-2VHD-8RTA",
      "0KIM-QX9P-2VHD-8RTA",
      "0klm qx9p 2vhd 8rta",
    ]) {
      expect(matchRecoveryCode(typed, all)).toBe(5);
    }
    expect(matchRecoveryCode("0K1M-QX9P-2VHD-8RTB", all)).toBe(-1);
    expect(matchRecoveryCode("", all)).toBe(-1);
    expect(matchRecoveryCode(code, [])).toBe(-1);
  });

  test("every stored hash is compared even when the first one matches", () => {
    const { codes, hashes } = newRecoveryCodes();
    let read = 0;
    const counted = new Proxy(hashes, {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) read++;
        return Reflect.get(target, key, receiver);
      },
    });
    expect(matchRecoveryCode(codes[0] as string, counted)).toBe(0);
    expect(read).toBe(10);
  });
});
