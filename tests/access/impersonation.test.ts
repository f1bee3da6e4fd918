/**
 * Operator impersonation through a real server: an operator whose session passed MFA gets a
 * short-lived token acting as a user (an `act` claim naming the operator, no refresh token) that
 * works on the user's routes and nowhere else; refused for anyone else, for the operator token and
 * for an operator as the target; every start counted, recorded in the audit log with its reason,
 * and every request made with it naming the operator in its log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OPERATOR_AUTH, type TestServer } from "../support/server.ts";
import { audited, claimsOf, enrolMfa, metricValue, signInWithMfa, totpCode } from "./mfa-support.ts";
import {
  becomes,
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  startAccessServer,
  usersCli,
  userWithRole,
} from "./support.ts";

let server: TestServer;
let owner: Session;
let member: Session;
/** A person granted operator, signed in with MFA. */
let operator: Session;
/** The same person's password-only session. */
let operatorPwd: Session;

const SUCCESS = 'aragora_admin_impersonate_total{outcome="success"}';
const FAILURE = 'aragora_admin_impersonate_total{outcome="failure"}';

beforeAll(async () => {
  server = await startAccessServer();
  owner = await claimOwner(server);
  member = await userWithRole(server, "member");
  operatorPwd = await userWithRole(server, "admin", {}, ["--operator"]);
  const { secret } = await enrolMfa(server, operatorPwd);
  operator = await signInWithMfa(server, operatorPwd.user.email, { code: totpCode(secret, 1) });
});

afterAll(async () => {
  const leaked = noSecretsLogged(server, [...seenSecrets, PASSWORD]);
  await server.stop();
  expect(leaked).toEqual([]);
});

/** Asks to impersonate `userId` as `token` (or with `headers`). */
function impersonate(body: Record<string, unknown>, auth: { token?: string; headers?: Record<string, string> }) {
  return call(server, "POST", "/api/admin/impersonate", { ...auth, body });
}

describe("an operator with MFA acts as a user", () => {
  test("the token acts as the user on the user's routes, names the operator in act, and has no refresh token", async () => {
    const before = await metricValue(server, SUCCESS);
    const res = await impersonate(
      { user_id: member.user.id, reason: "ticket #4242: debates missing" },
      { token: operator.access_token },
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.body).not.toHaveProperty("refresh_token");
    expect(res.body).toMatchObject({
      token_type: "Bearer",
      expires_in: 900,
      user: { id: member.user.id },
      organisation: { id: owner.organisation.id },
      role: "member",
      impersonator: { user_id: operator.user.id },
    });
    const token = res.body.access_token as string;
    const claims = claimsOf(token);
    expect(claims).toMatchObject({ sub: member.user.id, org: owner.organisation.id, roles: ["member"] });
    expect(claims.act).toEqual({ sub: operator.user.id });
    expect((claims.exp as number) - (claims.iat as number)).toBe(900);
    expect(claims).not.toHaveProperty("amr");
    expect(claims).not.toHaveProperty("sid");

    const me = await call(server, "GET", "/api/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: { id: member.user.id },
      roles: ["member"],
      impersonated_by: { user_id: operator.user.id },
      mfa: { enabled: false, session_verified: false },
    });
    const debates = await call(server, "GET", "/api/debates", { token });
    expect(debates.status).toBe(200);
    expect(await metricValue(server, SUCCESS)).toBe(before + 1);

    // Recorded before the token was handed out, with the reason.
    const started = await audited(
      server,
      (e) => e.action === "impersonation.started" && e.outcome === "success" && e.target?.id === member.user.id,
    );
    expect(started).toMatchObject({
      actor: { kind: "user", userId: operator.user.id },
      orgId: owner.organisation.id,
      detail: { reason: "ticket #4242: debates missing", role: "member" },
    });
    expect(JSON.stringify(started)).not.toContain(token);

    // Every request made with it says who really made it.
    const lines = server
      .logs()
      .filter((l) => l.msg === "request" && l.path === "/api/debates" && l.impersonator_id !== undefined);
    expect(lines.at(-1)).toMatchObject({ user_id: member.user.id, impersonator_id: operator.user.id, status: 200 });
  });

  test("org_id picks one of the user's organisations, and only one of them", async () => {
    const ok = await impersonate(
      { user_id: member.user.id, org_id: owner.organisation.id, reason: "support" },
      { token: operator.access_token },
    );
    expect(ok.status).toBe(200);
    const other = await impersonate(
      { user_id: member.user.id, org_id: "o-not-mine", reason: "support" },
      { token: operator.access_token },
    );
    expect(other.status).toBe(422);
    expect((other.body.details as { field: string }[])[0]?.field).toBe("body.org_id");
  });
});

