/**
 * Accounts and sessions through a real server: sign-up (closed, open, mass assignment), sign-in
 * (right, wrong, locked out), refresh rotation and reuse, sign-out, password change and reset,
 * /api/auth/me; and at the end, no password, token or key in any log line the server wrote.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "../support/server.ts";
import {
  becomes,
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
  server = await startAccessServer({ env: { ARAGORA_SIGNUP: "open" } });
  owner = await claimOwner(server);
});

afterAll(async () => {
  // Last: everything the suite did is in the log by now.
  const leaked = noSecretsLogged(server, [
    ...seenSecrets,
    PASSWORD,
    "an0ther good passphrase",
    "yet another passphrase",
  ]);
  // The check reads the log: the owner's id, which is no secret, is found there.
  const found = noSecretsLogged(server, [owner.user.id]);
  await server.stop();
  expect(seenSecrets.size).toBeGreaterThan(20);
  expect(found).toHaveLength(1);
  expect(leaked).toEqual([]);
});

describe("sign-up", () => {
  test("closed by default: 403 signup_closed", async () => {
    const closed = await startAccessServer();
    try {
      const res = await call(closed, "POST", "/api/auth/sign-up", {
        body: { email: "a@example.com", password: PASSWORD, name: "A" },
      });
      expect(res.status).toBe(403);
      expect(res.body.error).toBe("signup_closed");
    } finally {
      await closed.stop();
    }
  });

  test("open: a new account owns a new organisation", async () => {
    const res = await call<Session>(server, "POST", "/api/auth/sign-up", {
      body: { email: "Grace@Example.com", password: PASSWORD, name: "Grace", organisation_name: "Hopper Labs" },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      role: "owner",
      user: { email: "grace@example.com" },
      organisation: { name: "Hopper Labs" },
    });
    expect(res.body.organisation.id).not.toBe(owner.organisation.id);
    const me = await call(server, "GET", "/api/auth/me", { token: res.body.access_token });
    expect(me.body).toMatchObject({ roles: ["owner"], organisation: { id: res.body.organisation.id } });
    const taken = await call(server, "POST", "/api/auth/sign-up", {
      body: { email: "grace@example.com", password: PASSWORD, name: "G" },
    });
    expect(taken.status).toBe(409);
  });

  test("what the server assigns cannot be sent: role, is_operator and org_id are refused by name", async () => {
    for (const [field, value] of [
      ["role", "owner"],
      ["is_operator", true],
      ["org_id", owner.organisation.id],
    ] as const) {
      const email = `mass-${field}@example.com`;
      const res = await call(server, "POST", "/api/auth/sign-up", {
        body: { email, password: PASSWORD, name: "M", [field]: value },
      });
      expect(res.status).toBe(422);
      expect(res.body.details).toEqual([{ field: `body.${field}`, rule: `unknown key "${field}"` }]);
      expect((await call(server, "POST", "/api/auth/sign-in", { body: { email, password: PASSWORD } })).status).toBe(
        401,
      );
    }
  });

  test("a weak password names the rule", async () => {
    const res = await call(server, "POST", "/api/auth/sign-up", {
      body: { email: "w@example.com", password: "aaaaaaaaaaaaaaa", name: "W" },
    });
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      error: "weak_password",
      details: [{ field: "body.password", rule: "must not be a single character repeated" }],
    });
  });
});

describe("sign-in", () => {
  test("right password: a session; wrong password and unknown account answer alike", async () => {
    const ok = await signIn(server, "OWNER@example.com");
    expect(ok.user.id).toBe(owner.user.id);
    const wrong = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: "owner@example.com", password: "not the password" },
    });
    const unknown = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: "nobody@example.com", password: "not the password" },
    });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    expect(wrong.body.message).toBe(unknown.body.message);
  });

  test("repeated failures lock the account out with 429 and Retry-After, even for the right password", async () => {
    const victim = await userWithRole(server, "member");
    for (let i = 0; i < 5; i++) {
      const res = await call(server, "POST", "/api/auth/sign-in", {
        body: { email: victim.user.email, password: `guess number ${i}!` },
      });
      expect(res.status).toBe(401);
    }
    const locked = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: victim.user.email, password: PASSWORD },
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await Bun.sleep(Number(locked.headers.get("retry-after")) * 1000 + 50);
    expect((await signIn(server, victim.user.email)).user.id).toBe(victim.user.id);
  });

  test("org_id picks one of the account's organisations, and only one of them", async () => {
    const res = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: "owner@example.com", password: PASSWORD, org_id: "o-not-mine" },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("not_a_member");
  });
});

describe("refresh", () => {
  test("rotates: new tokens each time; a used refresh token revokes the whole session", async () => {
    const s = await userWithRole(server, "viewer");
    const next = await call<Session>(server, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect(next.status).toBe(200);
    expect(next.body.refresh_token).not.toBe(s.refresh_token);
    expect(next.body.access_token).not.toBe(s.access_token);
    expect((await call(server, "GET", "/api/auth/me", { token: next.body.access_token })).status).toBe(200);

    const reused = await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect(reused.status).toBe(401);
    expect(reused.body.error).toBe("refresh_token_reused");
    // The thief's and the owner's tokens of that session all stop.
    const stolen = await call(server, "POST", "/api/auth/refresh", {
      body: { refresh_token: next.body.refresh_token },
    });
    expect(stolen.status).toBe(401);
    await becomes(401, () => call(server, "GET", "/api/auth/me", { token: next.body.access_token }), 1000);
    await becomes(401, () => call(server, "GET", "/api/auth/me", { token: s.access_token }), 1000);
    // Other sessions of the account go on.
    expect((await signIn(server, s.user.email)).role).toBe("viewer");
  });

  test("junk and access tokens are not refresh tokens", async () => {
    for (const refresh_token of ["ara_rt_junk", owner.access_token.slice(0, 200), "ara_live_x"]) {
      const res = await call(server, "POST", "/api/auth/refresh", { body: { refresh_token } });
      expect(res.status).toBe(401);
    }
    expect((await call(server, "POST", "/api/auth/refresh", { body: {} })).status).toBe(401);
  });
});

describe("sign-out", () => {
  test("ends the session: its access token and refresh token stop; cookies are cleared", async () => {
    const s = await userWithRole(server, "member");
    const other = await signIn(server, s.user.email);
    const out = await call(server, "POST", "/api/auth/sign-out", { token: s.access_token });
    expect(out.status).toBe(200);
    expect(out.headers.getSetCookie().every((c) => c.includes("Max-Age=0"))).toBe(true);
    expect((await call(server, "GET", "/api/auth/me", { token: s.access_token })).status).toBe(401);
    expect((await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } })).status).toBe(
      401,
    );
    // Only that session.
    expect((await call(server, "GET", "/api/auth/me", { token: other.access_token })).status).toBe(200);
  });

  test("a stranger's refresh token in the body signs nobody out", async () => {
    const victim = await userWithRole(server, "viewer");
    const attacker = await userWithRole(server, "viewer");
    await call(server, "POST", "/api/auth/sign-out", {
      token: attacker.access_token,
      body: { refresh_token: victim.refresh_token },
    });
    expect(
      (await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: victim.refresh_token } })).status,
    ).toBe(200);
  });
});

describe("passwords", () => {
  test("a change needs the current password, ends every session, and answers a new one", async () => {
    const s = await userWithRole(server, "member");
    const second = await signIn(server, s.user.email);
    const wrong = await call(server, "POST", "/api/auth/password", {
      token: s.access_token,
      body: { current_password: "not my password", new_password: "an0ther good passphrase" },
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.details).toEqual([
      { field: "body.current_password", rule: "must be the account's current password" },
    ]);
    const changed = await call<Session>(server, "POST", "/api/auth/password", {
      token: s.access_token,
      body: { current_password: PASSWORD, new_password: "an0ther good passphrase" },
    });
    expect(changed.status).toBe(200);
    expect((await call(server, "GET", "/api/auth/me", { token: changed.body.access_token })).status).toBe(200);
    for (const old of [s, second]) {
      expect((await call(server, "GET", "/api/auth/me", { token: old.access_token })).status).toBe(401);
      expect(
        (await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: old.refresh_token } })).status,
      ).toBe(401);
    }
    expect(
      (await call(server, "POST", "/api/auth/sign-in", { body: { email: s.user.email, password: PASSWORD } })).status,
    ).toBe(401);
    expect((await signIn(server, s.user.email, "an0ther good passphrase")).user.id).toBe(s.user.id);
  });

  test("a reset token from the CLI sets a new password once and ends every session", async () => {
    const s = await userWithRole(server, "viewer");
    const made = await usersCli(server, ["reset-password", "--email", s.user.email]);
    expect(made.code).toBe(0);
    const reset_token = made.stdout.trim();
    seenSecrets.add(reset_token);
    expect(reset_token).toMatch(/^ara_reset_/);
    const weak = await call(server, "POST", "/api/auth/password/reset", {
      body: { reset_token, new_password: "short" },
    });
    expect(weak.status).toBe(422);
    const done = await call(server, "POST", "/api/auth/password/reset", {
      body: { reset_token, new_password: "yet another passphrase" },
    });
    expect(done.status).toBe(200);
    expect((await call(server, "GET", "/api/auth/me", { token: s.access_token })).status).toBe(401);
    expect((await call(server, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } })).status).toBe(
      401,
    );
    expect((await signIn(server, s.user.email, "yet another passphrase")).user.id).toBe(s.user.id);
    const twice = await call(server, "POST", "/api/auth/password/reset", {
      body: { reset_token, new_password: "a third passphrase!" },
    });
    expect(twice.status).toBe(401);
    expect(twice.body.error).toBe("invalid_reset_token");
  });
});

describe("/api/auth/me", () => {
  test("says who the caller is and exactly what its roles allow", async () => {
    const viewer = await userWithRole(server, "viewer");
    const me = await call(server, "GET", "/api/auth/me", { token: viewer.access_token });
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({
      user: { id: viewer.user.id, email: viewer.user.email, is_operator: false },
      organisation: { id: owner.organisation.id, name: "Default organisation" },
      workspace: { id: owner.workspace.id },
      roles: ["viewer"],
      permissions: [
        "account.self",
        "agents.read",
        "debates.read",
        "leaderboard.read",
        "receipts.read",
        "workflows.read",
      ],
      via: "bearer",
    });
    expect(JSON.stringify(me.body)).not.toContain("argon2");
    const operator = await userWithRole(server, "admin", {}, ["--operator"]);
    const opMe = await call(server, "GET", "/api/auth/me", { token: operator.access_token });
    expect(opMe.body.roles).toEqual(["admin", "operator"]);
    expect((opMe.body.permissions as string[]).includes("ops.run")).toBe(true);
  });

  test("without credentials: 401 with a Bearer challenge", async () => {
    const res = await call(server, "GET", "/api/auth/me");
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
  });
});
