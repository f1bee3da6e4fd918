/**
 * RFC 8725 attacks on access tokens, through HTTP against a real server whose secret the test knows
 * (the worst case: an attacker who can sign). A control token made the same way is accepted, so
 * each refusal is the defence named by its test: `alg: none`, another HMAC (HS512), a wrong or
 * missing `typ`, another issuer or audience, expiry, a token older than the lifetime whatever its
 * `exp`, a tampered payload, another key, a refresh token or other secret offered as an access
 * token, a deleted account, a revoked key.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { SignJWT } from "jose";
import type { TestServer } from "../support/server.ts";
import {
  becomes,
  call,
  claimOwner,
  JWT_SECRET,
  type Session,
  setupTokenOf,
  startAccessServer,
  usersCli,
  userWithRole,
} from "./support.ts";

let server: TestServer;
let owner: Session;
let victim: Session;
const secret = new TextEncoder().encode(JWT_SECRET);

beforeAll(async () => {
  server = await startAccessServer();
  owner = await claimOwner(server);
  victim = await userWithRole(server, "viewer");
});
afterAll(() => server.stop());

const now = () => Math.floor(Date.now() / 1000);
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** Claims the server would accept for `user`, with `change` applied. */
function claims(user: Session, change: Record<string, unknown> = {}) {
  const t = now();
  return {
    iss: "aragora",
    aud: "aragora-api",
    sub: user.user.id,
    org: user.organisation.id,
    roles: [user.role],
    iat: t,
    nbf: t,
    exp: t + 3600,
    jti: randomBytes(16).toString("base64url"),
    ...change,
  };
}

function sign(payload: Record<string, unknown>, header: Record<string, unknown> = {}, key: Uint8Array = secret) {
  return new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "at+jwt", ...header } as { alg: string })
    .sign(key);
}

const me = (token: string) => call(server, "GET", "/api/auth/me", { token });

async function expectRefused(token: string) {
  const res = await me(token);
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toContain("Bearer");
  return res;
}

describe("forged access tokens", () => {
  test("control: a token made right is accepted (so each refusal below is its own defence)", async () => {
    const res = await me(await sign(claims(victim)));
    expect(res.status).toBe(200);
    expect(res.body.roles).toEqual(["viewer"]);
  });

  test("alg none is refused", async () => {
    const token = `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims(victim))}.`;
    expect((await expectRefused(token)).body.message).toContain("alg not allowed");
  });

  test("another HMAC with the same secret (HS512) is refused", async () => {
    expect((await expectRefused(await sign(claims(victim), { alg: "HS512" }))).body.message).toContain(
      "alg not allowed",
    );
  });

  test("a wrong or missing typ is refused (a JWT minted for something else)", async () => {
    await expectRefused(await sign(claims(victim), { typ: "JWT" }));
    const noTyp = await new SignJWT(claims(victim)).setProtectedHeader({ alg: "HS256" }).sign(secret);
    await expectRefused(noTyp);
  });

  test("another issuer or audience is refused", async () => {
    await expectRefused(await sign(claims(victim, { iss: "https://elsewhere.example" })));
    await expectRefused(await sign(claims(victim, { aud: "another-api" })));
  });

  test("an expired token is refused, and so is one older than the lifetime whatever its exp says", async () => {
    const t = now();
    expect(
      (await expectRefused(await sign(claims(victim, { iat: t - 7200, nbf: t - 7200, exp: t - 3600 })))).body.message,
    ).toContain("expired");
    await expectRefused(await sign(claims(victim, { iat: t - 7200, nbf: t - 7200, exp: t + 3600 })));
  });

  test("a tampered payload, or a token signed with another key, is refused", async () => {
    const real = victim.access_token;
    const [header, , signature] = real.split(".");
    const escalated = `${header}.${b64(claims(victim, { roles: ["owner"] }))}.${signature}`;
    expect((await expectRefused(escalated)).body.message).toContain("bad signature");
    await expectRefused(await sign(claims(victim), {}, randomBytes(48)));
  });

  test("claims cannot raise roles or change the organisation: the membership decides", async () => {
    const raised = await me(await sign(claims(victim, { roles: ["owner", "operator"] })));
    expect(raised.body.roles).toEqual(["viewer"]);
    await expectRefused(await sign(claims(victim, { org: "o-someone-else" })));
  });
});

describe("other secrets are not access tokens", () => {
  test("a refresh token, a setup token or junk offered as a bearer is refused", async () => {
    const res = await me(victim.refresh_token);
    expect(res.status).toBe(401);
    for (const token of [`ara_setup_${"A".repeat(43)}`, `ara_wst_${"A".repeat(43)}`, "ara_live_short", "x.y"]) {
      expect((await me(token)).status).toBe(401);
    }
    // Anything else proves nothing either: 401.
    expect(
      (await call(server, "GET", "/api/auth/me", { headers: { authorization: "Basic b3duZXI6cHc=" } })).status,
    ).toBe(401);
    expect(
      (await call(server, "GET", "/api/auth/me", { headers: { cookie: `aragora_access=${victim.refresh_token}` } }))
        .status,
    ).toBe(401);
  });
});

describe("what a token cannot say for itself", () => {
  test("a deleted account's token stops within a second of its deletion by another process", async () => {
    const doomed = await userWithRole(server, "member");
    expect((await me(doomed.access_token)).status).toBe(200);
    const deleted = await usersCli(server, ["delete", "--email", doomed.user.email]);
    expect(deleted.code).toBe(0);
    const took = await becomes(401, () => me(doomed.access_token), 1500);
    // Trusted for a second from its last read, plus the read itself.
    expect(took).toBeLessThan(1300);
    expect((await me(doomed.access_token)).body.message).toContain("no longer exists");
    expect(
      (await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: doomed.refresh_token } })).status,
    ).toBe(401);
    expect(
      (
        await call(server, "POST", "/api/auth/sign-in", {
          body: { email: doomed.user.email, password: "correct horse battery staple" },
        })
      ).status,
    ).toBe(401);
  });

  test("a revoked key is refused", async () => {
    const made = await call<{ id: string; key: string }>(server, "POST", "/api/auth/api-key", {
      token: owner.access_token,
      body: { name: "k" },
    });
    expect((await me(made.body.key)).status).toBe(200);
    await call(server, "DELETE", `/api/auth/api-keys/${made.body.id}`, { token: owner.access_token });
    expect((await me(made.body.key)).body.error).toBe("invalid_api_key");
  });

  test("the setup token is gone once used: it is no credential", () => {
    expect(() => setupTokenOf(server)).toThrow();
  });
});
