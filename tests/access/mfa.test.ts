/**
 * TOTP MFA through a real server: enrolment (the password again, a pending secret, a first code
 * that turns it on and shows the recovery codes once), sign-in in two steps (a challenge, then a
 * code or a recovery code, each good once), backoff on wrong codes, disabling and new recovery
 * codes, admin routes that ask a person for MFA (SOC 2 CC5-01), the audit trail, and at the end
 * no secret, code or challenge in any log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OPERATOR_AUTH, type TestServer } from "../support/server.ts";
import {
  audited,
  claimsOf,
  enrolMfa,
  passwordStep,
  signInWithMfa,
  totpCode,
  verifyStep,
  wrongCode,
} from "./mfa-support.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  signIn,
  startAccessServer,
  usersCli,
  userWithRole,
} from "./support.ts";

let server: TestServer;
let owner: Session;

beforeAll(async () => {
  server = await startAccessServer();
  owner = await claimOwner(server);
});

afterAll(async () => {
  const leaked = noSecretsLogged(server, [...seenSecrets, PASSWORD]);
  await server.stop();
  expect(leaked).toEqual([]);
});

/** A new account of `role` with MFA on, signed in with a password only. */
async function enrolledUser(role: "member" | "admin" | "owner", extra: string[] = []) {
  const session = await userWithRole(server, role, {}, extra);
  const enrolled = await enrolMfa(server, session);
  return { session, ...enrolled };
}

describe("enrolment", () => {
  test("starts with the password again, answers a secret and its otpauth URI, and is off until a code confirms it", async () => {
    const me = await userWithRole(server, "member");
    const wrongPassword = await call(server, "POST", "/api/auth/mfa/totp/enroll", {
      token: me.access_token,
      body: { password: "not the password at all" },
    });
    expect(wrongPassword.status).toBe(403);
    expect(wrongPassword.body.error).toBe("wrong_password");

    const started = await call<{ secret: string; otpauth_uri: string; expires_in: number }>(
      server,
      "POST",
      "/api/auth/mfa/totp/enroll",
      { token: me.access_token, body: { password: PASSWORD } },
    );
    expect(started.status).toBe(200);
    expect(started.headers.get("cache-control")).toBe("no-store");
    const { secret, otpauth_uri } = started.body;
    seenSecrets.add(secret);
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    const uri = new URL(otpauth_uri);
    expect(uri.protocol).toBe("otpauth:");
    expect(uri.searchParams.get("secret")).toBe(secret);
    expect(uri.searchParams.get("issuer")).toBe("Aragora");
    expect(decodeURIComponent(uri.pathname)).toContain(me.user.email);

    // Pending: the password alone still signs in, and the status says so.
    const status = await call(server, "GET", "/api/auth/mfa/status", { token: me.access_token });
    expect(status.body).toEqual({ enabled: false, enabled_at: null, pending: true, recovery_codes_left: 0 });
    expect(
      (await call(server, "POST", "/api/auth/sign-in", { body: { email: me.user.email, password: PASSWORD } })).status,
    ).toBe(200);

    const wrong = await call(server, "POST", "/api/auth/mfa/totp/confirm", {
      token: me.access_token,
      body: { code: wrongCode(secret) },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error).toBe("invalid_mfa_code");

    const confirmed = await call<{ enabled: boolean; recovery_codes: string[] }>(
      server,
      "POST",
      "/api/auth/mfa/totp/confirm",
      { token: me.access_token, body: { code: totpCode(secret) } },
    );
    expect(confirmed.status).toBe(200);
    const codes = confirmed.body.recovery_codes;
    for (const c of codes) seenSecrets.add(c);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/);

    const again = await call(server, "POST", "/api/auth/mfa/totp/confirm", {
      token: me.access_token,
      body: { code: totpCode(secret, 1) },
    });
    expect(again.status).toBe(409);
    const restart = await call(server, "POST", "/api/auth/mfa/totp/enroll", {
      token: me.access_token,
      body: { password: PASSWORD },
    });
    expect(restart.status).toBe(409);
    expect(restart.body.error).toBe("mfa_already_enabled");

    // Later answers say MFA is on, and never show the secret or a code again.
    const after = await call(server, "GET", "/api/auth/mfa/status", { token: me.access_token });
    expect(after.body).toMatchObject({ enabled: true, pending: false, recovery_codes_left: 10 });
    const whoami = await call(server, "GET", "/api/auth/me", { token: me.access_token });
    expect(whoami.body.mfa).toEqual({ enabled: true, session_verified: false });
    for (const text of [JSON.stringify(after.body), JSON.stringify(whoami.body)]) {
      expect(text).not.toContain(secret);
      for (const c of codes) expect(text).not.toContain(c);
    }
    const enabled = await audited(
      server,
      (e) => e.action === "mfa.enabled" && e.outcome === "success" && e.target?.id === me.user.id,
    );
    expect(enabled).toMatchObject({ actor: { kind: "user", userId: me.user.id }, detail: { codes_made: 10 } });
    await audited(server, (e) => e.action === "mfa.enabled" && e.outcome === "failure" && e.target?.id === me.user.id);
    expect(JSON.stringify(enabled)).not.toContain(secret);
  });

  test("an API key and the operator token do not manage a second factor", async () => {
    const key = await call<{ key: string }>(server, "POST", "/api/auth/api-key", {
      token: owner.access_token,
      body: { name: "ci" },
    });
    expect(key.status).toBe(201);
    const byKey = await call(server, "POST", "/api/auth/mfa/totp/enroll", {
      token: key.body.key,
      body: { password: PASSWORD },
    });
    expect(byKey.status).toBe(403);
    expect(byKey.body.error).toBe("not_a_user_session");
    const byOperator = await call(server, "GET", "/api/auth/mfa/status", { headers: OPERATOR_AUTH });
    expect(byOperator.status).toBe(403);
  });
});

