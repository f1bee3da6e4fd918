import { describe, expect, test } from "bun:test";
import { base64url, CompactSign, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from "jose";
import { type AccessTokenInput, createTokenSigner, type TokenSignerOptions } from "./jwt.ts";

const SECRET = "0123456789abcdef0123456789ABCDEF"; // 32 bytes
const SECRET_BYTES = new TextEncoder().encode(SECRET);
const T0 = Date.UTC(2030, 0, 1);
const TTL = 900;
const ISSUER = "https://aragora.test";
const AUDIENCE = "aragora-api";
const WHO: AccessTokenInput = { sub: "acc_1", org: "org_1", roles: ["member"] };

function setup(overrides: Partial<TokenSignerOptions> = {}) {
  let now = T0;
  const signer = createTokenSigner({
    secret: SECRET,
    issuer: ISSUER,
    audience: AUDIENCE,
    accessTtlSeconds: TTL,
    clock: () => now,
    ...overrides,
  });
  return { signer, at: (ms: number) => (now = ms) };
}

/** Claims a correct token carries at T0, for attacks that forge tokens by hand. */
function claimsAt(ms: number, extra: Record<string, unknown> = {}) {
  const iat = Math.floor(ms / 1000);
  return { iss: ISSUER, aud: AUDIENCE, ...WHO, iat, nbf: iat, exp: iat + TTL, jti: "j1", ...extra };
}

const hs256 = (payload: Record<string, unknown>, header: Record<string, unknown> = {}) =>
  new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...header }).sign(SECRET_BYTES);

describe("signAccess / verifyAccess", () => {
  test("a token round-trips with typ at+jwt, HS256, iss, aud, iat, nbf, exp and a random jti", async () => {
    const { signer } = setup();
    const token = await signer.signAccess({
      ...WHO,
      sid: "ses_1",
      act: { sub: "acc_op" },
      scope: "debates",
      amr: ["pwd", "otp"],
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "at+jwt" });
    const result = await signer.verifyAccess(token);
    const iat = T0 / 1000;
    expect(result).toEqual({
      ok: true,
      claims: {
        iss: ISSUER,
        aud: AUDIENCE,
        sub: "acc_1",
        org: "org_1",
        roles: ["member"],
        sid: "ses_1",
        act: { sub: "acc_op" },
        scope: "debates",
        amr: ["pwd", "otp"],
        iat,
        nbf: iat,
        exp: iat + TTL,
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      },
    });
    const again = await signer.verifyAccess(await signer.signAccess(WHO));
    expect(again.ok && result.ok && again.claims.jti !== result.claims.jti).toBe(true);
  });

  test("a caller's object cannot override a registered claim, and unknown input keys are not signed", async () => {
    const { signer } = setup();
    const sneaky = { ...WHO, exp: 4_000_000_000, iss: "evil", aud: "evil", extra: "x" } as AccessTokenInput;
    const token = await signer.signAccess(sneaky);
    const payload = JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1] as string)));
    expect(payload.exp).toBe(T0 / 1000 + TTL);
    expect(payload.iss).toBe(ISSUER);
    expect(payload.extra).toBeUndefined();
  });

  test("a shorter ttlSeconds shortens exp; a longer one is capped at the signer's TTL", async () => {
    const { signer } = setup();
    const payloadOf = (token: string) =>
      JSON.parse(new TextDecoder().decode(base64url.decode(token.split(".")[1] as string))) as { exp: number };
    expect(payloadOf(await signer.signAccess(WHO, { ttlSeconds: 60 })).exp).toBe(T0 / 1000 + 60);
    expect(payloadOf(await signer.signAccess(WHO, { ttlSeconds: TTL * 10 })).exp).toBe(T0 / 1000 + TTL);
    await expect(signer.signAccess(WHO, { ttlSeconds: 0 })).rejects.toThrow(/ttlSeconds/);
  });

  test("amr is a short list of method words: anything else is refused at signing and at verification", async () => {
    const { signer } = setup();
    await expect(signer.signAccess({ ...WHO, amr: ["pwd", "OTP; drop"] })).rejects.toThrow(/amr/);
    expect(await signer.verifyAccess(await hs256(claimsAt(T0, { amr: "otp" })))).toEqual({
      ok: false,
      reason: "malformed",
    });
    expect(await signer.verifyAccess(await hs256(claimsAt(T0, { amr: Array(9).fill("otp") })))).toEqual({
      ok: false,
      reason: "malformed",
    });
  });

  test("optional claims passed as undefined are left out", async () => {
    const { signer } = setup();
    const token = await signer.signAccess({ ...WHO, sid: undefined, act: undefined, scope: undefined, amr: undefined });
    const result = await signer.verifyAccess(token);
    expect(result.ok && Object.keys(result.claims).sort()).toEqual(
      ["aud", "exp", "iat", "iss", "jti", "nbf", "org", "roles", "sub"].sort(),
    );
  });

  test("bad claims are refused at signing with the field named", async () => {
    const { signer } = setup();
    await expect(signer.signAccess({ ...WHO, roles: ["root" as "owner"] })).rejects.toThrow(/roles/);
    await expect(signer.signAccess({ ...WHO, sub: "" })).rejects.toThrow(/sub/);
  });

  test("claims a verified token carries beyond the known ones are dropped", async () => {
    const { signer } = setup();
    const token = await hs256(claimsAt(T0, { is_admin: true }));
    const result = await signer.verifyAccess(token);
    expect(result.ok && "is_admin" in result.claims).toBe(false);
    expect(result.ok).toBe(true);
  });
});

