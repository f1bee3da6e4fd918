/**
 * An organisation's members and invitations over HTTP, on a real server with sign-up closed:
 * an invitation signs up once, with the invited role, only for its address, not after it expired
 * or was revoked; an existing account accepts one while signed in; nobody grants a role above
 * their own; a role change reaches the member's existing token within a second; the last owner
 * stays; another organisation's user answers as an unknown one; each change is in the audit log;
 * no invitation token reaches a log line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TestServer } from "../support/server.ts";
import { auditTrail } from "./mfa-support.ts";
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
let admin: Session;

const invitationTokens = new Set<string>();

async function invite(by: Session, email: string, role: string) {
  const res = await call<{ id: string; invitation_token: string; role: string; error?: string }>(
    server,
    "POST",
    "/api/org/invitations",
    {
      token: by.access_token,
      body: { email, role },
    },
  );
  if (typeof res.body.invitation_token === "string") invitationTokens.add(res.body.invitation_token);
  return res;
}

function signUp(email: string, token: string, extra: Record<string, unknown> = {}) {
  return call<Session & { error?: string }>(server, "POST", "/api/auth/sign-up", {
    body: { email, password: PASSWORD, name: email.split("@")[0], invitation_token: token, ...extra },
  });
}

const uniqueEmail = (what: string) => `${what}-${crypto.randomUUID().slice(0, 8)}@example.com`;

beforeAll(async () => {
  // Sign-up is closed (the default): only an invitation lets someone in.
  server = await startAccessServer();
  owner = await claimOwner(server);
  admin = await userWithRole(server, "admin");
}, 30_000);

afterAll(async () => {
  await server.stop();
});

describe("invitations", () => {
  test("sign-up is closed without one", async () => {
    const res = await call(server, "POST", "/api/auth/sign-up", {
      body: { email: uniqueEmail("nobody"), password: PASSWORD, name: "Nobody" },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("signup_closed");
  });

  test("an invitation signs up once, in the inviting organisation with the invited role", async () => {
    const email = uniqueEmail("invited");
    const made = await invite(owner, email, "member");
    expect(made.status).toBe(201);
    expect(made.body.invitation_token.startsWith("ara_inv_")).toBe(true);
    expect(made.headers.get("cache-control")).toBe("no-store");

    // The pending list shows it, never its token.
    const listed = await call<{ invitations: Record<string, unknown>[] }>(server, "GET", "/api/org/invitations", {
      token: owner.access_token,
    });
    expect(listed.status).toBe(200);
    const entry = listed.body.invitations.find((i) => i.id === made.body.id);
    expect(entry).toMatchObject({ email, role: "member", invited_by: owner.user.id });
    expect(JSON.stringify(listed.body)).not.toContain(made.body.invitation_token);

    // Another address cannot use it (and that does not use it up).
    const mismatch = await signUp(uniqueEmail("someone-else"), made.body.invitation_token);
    expect(mismatch.status).toBe(403);
    expect(mismatch.body.error).toBe("invitation_email_mismatch");

    const joined = await signUp(email, made.body.invitation_token);
    expect(joined.status).toBe(201);
    expect(joined.body.organisation.id).toBe(owner.organisation.id);
    expect(joined.body.role).toBe("member");
    const me = await call<{ roles: string[]; organisation: { id: string } }>(server, "GET", "/api/auth/me", {
      token: joined.body.access_token,
    });
    expect(me.body).toMatchObject({ roles: ["member"], organisation: { id: owner.organisation.id } });

    // Single use: a second sign-up (another address too) is refused, and it left the pending list.
    const again = await signUp(uniqueEmail("second"), made.body.invitation_token);
    expect(again.status).toBe(410);
    expect(again.body.error).toBe("invitation_used");
    const reused = await signUp(email, made.body.invitation_token);
    expect(reused.status).toBe(410);
    const after = await call<{ invitations: { id: string }[] }>(server, "GET", "/api/org/invitations", {
      token: owner.access_token,
    });
    expect(after.body.invitations.map((i) => i.id)).not.toContain(made.body.id);
  });

  test("two sign-ups racing with one invitation: exactly one account", async () => {
    const email = uniqueEmail("race");
    const made = await invite(owner, email, "viewer");
    const answers = await Promise.all([1, 2, 3].map(() => signUp(email, made.body.invitation_token)));
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
    for (const a of answers.filter((x) => x.status !== 201)) expect([409, 410]).toContain(a.status);
  });

  test("a revoked invitation is refused, and revoked once", async () => {
    const email = uniqueEmail("revoked");
    const made = await invite(admin, email, "viewer");
    expect(made.status).toBe(201);
    const revoked = await call(server, "DELETE", `/api/org/invitations/${made.body.id}`, { token: owner.access_token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: made.body.id, revoked: true });
    const res = await signUp(email, made.body.invitation_token);
    expect(res.status).toBe(410);
    expect(res.body.error).toBe("invitation_revoked");
    // Revoked once: a second revocation finds nothing pending.
    const twice = await call(server, "DELETE", `/api/org/invitations/${made.body.id}`, { token: owner.access_token });
    expect(twice.status).toBe(404);
  });

  test("an unknown or malformed token is refused, naming the field", async () => {
    const unknown = await signUp(uniqueEmail("x"), `ara_inv_${"A".repeat(43)}`);
    expect(unknown.status).toBe(401);
    expect(unknown.body.error).toBe("invalid_invitation");
    const junk = await signUp(uniqueEmail("x"), "not-a-token");
    expect(junk.status).toBe(401);
    expect((junk.body as unknown as { details: { field: string }[] }).details[0]?.field).toBe("body.invitation_token");
  });

  test("an admin cannot invite an owner; a member cannot invite at all", async () => {
    const tooHigh = await invite(admin, uniqueEmail("boss"), "owner");
    expect(tooHigh.status).toBe(403);
    expect(tooHigh.body).toMatchObject({ error: "role_too_high" });
    const asAdmin = await invite(admin, uniqueEmail("peer"), "admin");
    expect(asAdmin.status).toBe(201);
    const member = await userWithRole(server, "member");
    const refused = await invite(member, uniqueEmail("friend"), "viewer");
    expect(refused.status).toBe(403);
    expect(refused.body).toMatchObject({ error: "forbidden" });
    const list = await call(server, "GET", "/api/org/invitations", { token: member.access_token });
    expect(list.status).toBe(403);
  });

  test("an account that is a member already cannot be invited again", async () => {
    const email = uniqueEmail("existing");
    const first = await invite(owner, email, "viewer");
    expect((await signUp(email, first.body.invitation_token)).status).toBe(201);
    const dup = await invite(owner, email, "member");
    expect(dup.status).toBe(409);
    expect(dup.body.error).toBe("already_member");
  });
});

describe("members", () => {
  type Member = { user_id: string; email: string; role: string };
  const members = async (by: Session) =>
    (await call<{ members: Member[] }>(server, "GET", "/api/org/members", { token: by.access_token })).body.members;

  test("owners and admins list the members with their roles; a member may not", async () => {
    const list = await members(admin);
    expect(list.find((m) => m.user_id === owner.user.id)).toMatchObject({ email: owner.user.email, role: "owner" });
    expect(list.find((m) => m.user_id === admin.user.id)).toMatchObject({ role: "admin" });
    const member = await userWithRole(server, "member");
    expect((await call(server, "GET", "/api/org/members", { token: member.access_token })).status).toBe(403);
  });

  test("a role change over HTTP reaches the member's existing token within a second", async () => {
    const member = await userWithRole(server, "member");
    const probe = () => call(server, "GET", "/api/org/members", { token: member.access_token });
    expect((await probe()).status).toBe(403);
    const changed = await call<Member>(server, "PATCH", `/api/org/members/${member.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ user_id: member.user.id, role: "admin" });
    expect(await becomes(200, probe, 1000)).toBeLessThan(1000);
    const me = await call<{ roles: string[] }>(server, "GET", "/api/auth/me", { token: member.access_token });
    expect(me.body.roles).toEqual(["admin"]);
  });

  test("nobody raises anyone above their own role, nor touches someone above it", async () => {
    const viewer = await userWithRole(server, "viewer");
    const raise = await call(server, "PATCH", `/api/org/members/${viewer.user.id}`, {
      token: admin.access_token,
      body: { role: "owner" },
    });
    expect(raise.status).toBe(403);
    expect(raise.body.error).toBe("role_too_high");
    const demoteOwner = await call(server, "PATCH", `/api/org/members/${owner.user.id}`, {
      token: admin.access_token,
      body: { role: "viewer" },
    });
    expect(demoteOwner.status).toBe(403);
    expect(demoteOwner.body.error).toBe("member_outranks_you");
    const removeOwner = await call(server, "DELETE", `/api/org/members/${owner.user.id}`, {
      token: admin.access_token,
    });
    expect(removeOwner.status).toBe(403);
    // The owner is still one.
    expect((await members(owner)).find((m) => m.user_id === owner.user.id)?.role).toBe("owner");
  });

  test("the last owner can be neither demoted nor removed; with a second owner, they can", async () => {
    const demote = await call(server, "PATCH", `/api/org/members/${owner.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toBe("last_owner");
    const remove = await call(server, "DELETE", `/api/org/members/${owner.user.id}`, { token: owner.access_token });
    expect(remove.status).toBe(409);
    expect(remove.body.error).toBe("last_owner");

    const second = await userWithRole(server, "owner");
    const demoted = await call(server, "PATCH", `/api/org/members/${second.user.id}`, {
      token: owner.access_token,
      body: { role: "member" },
    });
    expect(demoted.status).toBe(200);
    // Back to one owner: again refused.
    expect(
      (
        await call(server, "PATCH", `/api/org/members/${owner.user.id}`, {
          token: owner.access_token,
          body: { role: "viewer" },
        })
      ).status,
    ).toBe(409);
  });

  test("a key acts no higher than its maker: a demotion revokes the keys above the new role, a removal all of them", async () => {
    const maker = await userWithRole(server, "admin");
    const makeKey = async (body: Record<string, unknown>) => {
      const res = await call<{ key: string }>(server, "POST", "/api/auth/api-key", { token: maker.access_token, body });
      expect(res.status).toBe(201);
      seenSecrets.add(res.body.key);
      return res.body.key;
    };
    const adminKey = await makeKey({ name: "admin key", role: "admin" });
    const memberKey = await makeKey({ name: "member key", role: "member" });
    const asKey = (key: string) => () => call(server, "GET", "/api/debates", { headers: { "x-api-key": key } });
    expect((await asKey(adminKey)()).status).toBe(200);

    const demoted = await call(server, "PATCH", `/api/org/members/${maker.user.id}`, {
      token: owner.access_token,
      body: { role: "member" },
    });
    expect(demoted.status).toBe(200);
    // The admin key would let a member act as an admin (and invite itself back): it stops.
    await becomes(401, asKey(adminKey), 1000);
    expect((await asKey(memberKey)()).status).toBe(200);

    const removed = await call(server, "DELETE", `/api/org/members/${maker.user.id}`, { token: owner.access_token });
    expect(removed.status).toBe(200);
    await becomes(401, asKey(memberKey), 1000);
  });

  test("a deleted co-owner does not count: the last live owner stays", async () => {
    const gone = await userWithRole(server, "owner");
    expect((await usersCli(server, ["delete", "--email", gone.user.email])).code).toBe(0);
    const demote = await call(server, "PATCH", `/api/org/members/${owner.user.id}`, {
      token: owner.access_token,
      body: { role: "admin" },
    });
    expect(demote.status).toBe(409);
    expect(demote.body.error).toBe("last_owner");
  });

  test("a removed member's token stops working within a second", async () => {
    const viewer = await userWithRole(server, "viewer");
    const probe = () => call(server, "GET", "/api/auth/me", { token: viewer.access_token });
    expect((await probe()).status).toBe(200);
    const removed = await call(server, "DELETE", `/api/org/members/${viewer.user.id}`, { token: admin.access_token });
    expect(removed.status).toBe(200);
    expect(removed.body).toEqual({ user_id: viewer.user.id, removed: true });
    await becomes(401, probe, 1000);
    expect((await members(owner)).map((m) => m.user_id)).not.toContain(viewer.user.id);
    // Its refresh token in the organisation is revoked as well.
    const refreshed = await call(server, "POST", "/api/auth/refresh", {
      body: { refresh_token: viewer.refresh_token },
    });
    expect(refreshed.status).toBe(401);
    const again = await call(server, "DELETE", `/api/org/members/${viewer.user.id}`, { token: admin.access_token });
    expect(again.status).toBe(404);
  });
});

describe("across organisations, expiry and accepting signed in (sign-up open, invitations valid 2 s)", () => {
  let open: TestServer;
  let openOwner: Session;
  let stranger: Session;

  beforeAll(async () => {
    open = await startAccessServer({ env: { ARAGORA_SIGNUP: "open", ARAGORA_INVITATION_TTL_SECONDS: "2" } });
    openOwner = await claimOwner(open);
    const res = await call<Session>(open, "POST", "/api/auth/sign-up", {
      body: { email: uniqueEmail("stranger"), password: PASSWORD, name: "Stranger" },
    });
    expect(res.status).toBe(201);
    stranger = res.body;
  }, 30_000);
  afterAll(async () => {
    await open.stop();
  });

  const inviteOn = async (email: string, role: string) => {
    const res = await call<{ id: string; invitation_token: string }>(open, "POST", "/api/org/invitations", {
      token: openOwner.access_token,
      body: { email, role },
    });
    expect(res.status).toBe(201);
    invitationTokens.add(res.body.invitation_token);
    return res.body;
  };

  test("an expired invitation is refused", async () => {
    const email = uniqueEmail("late");
    const made = await inviteOn(email, "member");
    await Bun.sleep(2100);
    const res = await call(open, "POST", "/api/auth/sign-up", {
      body: { email, password: PASSWORD, name: "Late", invitation_token: made.invitation_token },
    });
    expect(res.status).toBe(410);
    expect(res.body.error).toBe("invitation_expired");
  });

  test("an existing account accepts while signed in: a membership of the inviting organisation", async () => {
    const made = await inviteOn(stranger.user.email, "admin");
    const anonymous = await call(open, "POST", "/api/auth/invitations/accept", {
      body: { invitation_token: made.invitation_token },
    });
    expect(anonymous.status).toBe(401);
    const accepted = await call(open, "POST", "/api/auth/invitations/accept", {
      token: stranger.access_token,
      body: { invitation_token: made.invitation_token },
    });
    expect(accepted.status).toBe(200);
    expect(accepted.body).toMatchObject({ organisation: { id: openOwner.organisation.id }, role: "admin" });
    const again = await call(open, "POST", "/api/auth/invitations/accept", {
      token: stranger.access_token,
      body: { invitation_token: made.invitation_token },
    });
    expect(again.status).toBe(410);
    // Signed in to the inviting organisation: the invited role.
    const there = await call<Session>(open, "POST", "/api/auth/sign-in", {
      body: { email: stranger.user.email, password: PASSWORD, org_id: openOwner.organisation.id },
    });
    expect(there.status).toBe(200);
    expect(there.body.role).toBe("admin");
  });

  test("someone else's signed-in account cannot accept an invitation to another address", async () => {
    const made = await inviteOn(uniqueEmail("not-stranger"), "viewer");
    const res = await call(open, "POST", "/api/auth/invitations/accept", {
      token: stranger.access_token,
      body: { invitation_token: made.invitation_token },
    });
    expect(res.status).toBe(403);
    expect(res.body.error).toBe("invitation_email_mismatch");
  });

  test("another organisation's user or invitation answers exactly as an unknown one", async () => {
    // The stranger owns their own organisation; the open server's owner is not a member there.
    const MISSING_USER = "u-00000000-0000-7000-8000-000000000000";
    const MISSING_INV = "inv-00000000-0000-7000-8000-000000000000";
    const made = await inviteOn(uniqueEmail("target"), "viewer");
    const norm = (b: Record<string, unknown>, id: string) => ({
      error: b.error,
      message: String(b.message).replaceAll(id, "<id>"),
    });
    const cases: [string, string, string, unknown][] = [
      ["PATCH", "/api/org/members/", openOwner.user.id, { role: "viewer" }],
      ["DELETE", "/api/org/members/", openOwner.user.id, undefined],
      ["DELETE", "/api/org/invitations/", made.id, undefined],
    ];
    for (const [method, base, theirs, body] of cases) {
      const missing = base.includes("invitations") ? MISSING_INV : MISSING_USER;
      const unknown = await call(open, method, `${base}${missing}`, { token: stranger.access_token, body });
      const other = await call(open, method, `${base}${theirs}`, { token: stranger.access_token, body });
      expect(unknown.status).toBe(404);
      expect({ status: other.status, ...norm(other.body, theirs) }).toEqual({
        status: 404,
        ...norm(unknown.body, missing),
      });
    }
    // Nothing changed there: the owner is still the owner, the invitation still pending.
    const list = await call<{ members: { user_id: string; role: string }[] }>(open, "GET", "/api/org/members", {
      token: openOwner.access_token,
    });
    expect(list.body.members.find((m) => m.user_id === openOwner.user.id)?.role).toBe("owner");
    const pending = await call<{ invitations: { id: string }[] }>(open, "GET", "/api/org/invitations", {
      token: openOwner.access_token,
    });
    expect(pending.body.invitations.map((i) => i.id)).toContain(made.id);
    // And the stranger's own member list shows only their organisation.
    const theirs = await call<{ members: { user_id: string }[] }>(open, "GET", "/api/org/members", {
      token: stranger.access_token,
    });
    expect(theirs.body.members.map((m) => m.user_id)).toEqual([stranger.user.id]);
  });

  test("no invitation token in any log line", () => {
    expect(invitationTokens.size).toBeGreaterThan(0);
    expect(noSecretsLogged(open, invitationTokens)).toEqual([]);
  });
});

describe("the audit log and the logs", () => {
  test("every invitation and member change is recorded", async () => {
    const trail = await auditTrail(server);
    const actions = new Set(trail.filter((e) => e.outcome === "success").map((e) => e.action));
    for (const action of [
      "invitation.created",
      "invitation.revoked",
      "invitation.accepted",
      "member.added",
      "member.role_changed",
      "member.removed",
    ]) {
      expect({ action, recorded: actions.has(action) }).toEqual({ action, recorded: true });
    }
    const change = trail.find((e) => e.action === "member.role_changed" && e.detail?.to === "admin");
    expect(change).toMatchObject({ actor: { kind: "user", userId: owner.user.id }, orgId: owner.organisation.id });
    expect(change?.detail).toMatchObject({ from: "member", to: "admin" });
    const refused = trail.find((e) => e.action === "invitation.accepted" && e.outcome === "failure");
    expect(refused?.detail?.reason).toBeDefined();
    // No entry carries an invitation token.
    const text = JSON.stringify(trail);
    for (const token of invitationTokens) expect(text.includes(token)).toBe(false);
  });

  test("no invitation token in any log line", () => {
    expect(invitationTokens.size).toBeGreaterThan(3);
    expect(noSecretsLogged(server, [...invitationTokens, ...seenSecrets])).toEqual([]);
  });
});