describe("sign-in with MFA", () => {
  test("the password answers a challenge, not a session; a code finishes it, with amr pwd+otp kept by refresh", async () => {
    const { session, secret } = await enrolledUser("member");
    const challenge = await passwordStep(server, session.user.email);
    expect(challenge).toMatchObject({ mfa_required: true, expires_in: 300, methods: ["totp", "recovery_code"] });
    expect(challenge).not.toHaveProperty("access_token");
    expect(challenge.challenge_token).toStartWith("ara_mfa_");
    // The challenge is no credential.
    expect((await call(server, "GET", "/api/auth/me", { token: challenge.challenge_token })).status).toBe(401);

    const done = await verifyStep(server, challenge, { code: totpCode(secret, 1) });
    expect(done.status).toBe(200);
    const mfaSession = done.body as unknown as Session;
    expect(claimsOf(mfaSession.access_token).amr).toEqual(["pwd", "otp"]);
    expect(claimsOf(session.access_token).amr).toEqual(["pwd"]);
    const me = await call(server, "GET", "/api/auth/me", { token: mfaSession.access_token });
    expect(me.body.mfa).toEqual({ enabled: true, session_verified: true });

    const refreshed = await call<Session>(server, "POST", "/api/auth/refresh", {
      body: { refresh_token: mfaSession.refresh_token },
    });
    expect(refreshed.status).toBe(200);
    expect(claimsOf(refreshed.body.access_token).amr).toEqual(["pwd", "otp"]);
    // A password change answers a new session: it keeps the second factor this one passed; a
    // password-only session's change does not gain one.
    const changed = await call<Session>(server, "POST", "/api/auth/password", {
      token: refreshed.body.access_token,
      body: { current_password: PASSWORD, new_password: `${PASSWORD}-changed` },
    });
    expect(changed.status).toBe(200);
    expect(claimsOf(changed.body.access_token).amr).toEqual(["pwd", "otp"]);

    // The challenge was used up.
    const reused = await verifyStep(server, challenge, { code: totpCode(secret, 1) });
    expect(reused.status).toBe(401);
    expect(reused.body.error).toBe("invalid_mfa_challenge");
    await audited(
      server,
      (e) => e.action === "mfa.verified" && e.outcome === "success" && e.actor.userId === session.user.id,
    );
  });

  test("a code is accepted once: replayed, or older than the last one accepted, it is refused", async () => {
    const { session, secret } = await enrolledUser("member");
    const code = totpCode(secret, 1);
    expect((await verifyStep(server, await passwordStep(server, session.user.email), { code })).status).toBe(200);
    const replay = await verifyStep(server, await passwordStep(server, session.user.email), { code });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe("invalid_mfa_code");
    expect(replay.body.message).toContain("already used");
    // The confirming code's step, one before: older than the last accepted.
    const older = await verifyStep(server, await passwordStep(server, session.user.email), {
      code: totpCode(secret, 0),
    });
    expect(older.status).toBe(401);
    expect(older.body.error).toBe("invalid_mfa_code");
  });

  test("a recovery code finishes a sign-in once, and is then used up", async () => {
    const { session, recoveryCodes } = await enrolledUser("member");
    const [first] = recoveryCodes as [string];
    // Typed loosely (lower case, spaces): the same code.
    const typed = first.toLowerCase().replaceAll("-", " ");
    const done = await signInWithMfa(server, session.user.email, { recovery_code: typed });
    expect(claimsOf(done.access_token).amr).toEqual(["pwd", "otp"]);
    const status = await call(server, "GET", "/api/auth/mfa/status", { token: done.access_token });
    expect(status.body.recovery_codes_left).toBe(9);

    const again = await verifyStep(server, await passwordStep(server, session.user.email), { recovery_code: first });
    expect(again.status).toBe(401);
    expect(again.body.error).toBe("invalid_mfa_code");
    const used = await audited(
      server,
      (e) => e.action === "mfa.recovery_code_used" && e.actor.userId === session.user.id,
    );
    expect(used.detail).toEqual({ left: 9 });
    expect(JSON.stringify(used)).not.toContain(first);
  });

  test("two requests racing with one challenge: one session; the loser's recovery code is not spent", async () => {
    const { session, recoveryCodes } = await enrolledUser("member");
    const [a, b] = recoveryCodes as [string, string];
    const challenge = await passwordStep(server, session.user.email);
    const results = await Promise.all([
      verifyStep(server, challenge, { recovery_code: a }),
      verifyStep(server, challenge, { recovery_code: b }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const lost = results.find((r) => r.status === 401);
    expect(lost?.body.error).toBe("invalid_mfa_challenge");
    const loserCode = results[0]?.status === 401 ? a : b;
    // The loser signs in again with the code it sent: still good, and only now used up.
    const done = await signInWithMfa(server, session.user.email, { recovery_code: loserCode });
    const status = await call(server, "GET", "/api/auth/mfa/status", { token: done.access_token });
    expect(status.body.recovery_codes_left).toBe(8);
  });

  test("a challenge dies after five wrong codes; wrong codes back off per account across challenges, with 429 and Retry-After", async () => {
    const { session, secret } = await enrolledUser("member");
    const first = await passwordStep(server, session.user.email);
    for (let i = 0; i < 5; i++) {
      const wrong = await verifyStep(server, first, { code: wrongCode(secret) });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe("invalid_mfa_code");
    }
    const dead = await verifyStep(server, first, { code: totpCode(secret, 1) });
    expect(dead.status).toBe(401);
    expect(dead.body.error).toBe("invalid_mfa_challenge");

    // A new challenge (the password again) does not reset the account's count: even the right code waits.
    const second = await passwordStep(server, session.user.email);
    const locked = await verifyStep(server, second, { code: totpCode(secret, 1) });
    expect(locked.status).toBe(429);
    expect(locked.body.error).toBe("too_many_attempts");
    const retryAfter = Number(locked.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    await Bun.sleep(retryAfter * 1000 + 100);
    expect((await verifyStep(server, second, { code: totpCode(secret, 1) })).status).toBe(200);
    await audited(
      server,
      (e) => e.action === "mfa.verified" && e.outcome === "failure" && e.actor.userId === session.user.id,
    );
  });

  test("a challenge token that is not one is refused without a lookup; exactly one of code and recovery_code", async () => {
    const junk = await call(server, "POST", "/api/auth/mfa/verify", {
      body: { challenge_token: "ara_mfa_nope", code: "123456" },
    });
    expect(junk.status).toBe(401);
    expect(junk.body.error).toBe("invalid_mfa_challenge");
    const both = await call(server, "POST", "/api/auth/mfa/verify", {
      body: { challenge_token: "ara_mfa_nope", code: "123456", recovery_code: "AAAA-BBBB-CCCC-DDDD" },
    });
    expect(both.status).toBe(422);
    const extra = await call(server, "POST", "/api/auth/mfa/verify", {
      body: { challenge_token: "x", code: "123456", amr: ["otp"] },
    });
    expect(extra.status).toBe(422);
    // No challenge at all (neither in the body nor in an OAuth sign-in's cookie): 422 naming the field.
    const none = await call(server, "POST", "/api/auth/mfa/verify", { body: { code: "123456" } });
    expect(none.status).toBe(422);
    expect(none.body.details).toEqual([{ field: "body.challenge_token", rule: expect.any(String) }]);
    // A cookie that is no challenge is refused like a body that is none, and named as the cookie.
    const junkCookie = await call(server, "POST", "/api/auth/mfa/verify", {
      body: { code: "123456" },
      headers: { cookie: "aragora_mfa_challenge=ara_mfa_nope" },
    });
    expect(junkCookie.status).toBe(401);
    expect(junkCookie.body.error).toBe("invalid_mfa_challenge");
    expect(junkCookie.body.details).toEqual([{ field: "cookies.aragora_mfa_challenge", rule: expect.any(String) }]);
  });
});

describe("disabling and recovery codes", () => {
  test("disabling needs the password and a code or a recovery code; then the password alone signs in", async () => {
    const { session, recoveryCodes } = await enrolledUser("member");
    const noProof = await call(server, "POST", "/api/auth/mfa/disable", {
      token: session.access_token,
      body: { password: PASSWORD },
    });
    expect(noProof.status).toBe(422);
    const wrongPassword = await call(server, "POST", "/api/auth/mfa/disable", {
      token: session.access_token,
      body: { password: "not the password at all", recovery_code: recoveryCodes[0] },
    });
    expect(wrongPassword.status).toBe(403);
    expect(wrongPassword.body.error).toBe("wrong_password");
    const wrongCodeAnswer = await call(server, "POST", "/api/auth/mfa/disable", {
      token: session.access_token,
      body: { password: PASSWORD, recovery_code: "0000-0000-0000-0000" },
    });
    expect(wrongCodeAnswer.status).toBe(403);
    expect(wrongCodeAnswer.body.error).toBe("invalid_mfa_code");
    // Still on.
    await passwordStep(server, session.user.email);

    const off = await call(server, "POST", "/api/auth/mfa/disable", {
      token: session.access_token,
      body: { password: PASSWORD, recovery_code: recoveryCodes[1] },
    });
    expect(off.status).toBe(200);
    expect(off.body).toEqual({ enabled: false });
    expect((await signIn(server, session.user.email)).access_token).toBeString();
    await audited(
      server,
      (e) => e.action === "mfa.disabled" && e.outcome === "success" && e.actor.userId === session.user.id,
    );
  });

  test("new recovery codes need a current code and replace every earlier one", async () => {
    const { session, secret, recoveryCodes } = await enrolledUser("member");
    const wrong = await call(server, "POST", "/api/auth/mfa/recovery-codes", {
      token: session.access_token,
      body: { code: wrongCode(secret) },
    });
    expect(wrong.status).toBe(403);
    const fresh = await call<{ recovery_codes: string[] }>(server, "POST", "/api/auth/mfa/recovery-codes", {
      token: session.access_token,
      body: { code: totpCode(secret, 1) },
    });
    expect(fresh.status).toBe(200);
    for (const c of fresh.body.recovery_codes) seenSecrets.add(c);
    expect(fresh.body.recovery_codes).toHaveLength(10);
    const old = await verifyStep(server, await passwordStep(server, session.user.email), {
      recovery_code: recoveryCodes[0],
    });
    expect(old.status).toBe(401);
    const signedIn = await signInWithMfa(server, session.user.email, { recovery_code: fresh.body.recovery_codes[0] });
    expect(claimsOf(signedIn.access_token).amr).toEqual(["pwd", "otp"]);
  });
});

describe("aragora users reset-mfa", () => {
  test("turns a locked-out person's MFA off from the shell: the password alone signs in again", async () => {
    const { session } = await enrolledUser("member");
    await passwordStep(server, session.user.email);
    const reset = await usersCli(server, ["reset-mfa", "--email", session.user.email]);
    expect(reset.code).toBe(0);
    expect(reset.stdout.trim()).toBe(session.user.id);
    expect((await signIn(server, session.user.email)).access_token).toBeString();
    const again = await usersCli(server, ["reset-mfa", "--email", session.user.email]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("has no MFA");
  });
});

describe("admin routes ask a person for MFA (SOC 2 CC5-01)", () => {
  test("an owner granted operator: 403 mfa_required with a password session, 200 once the session passed MFA", async () => {
    const operator = await userWithRole(server, "owner", {}, ["--operator"]);
    const refused = await call(server, "GET", "/api/admin/log-level", { token: operator.access_token });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("mfa_required");
    expect(refused.body.message).toContain("POST /api/auth/mfa/totp/enroll");
    expect(refused.body.message).toContain("POST /api/auth/mfa/verify");
    // ops.* are the platform's too.
    expect((await call(server, "GET", "/api/ops/runs", { token: operator.access_token })).body.error).toBe(
      "mfa_required",
    );

    const { secret } = await enrolMfa(server, operator);
    // The session that enrolled is still a password session.
    expect((await call(server, "GET", "/api/admin/log-level", { token: operator.access_token })).status).toBe(403);
    const verified = await signInWithMfa(server, operator.user.email, { code: totpCode(secret, 1) });
    const ok = await call(server, "GET", "/api/admin/log-level", { token: verified.access_token });
    expect(ok.status).toBe(200);
    expect((await call(server, "GET", "/api/ops/runs", { token: verified.access_token })).status).toBe(200);
  });

  test("an owner who is not an operator is forbidden, not asked for MFA; the operator token needs none", async () => {
    const res = await call(server, "GET", "/api/admin/log-level", { token: owner.access_token });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("forbidden");
    expect((await call(server, "GET", "/api/admin/log-level", { headers: OPERATOR_AUTH })).status).toBe(200);
  });
});