describe("what an impersonation token cannot do", () => {
  test("admin routes, making API keys, changing the user's MFA, impersonating again", async () => {
    // An admin (not an operator) as the target: the role that grants keys.manage.
    const admin = await userWithRole(server, "admin");
    const res = await impersonate({ user_id: admin.user.id, reason: "support" }, { token: operator.access_token });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;

    const key = await call(server, "POST", "/api/auth/api-key", { token, body: { name: "persist" } });
    expect(key.status).toBe(403);
    expect(key.body.error).toBe("impersonation_forbidden");
    // The user's own session may (the refusal is the impersonation's).
    const own = await call(server, "POST", "/api/auth/api-key", { token: admin.access_token, body: { name: "own" } });
    expect(own.status).toBe(201);

    const enrol = await call(server, "POST", "/api/auth/mfa/totp/enroll", { token, body: { password: PASSWORD } });
    expect(enrol.status).toBe(403);
    expect(enrol.body.error).toBe("impersonation_forbidden");

    for (const [method, path] of [
      ["GET", "/api/admin/log-level"],
      ["GET", "/api/ops/runs"],
      ["POST", "/api/admin/impersonate"],
    ] as const) {
      const refused = await call(server, method, path, {
        token,
        ...(method === "POST" ? { body: { user_id: member.user.id, reason: "chain" } } : {}),
      });
      expect(refused.status).toBe(403);
    }
  });

  test("the token stops within a second once its operator's account is deleted", async () => {
    const second = await userWithRole(server, "admin", {}, ["--operator"]);
    const { secret } = await enrolMfa(server, second);
    const verified = await signInWithMfa(server, second.user.email, { code: totpCode(secret, 1) });
    const res = await impersonate({ user_id: member.user.id, reason: "support" }, { token: verified.access_token });
    expect(res.status).toBe(200);
    const token = res.body.access_token as string;
    expect((await call(server, "GET", "/api/debates", { token })).status).toBe(200);
    const deleted = await usersCli(server, ["delete", "--email", second.user.email]);
    expect(deleted.code).toBe(0);
    await becomes(401, () => call(server, "GET", "/api/debates", { token }), 1500);
  });
});

describe("who may not impersonate, and whom", () => {
  test("an owner who is not an operator: 403 forbidden", async () => {
    const res = await impersonate({ user_id: member.user.id, reason: "curious" }, { token: owner.access_token });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("forbidden");
  });

  test("an operator whose session did not pass MFA: 403 mfa_required", async () => {
    const res = await impersonate({ user_id: member.user.id, reason: "support" }, { token: operatorPwd.access_token });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("mfa_required");
  });

  test("the operator token: 403, impersonation names a person; counted and recorded as refused", async () => {
    const before = await metricValue(server, FAILURE);
    const res = await impersonate({ user_id: member.user.id, reason: "script" }, { headers: OPERATOR_AUTH });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("impersonation_requires_person");
    expect(await metricValue(server, FAILURE)).toBe(before + 1);
    await audited(
      server,
      (e) =>
        e.action === "impersonation.started" &&
        e.outcome === "failure" &&
        e.actor.kind === "operator" &&
        e.detail?.refused === "impersonation_requires_person",
    );
  });

  test("an operator as the target, oneself, an unknown account, and no reason are refused", async () => {
    const otherOperator = await userWithRole(server, "member", {}, ["--operator"]);
    const target = await impersonate(
      { user_id: otherOperator.user.id, reason: "support" },
      { token: operator.access_token },
    );
    expect(target.status).toBe(403);
    expect(target.body.error).toBe("cannot_impersonate_operator");
    const self = await impersonate({ user_id: operator.user.id, reason: "support" }, { token: operator.access_token });
    expect(self.status).toBe(403);
    const unknown = await impersonate(
      { user_id: "u-00000000-0000-0000-0000-000000000000", reason: "support" },
      { token: operator.access_token },
    );
    expect(unknown.status).toBe(404);
    const noReason = await impersonate({ user_id: member.user.id }, { token: operator.access_token });
    expect(noReason.status).toBe(422);
    await audited(
      server,
      (e) =>
        e.action === "impersonation.started" &&
        e.outcome === "failure" &&
        e.detail?.refused === "cannot_impersonate_operator",
    );
  });
});