describe("the secret", () => {
  test("shorter than 32 bytes is refused with a clear error; 32 bytes (string or bytes) is accepted", () => {
    expect(() => setup({ secret: "x".repeat(31) })).toThrow(/JWT secret is 31 bytes; HS256 needs at least 32/);
    expect(() => setup({ secret: new Uint8Array(16) })).toThrow(/16 bytes/);
    // Bytes, not characters: 11 three-byte characters are 33 bytes.
    expect(() => setup({ secret: "€".repeat(11) })).not.toThrow();
    expect(() => setup({ secret: SECRET_BYTES })).not.toThrow();
  });

  test("other options are checked", () => {
    expect(() => setup({ accessTtlSeconds: 0 })).toThrow(/accessTtlSeconds/);
    expect(() => setup({ accessTtlSeconds: 1.5 })).toThrow(/accessTtlSeconds/);
    expect(() => setup({ issuer: "" })).toThrow(/issuer/);
    expect(() => setup({ audience: "" })).toThrow(/audience/);
    expect(() => setup({ clockToleranceSeconds: -1 })).toThrow(/clockToleranceSeconds/);
  });
});

describe("RFC 8725 attacks are refused", () => {
  test('alg "none" (unsecured JWT), with or without a signature part', async () => {
    const { signer } = setup();
    const unsecured = new UnsecuredJWT(claimsAt(T0)).encode();
    expect(await signer.verifyAccess(unsecured)).toEqual({ ok: false, reason: "alg_not_allowed" });
    const [, payload, signature] = (await hs256(claimsAt(T0))).split(".");
    const noneHeader = base64url.encode(JSON.stringify({ alg: "none", typ: "at+jwt" }));
    expect(await signer.verifyAccess(`${noneHeader}.${payload}.${signature}`)).toEqual({
      ok: false,
      reason: "alg_not_allowed",
    });
    for (const alg of ["None", "NONE", "nOnE"]) {
      const h = base64url.encode(JSON.stringify({ alg, typ: "at+jwt" }));
      expect(await signer.verifyAccess(`${h}.${payload}.`)).toEqual({ ok: false, reason: "alg_not_allowed" });
    }
  });

  test("HS512 (or HS384) signed with the same secret", async () => {
    const { signer } = setup();
    for (const alg of ["HS512", "HS384"]) {
      const token = await new SignJWT(claimsAt(T0)).setProtectedHeader({ alg, typ: "at+jwt" }).sign(SECRET_BYTES);
      expect(await signer.verifyAccess(token)).toEqual({ ok: false, reason: "alg_not_allowed" });
    }
  });

  test("an RS256 token, and algorithm confusion (header RS256, body HMAC'd with our secret)", async () => {
    const { signer } = setup();
    const { privateKey } = await generateKeyPair("RS256");
    const rs = await new SignJWT(claimsAt(T0)).setProtectedHeader({ alg: "RS256", typ: "at+jwt" }).sign(privateKey);
    expect(await signer.verifyAccess(rs)).toEqual({ ok: false, reason: "alg_not_allowed" });
    const header = base64url.encode(JSON.stringify({ alg: "RS256", typ: "at+jwt" }));
    const body = base64url.encode(JSON.stringify(claimsAt(T0)));
    const key = await crypto.subtle.importKey("raw", SECRET_BYTES, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${body}`));
    const confused = `${header}.${body}.${base64url.encode(new Uint8Array(mac))}`;
    expect(await signer.verifyAccess(confused)).toEqual({ ok: false, reason: "alg_not_allowed" });
  });

  test("a tampered payload (roles raised to owner) or header fails the signature", async () => {
    const { signer } = setup();
    const [header, payload, signature] = (await signer.signAccess(WHO)).split(".");
    const raised = base64url.encode(JSON.stringify(claimsAt(T0, { roles: ["owner"] })));
    expect(await signer.verifyAccess(`${header}.${raised}.${signature}`)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    const reordered = base64url.encode(JSON.stringify({ typ: "at+jwt", alg: "HS256" }));
    expect(await signer.verifyAccess(`${reordered}.${payload}.${signature}`)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
  });

  test("a token signed with another secret", async () => {
    const { signer } = setup();
    const other = createTokenSigner({
      secret: "z".repeat(32),
      issuer: ISSUER,
      audience: AUDIENCE,
      accessTtlSeconds: TTL,
    });
    expect(await signer.verifyAccess(await other.signAccess(WHO))).toEqual({ ok: false, reason: "bad_signature" });
  });

  test("expired: refused past exp plus the 5 s tolerance, accepted within it", async () => {
    const { signer, at } = setup();
    const token = await signer.signAccess(WHO);
    at(T0 + (TTL + 4) * 1000);
    expect((await signer.verifyAccess(token)).ok).toBe(true);
    at(T0 + (TTL + 5) * 1000);
    expect(await signer.verifyAccess(token)).toEqual({ ok: false, reason: "expired" });
  });

  test("a token older than the TTL is expired even when its exp is far away", async () => {
    const { signer } = setup();
    const old = await hs256(claimsAt(T0 - 3600_000, { exp: T0 / 1000 + 86_400 }));
    expect(await signer.verifyAccess(old)).toEqual({ ok: false, reason: "expired" });
  });

  test("nbf (or iat) in the future beyond the tolerance is not yet valid", async () => {
    const { signer, at } = setup();
    const future = await hs256(claimsAt(T0, { nbf: T0 / 1000 + 60 }));
    expect(await signer.verifyAccess(future)).toEqual({ ok: false, reason: "not_yet_valid" });
    const token = await signer.signAccess(WHO);
    at(T0 - 4000);
    expect((await signer.verifyAccess(token)).ok).toBe(true);
    at(T0 - 6000);
    expect(await signer.verifyAccess(token)).toEqual({ ok: false, reason: "not_yet_valid" });
  });

  test("another issuer or another audience, even with our secret", async () => {
    const { signer } = setup();
    const { signer: otherIssuer } = setup({ issuer: "https://evil.test" });
    const { signer: otherAudience } = setup({ audience: "billing-api" });
    expect(await signer.verifyAccess(await otherIssuer.signAccess(WHO))).toEqual({ ok: false, reason: "wrong_issuer" });
    expect(await signer.verifyAccess(await otherAudience.signAccess(WHO))).toEqual({
      ok: false,
      reason: "wrong_audience",
    });
  });

  test('typ "refresh", "JWT" or missing is not an access token, even signed with our secret', async () => {
    const { signer } = setup();
    for (const typ of ["refresh", "JWT", "id_token+jwt"]) {
      expect(await signer.verifyAccess(await hs256(claimsAt(T0), { typ }))).toEqual({
        ok: false,
        reason: "wrong_type",
      });
    }
    const untyped = await new SignJWT(claimsAt(T0)).setProtectedHeader({ alg: "HS256" }).sign(SECRET_BYTES);
    expect(await signer.verifyAccess(untyped)).toEqual({ ok: false, reason: "wrong_type" });
    // RFC 9068 allows the media-type form of the same type.
    expect((await signer.verifyAccess(await hs256(claimsAt(T0), { typ: "application/at+jwt" }))).ok).toBe(true);
  });

  test("validly signed but with missing or ill-typed claims, or an unknown role: malformed", async () => {
    const { signer } = setup();
    const { jti: _, ...noJti } = claimsAt(T0);
    const { exp: __, ...noExp } = claimsAt(T0);
    const cases = [
      noJti,
      noExp,
      claimsAt(T0, { roles: ["root"] }),
      claimsAt(T0, { roles: "owner" }),
      claimsAt(T0, { org: 7 }),
      claimsAt(T0, { exp: "never" }),
    ];
    for (const claims of cases) {
      expect(await signer.verifyAccess(await hs256(claims))).toEqual({ ok: false, reason: "malformed" });
    }
    const notJson = await new CompactSign(new TextEncoder().encode("not json"))
      .setProtectedHeader({ alg: "HS256", typ: "at+jwt" })
      .sign(SECRET_BYTES);
    expect(await signer.verifyAccess(notJson)).toEqual({ ok: false, reason: "malformed" });
  });

  test("junk never throws: empty, one segment, bad base64, a huge token, a non-string", async () => {
    const { signer } = setup();
    const valid = await signer.signAccess(WHO);
    for (const junk of ["", "abc", "a.b", "a.b.c", "...", "%%%.%%%.%%%", `${valid}.x`, `${valid}${"A".repeat(9000)}`]) {
      expect(await signer.verifyAccess(junk)).toEqual({ ok: false, reason: "malformed" });
    }
    expect(await signer.verifyAccess(undefined as unknown as string)).toEqual({ ok: false, reason: "malformed" });
  });
});
