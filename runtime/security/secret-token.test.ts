import { describe, expect, spyOn, test } from "bun:test";
import * as nodeCrypto from "node:crypto";
import { createHash } from "node:crypto";
import { constantTimeEqual, hashSecretToken, isSecretToken, newSecretToken, TOKEN_PREFIX } from "./secret-token.ts";

describe("newSecretToken", () => {
  test("prefix, then 32 random bytes in base64url; the hash is SHA-256 hex of the whole token", () => {
    const { token, hash, lastFour } = newSecretToken(TOKEN_PREFIX.apiKey);
    expect(token.startsWith("ara_live_")).toBe(true);
    const body = token.slice("ara_live_".length);
    expect(Buffer.from(body, "base64url")).toHaveLength(32);
    expect(hash).toBe(createHash("sha256").update(token).digest("hex"));
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(lastFour).toBe(token.slice(-4));
  });

  test("tokens do not repeat (1,000 drawn, 1,000 distinct) and the hash never contains the token", () => {
    const drawn = Array.from({ length: 1000 }, () => newSecretToken(TOKEN_PREFIX.refresh));
    expect(new Set(drawn.map((t) => t.token)).size).toBe(1000);
    for (const t of drawn) expect(t.hash.includes(t.token.slice(7))).toBe(false);
  });

  test("each prefix Aragora issues is accepted; a malformed prefix is refused with a clear error", () => {
    for (const prefix of Object.values(TOKEN_PREFIX))
      expect(newSecretToken(prefix).token.startsWith(prefix)).toBe(true);
    expect(() => newSecretToken("ara")).toThrow(/must be lower-case words each ending in "_"/);
    expect(() => newSecretToken("ARA_")).toThrow(/prefix/);
    expect(() => newSecretToken("")).toThrow(/prefix/);
  });
});

describe("isSecretToken", () => {
  test("accepts a token of the asked kind and refuses another kind, a truncated token and junk", () => {
    const key = newSecretToken(TOKEN_PREFIX.apiKey).token;
    const refresh = newSecretToken(TOKEN_PREFIX.refresh).token;
    expect(isSecretToken(key, TOKEN_PREFIX.apiKey)).toBe(true);
    expect(isSecretToken(refresh, TOKEN_PREFIX.apiKey)).toBe(false);
    expect(isSecretToken(key.slice(0, -1), TOKEN_PREFIX.apiKey)).toBe(false);
    expect(isSecretToken(`${key}A`, TOKEN_PREFIX.apiKey)).toBe(false);
    expect(isSecretToken(`ara_live_${"!".repeat(43)}`, TOKEN_PREFIX.apiKey)).toBe(false);
    expect(isSecretToken("", TOKEN_PREFIX.apiKey)).toBe(false);
  });
});

describe("hashSecretToken", () => {
  test("is deterministic and differs for tokens that differ in one character", () => {
    const { token, hash } = newSecretToken(TOKEN_PREFIX.setup);
    expect(hashSecretToken(token)).toBe(hash);
    const flipped = token.slice(0, -1) + (token.endsWith("A") ? "B" : "A");
    expect(hashSecretToken(flipped)).not.toBe(hash);
  });
});

describe("constantTimeEqual", () => {
  test("true for equal strings, false for any difference", () => {
    expect(constantTimeEqual("abc", "abc")).toBe(true);
    expect(constantTimeEqual("", "")).toBe(true);
    expect(constantTimeEqual("ünïcode ✓", "ünïcode ✓")).toBe(true);
    expect(constantTimeEqual("abc", "abd")).toBe(false);
    expect(constantTimeEqual("abc", "ABC")).toBe(false);
  });

  test("strings of different lengths compare (false) instead of throwing, so length is never a separate path", () => {
    expect(constantTimeEqual("abc", "abcd")).toBe(false);
    expect(constantTimeEqual("", "x")).toBe(false);
    expect(constantTimeEqual("x".repeat(10_000), "x")).toBe(false);
  });

  test("the comparison is crypto.timingSafeEqual over two 32-byte digests, whatever the input lengths", () => {
    const spy = spyOn(nodeCrypto, "timingSafeEqual");
    try {
      expect(constantTimeEqual("short", "a much longer string")).toBe(false);
      expect(spy).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [Buffer, Buffer];
      expect([a.byteLength, b.byteLength]).toEqual([32, 32]);
    } finally {
      spy.mockRestore();
    }
  });
});
