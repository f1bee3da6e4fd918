import { afterEach, describe, expect, spyOn, test } from "bun:test";
import {
  checkPasswordPolicy,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  PASSWORD_HASH_PARAMS,
  verifyAgainstDummy,
  verifyPassword,
} from "./password.ts";

const PW = "correct horse battery staple";

describe("hashPassword / verifyPassword", () => {
  test("argon2id with the pinned cost; the right password verifies and a wrong one does not", async () => {
    const hash = await hashPassword(PW);
    expect(hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(hash.includes(PW)).toBe(false);
    expect(await verifyPassword(PW, hash)).toBe(true);
    expect(await verifyPassword(`${PW} `, hash)).toBe(false);
    expect(await verifyPassword(PW.toUpperCase(), hash)).toBe(false);
  });

  test("each hash has its own salt", async () => {
    expect(await hashPassword(PW)).not.toBe(await hashPassword(PW));
  });

  test("a password with a composed accent verifies when typed decomposed (NFC)", async () => {
    const composed = "caf\u00e9 au lait please";
    const decomposed = "cafe\u0301 au lait please";
    expect(await verifyPassword(decomposed, await hashPassword(composed))).toBe(true);
  });

  test("a corrupt or foreign hash, an empty and an over-long password give false, never an exception", async () => {
    const hash = await hashPassword(PW);
    expect(await verifyPassword(PW, "not a hash")).toBe(false);
    expect(await verifyPassword(PW, "")).toBe(false);
    expect(await verifyPassword(PW, hash.slice(0, -10))).toBe(false);
    expect(await verifyPassword("", hash)).toBe(false);
    expect(await verifyPassword("x".repeat(MAX_PASSWORD_BYTES + 1), hash)).toBe(false);
  });

  test("hashing refuses an empty and an over-long password", async () => {
    await expect(hashPassword("")).rejects.toThrow(/must not be empty/);
    await expect(hashPassword("é".repeat(129))).rejects.toThrow(/over 256 bytes/);
  });
});

describe("checkPasswordPolicy", () => {
  test("at least 12 characters, counted as characters (an emoji is one)", () => {
    expect(checkPasswordPolicy("abcdefghijk")).toBe("must be at least 12 characters");
    expect(checkPasswordPolicy("abcdefghijkl")).toBeUndefined();
    expect(checkPasswordPolicy("🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑x")).toBeUndefined();
    expect(checkPasswordPolicy("🔑🔑🔑🔑🔑🔑x")).toBe("must be at least 12 characters");
  });

  test("at most 256 UTF-8 bytes", () => {
    expect(checkPasswordPolicy("ab".repeat(128))).toBeUndefined();
    expect(checkPasswordPolicy(`${"ab".repeat(128)}c`)).toBe("must be at most 256 bytes");
    expect(checkPasswordPolicy("éa".repeat(86))).toBe("must be at most 256 bytes");
  });

  test("not one character repeated", () => {
    expect(checkPasswordPolicy("aaaaaaaaaaaa")).toBe("must not be a single character repeated");
    expect(checkPasswordPolicy("            ")).toBe("must not be a single character repeated");
    expect(checkPasswordPolicy("aaaaaaaaaaab")).toBeUndefined();
  });
});

describe("verifyAgainstDummy", () => {
  let spy: ReturnType<typeof spyOn> | undefined;
  afterEach(() => spy?.mockRestore());

  test("runs a real argon2id verification with the same cost as a real hash, and answers false", async () => {
    spy = spyOn(Bun.password, "verify");
    expect(await verifyAgainstDummy(PW)).toBe(false);
    expect(spy).toHaveBeenCalledTimes(1);
    const [password, dummy] = spy.mock.calls[0] as [string, string];
    expect(password).toBe(PW);
    // The same parameters as hashPassword uses today, so the time spent is the same.
    expect(needsRehash(dummy)).toBe(false);
    expect(dummy.split("$").slice(0, 4)).toEqual((await hashPassword(PW)).split("$").slice(0, 4));
  });
});

describe("needsRehash", () => {
  test("false for a hash made now; true for another cost, another algorithm or junk", async () => {
    expect(needsRehash(await hashPassword(PW))).toBe(false);
    const weaker = await Bun.password.hash(PW, { algorithm: "argon2id", memoryCost: 8192, timeCost: 1 });
    expect(needsRehash(weaker)).toBe(true);
    const bcrypt = await Bun.password.hash(PW, { algorithm: "bcrypt", cost: 4 });
    expect(needsRehash(bcrypt)).toBe(true);
    expect(await verifyPassword(PW, bcrypt)).toBe(true);
    expect(needsRehash("")).toBe(true);
    expect(PASSWORD_HASH_PARAMS.algorithm).toBe("argon2id");
  });
});
