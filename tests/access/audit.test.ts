/**
 * The audit log and the recent server errors, through real server processes:
 *
 * - every recorded action (sign-ins ok and refused, setup, sign-up, sign-out, refresh-token reuse,
 *   password change and reset, keys made and revoked, members added, re-roled and removed from the
 *   shell, admin and ops actions) appears with its actor, client address and request id;
 * - an organisation's admins see their organisation's entries only; the operator sees every chain;
 * - no password, token or key ever lands in an entry (nor the password typed in the email field);
 * - an append that fails does not fail the sign-in: it is logged at ERROR and counted;
 * - a row edited, removed or put in with the server stopped is named by GET /api/admin/audit's
 *   chain verdict and by `aragora audit verify`;
 * - GET /api/system/errors shows a forced 500 with its request id;
 * - aragora_auth_failures_total and the RBAC series appear on /metrics;
 * - on PostgreSQL, two server processes appending to one chain at once keep it one valid chain.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { type AuditEntry, hashedEntry } from "../../access/audit-log.ts";
import { chainHash } from "../../runtime/security/audit-chain.ts";
import { runCli, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { enrolMfa, signInWithMfa, totpCode } from "./mfa-support.ts";
import {
  call,
  claimOwner,
  PASSWORD,
  type Session,
  seenSecrets,
  setupTokenOf,
  signIn,
  startAccessServer,
  usersCli,
  userWithRole,
} from "./support.ts";

interface Entry {
  id: string;
  chain: string;
  seq: number;
  at: string;
  org_id: string | null;
  action: string;
  outcome: string;
  actor: { kind: string; user_id: string | null; key_id: string | null; impersonator_id: string | null };
  target: { type: string | null; id: string | null } | null;
  ip: string | null;
  request_id: string | null;
  detail: Record<string, unknown> | null;
  prev_hash: string;
  hash: string;
}
type Verdict =
  | { chain: string; ok: true; head: string; length: number }
  | { chain: string; ok: false; index: number; entry_id: string | null; seq: number | null; reason: string };
interface AuditPage {
  entries: Entry[];
  next_cursor: string | null;
  chain: Verdict;
  chains: Verdict[];
}

const LOOPBACK = /^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/;
const NEW_PASSWORD = "a brand new passphrase 42";
const RESET_PASSWORD = "the reset passphrase 4242";

/**
 * `session`'s person with MFA enrolled, signed in again through the second factor: what a person
 * needs on an admin route such as the audit log (SOC 2 CC5-01).
 */
async function withMfa(server: TestServer, session: Session): Promise<Session> {
  const { secret } = await enrolMfa(server, session);
  return signInWithMfa(server, session.user.email, { code: totpCode(secret, 1) });
}

/** A request id naming what a test did, to find its entry by. */
const rid = (what: string) => `audit-${what}-${crypto.randomUUID().slice(0, 8)}`;

/** The payload of an access token (its `sid` names the session). */
const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split(".")[1] as string, "base64url").toString()) as { sid: string; sub: string };

async function metricValue(server: TestServer, line: string): Promise<number> {
  const text = await (await server.fetch("/metrics")).text();
  const found = text.split("\n").find((l) => l.startsWith(line));
  return found === undefined ? 0 : Number(found.slice(found.lastIndexOf(" ") + 1));
}

/** A live SQLite connection to the server's database, for what only a store failure or an attacker does. */
function openCore(dataDir: string): Database {
  const db = new Database(join(dataDir, "core.db"));
  db.run("PRAGMA busy_timeout = 10000");
  return db;
}

describe("the audit log, through a real server on SQLite", () => {
  let server: TestServer;
  let owner: Session;
  let orgId: string;
  /** The operator's view of every entry, newest first. */
  const everything = async () => {
    const res = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=500", { headers: server.authHeaders });
    expect(res.status).toBe(200);
    return res.body;
  };
  const entryFor = async (requestId: string) => {
    const found = (await everything()).entries.filter((e) => e.request_id === requestId);
    expect(found).toHaveLength(1);
    return found[0] as Entry;
  };
  const byAction = async (action: string) => (await everything()).entries.filter((e) => e.action === action);

  beforeAll(async () => {
    server = await startAccessServer({ env: { ARAGORA_SIGNUP: "open" } });
    seenSecrets.add(setupTokenOf(server));
    // The audit log is an admin route: a person reads it with a session that passed MFA.
    owner = await withMfa(server, await claimOwner(server));
    orgId = owner.organisation.id;
  });
  afterAll(async () => {
    await server?.stop();
  });

  test("sign-ins, ok and refused, with the address tried, the client address and the request id", async () => {
    const [claimed] = await byAction("auth.setup_claimed");
    expect(claimed).toMatchObject({
      outcome: "success",
      org_id: orgId,
      chain: orgId,
      actor: { kind: "user", user_id: owner.user.id },
      target: { type: "user", id: owner.user.id },
    });

    // A person without MFA: the password alone is the sign-in (the owner's asks for a code).
    const plain = await userWithRole(server, "member");
    const ok = rid("sign-in");
    const session = await call<Session>(server, "POST", "/api/auth/sign-in", {
      body: { email: plain.user.email, password: PASSWORD },
      headers: { "x-request-id": ok },
    });
    expect(session.status).toBe(200);
    const signedIn = await entryFor(ok);
    expect(signedIn).toMatchObject({
      action: "auth.signed_in",
      outcome: "success",
      org_id: orgId,
      actor: { kind: "user", user_id: plain.user.id, key_id: null, impersonator_id: null },
      target: { type: "session", id: claimsOf(session.body.access_token).sid },
      detail: { email: plain.user.email, role: "member" },
    });
    expect(signedIn.ip).toMatch(LOOPBACK);
    expect(Date.parse(signedIn.at)).toBeGreaterThan(Date.now() - 60_000);

    const wrong = rid("wrong-password");
    const refused = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: "Owner@Example.com", password: "not the password at all" },
      headers: { "x-request-id": wrong },
    });
    expect(refused.status).toBe(401);
    const failed = await entryFor(wrong);
    expect(failed).toMatchObject({
      action: "auth.signed_in",
      outcome: "failure",
      org_id: orgId,
      actor: { kind: "anonymous", user_id: null },
      target: { type: "user", id: owner.user.id },
      detail: { email: "owner@example.com", reason: "invalid_credentials" },
    });
    expect(failed.ip).toMatch(LOOPBACK);

    // An address with no account: the platform's chain, the operator's to read.
    const unknown = rid("unknown");
    await call(server, "POST", "/api/auth/sign-in", {
      body: { email: "nobody@example.com", password: "whatever it is" },
      headers: { "x-request-id": unknown },
    });
    expect(await entryFor(unknown)).toMatchObject({
      chain: "platform",
      org_id: null,
      outcome: "failure",
      target: null,
      detail: { email: "nobody@example.com", reason: "invalid_credentials" },
    });
  });

  test("refresh-token reuse, sign-out, password change and reset, and members from the shell", async () => {
    const member = await userWithRole(server, "member");
    const [added] = (await byAction("member.added")).filter((e) => e.target?.id === member.user.id);
    expect(added).toMatchObject({
      org_id: orgId,
      actor: { kind: "operator", user_id: null },
      detail: { email: member.user.email, role: "member", via: "cli" },
    });

    const rotated = await call<Session>(server, "POST", "/api/auth/refresh", {
      body: { refresh_token: member.refresh_token },
    });
    expect(rotated.status).toBe(200);
    const reuse = rid("reuse");
    const reused = await call(server, "POST", "/api/auth/refresh", {
      body: { refresh_token: member.refresh_token },
      headers: { "x-request-id": reuse },
    });
    expect(reused.status).toBe(401);
    expect(await entryFor(reuse)).toMatchObject({
      action: "auth.refresh_token_reused",
      outcome: "failure",
      org_id: orgId,
      actor: { kind: "anonymous" },
      target: { type: "session", id: claimsOf(member.access_token).sid },
      detail: { user_id: member.user.id, session_revoked: true },
    });

    const fresh = await signIn(server, member.user.email);
    const out = rid("sign-out");
    expect(
      (
        await call(server, "POST", "/api/auth/sign-out", {
          token: fresh.access_token,
          headers: { "x-request-id": out },
        })
      ).status,
    ).toBe(200);
    expect(await entryFor(out)).toMatchObject({
      action: "auth.signed_out",
      outcome: "success",
      org_id: orgId,
      actor: { kind: "user", user_id: member.user.id },
      target: { type: "session", id: claimsOf(fresh.access_token).sid },
    });

    const again = await signIn(server, member.user.email);
    const wrongCurrent = rid("password-wrong");
    const refused = await call(server, "POST", "/api/auth/password", {
      token: again.access_token,
      body: { current_password: "not my password at all", new_password: NEW_PASSWORD },
      headers: { "x-request-id": wrongCurrent },
    });
    expect(refused.status).toBe(403);
    expect(await entryFor(wrongCurrent)).toMatchObject({
      action: "auth.password_changed",
      outcome: "failure",
      actor: { kind: "user", user_id: member.user.id },
      detail: { reason: "wrong_password" },
    });
    const change = rid("password");
    const changed = await call<Session>(server, "POST", "/api/auth/password", {
      token: again.access_token,
      body: { current_password: PASSWORD, new_password: NEW_PASSWORD },
      headers: { "x-request-id": change },
    });
    expect(changed.status).toBe(200);
    expect(await entryFor(change)).toMatchObject({
      action: "auth.password_changed",
      outcome: "success",
      org_id: orgId,
      actor: { kind: "user", user_id: member.user.id },
      target: { type: "user", id: member.user.id },
    });

    const issued = await usersCli(server, ["reset-password", "--email", member.user.email]);
    expect(issued.code).toBe(0);
    const resetToken = issued.stdout.trim();
    seenSecrets.add(resetToken);
    const [offered] = (await byAction("auth.password_reset_issued")).filter((e) => e.target?.id === member.user.id);
    expect(offered).toMatchObject({ org_id: orgId, actor: { kind: "operator" }, detail: { via: "cli" } });
    const reset = rid("reset");
    expect(
      (
        await call(server, "POST", "/api/auth/password/reset", {
          body: { reset_token: resetToken, new_password: RESET_PASSWORD },
          headers: { "x-request-id": reset },
        })
      ).status,
    ).toBe(200);
    expect(await entryFor(reset)).toMatchObject({
      action: "auth.password_reset",
      outcome: "success",
      org_id: orgId,
      actor: { kind: "user", user_id: member.user.id },
    });
    const badReset = rid("reset-bad");
    expect(
      (
        await call(server, "POST", "/api/auth/password/reset", {
          body: { reset_token: resetToken, new_password: RESET_PASSWORD },
          headers: { "x-request-id": badReset },
        })
      ).status,
    ).toBe(401);
    expect(await entryFor(badReset)).toMatchObject({ outcome: "failure", detail: { reason: "invalid_reset_token" } });

    expect((await usersCli(server, ["set-role", "--email", member.user.email, "--role", "viewer"])).code).toBe(0);
    const [rerolled] = (await byAction("member.role_changed")).filter((e) => e.target?.id === member.user.id);
    expect(rerolled).toMatchObject({ org_id: orgId, detail: { from: "member", to: "viewer", via: "cli" } });
    const asViewer = await signIn(server, member.user.email, RESET_PASSWORD);
    expect(asViewer.role).toBe("viewer");

    expect((await usersCli(server, ["delete", "--email", member.user.email])).code).toBe(0);
    const [removed] = (await byAction("member.removed")).filter((e) => e.target?.id === member.user.id);
    expect(removed).toMatchObject({ org_id: orgId, detail: { account_deleted: true } });
  });

  test("API keys made and revoked, by a user and by a key (the key named as the actor)", async () => {
    const make = rid("key");
    const first = await call<{ id: string; key: string }>(server, "POST", "/api/auth/api-key", {
      token: owner.access_token,
      body: { name: "deploy", role: "admin" },
      headers: { "x-request-id": make },
    });
    expect(first.status).toBe(201);
    expect(await entryFor(make)).toMatchObject({
      action: "key.created",
      outcome: "success",
      org_id: orgId,
      actor: { kind: "user", user_id: owner.user.id, key_id: null },
      target: { type: "api_key", id: first.body.id },
      detail: { name: "deploy", role: "admin", kind: "user" },
    });

    const byKey = rid("key-by-key");
    const second = await call<{ id: string; key: string }>(server, "POST", "/api/auth/api-key", {
      token: first.body.key,
      body: { name: "ci", role: "member" },
      headers: { "x-request-id": byKey },
    });
    expect(second.status).toBe(201);
    expect(await entryFor(byKey)).toMatchObject({
      action: "key.created",
      actor: { kind: "api_key", user_id: owner.user.id, key_id: first.body.id },
      target: { type: "api_key", id: second.body.id },
    });

    const revoke = rid("revoke");
    expect(
      (
        await call(server, "DELETE", `/api/auth/api-keys/${second.body.id}`, {
          token: owner.access_token,
          headers: { "x-request-id": revoke },
        })
      ).status,
    ).toBe(200);
    expect(await entryFor(revoke)).toMatchObject({
      action: "key.revoked",
      actor: { kind: "user", user_id: owner.user.id },
      target: { type: "api_key", id: second.body.id },
    });

    const itself = rid("revoke-self");
    expect(
      (
        await call(server, "DELETE", "/api/auth/api-key", {
          token: first.body.key,
          headers: { "x-request-id": itself },
        })
      ).status,
    ).toBe(200);
    expect(await entryFor(itself)).toMatchObject({
      action: "key.revoked",
      actor: { kind: "api_key", key_id: first.body.id },
      target: { type: "api_key", id: first.body.id },
      detail: { by: "itself" },
    });
  });

  test("admin and ops actions over HTTP: on the platform's chain, with the operator as the actor", async () => {
    const level = rid("log-level");
    const current = ((await (await server.fetch("/api/admin/log-level")).json()) as { level: string }).level;
    const put = await server.fetch("/api/admin/log-level", {
      method: "PUT",
      headers: { "content-type": "application/json", "x-request-id": level },
      body: JSON.stringify({ level: current }),
    });
    expect(put.status).toBe(200);
    expect(await entryFor(level)).toMatchObject({
      action: "admin.log_level_changed",
      outcome: "success",
      chain: "platform",
      org_id: null,
      actor: { kind: "operator", user_id: null },
      detail: { from: current, to: current },
    });

    const cleanup = rid("cleanup");
    const ran = await server.fetch("/api/admin/schedulers/receipt-retention/cleanup", {
      method: "POST",
      headers: { "x-request-id": cleanup },
    });
    expect(ran.status).toBe(200);
    expect(await entryFor(cleanup)).toMatchObject({
      action: "admin.schedule_run_started",
      outcome: "success",
      org_id: null,
      target: { type: "schedule", id: "receipt-retention" },
    });

    const source = [
      "name: gated",
      "steps:",
      "  - id: go",
      "    action: approve",
      "    with: { approvers: [alice] }",
      "    timeout: 1m",
      "  - id: wait",
      "    action: sleep",
      "    with: { duration: 30s }",
      "    timeout: 1m",
      "",
    ].join("\n");
    const start = rid("ops-start");
    const started = await server.fetch("/api/ops/runs", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": start },
      body: JSON.stringify({ playbook: { source, file: "gated.yml" }, started_by: "audit-test" }),
    });
    expect(started.status).toBe(202);
    const { run_id: runId } = (await started.json()) as { run_id: string };
    expect(await entryFor(start)).toMatchObject({
      action: "ops.run_started",
      outcome: "success",
      chain: "platform",
      actor: { kind: "operator" },
      target: { type: "ops_run", id: runId },
      detail: { playbook: "gated", file: "gated.yml", dry_run: false, started_by: "audit-test" },
    });
    for (let i = 0; i < 200; i++) {
      const run = (await (await server.fetch(`/api/ops/runs/${runId}`)).json()) as { run: { status: string } };
      if (run.run.status === "waiting_approval") break;
      await Bun.sleep(25);
    }
    const approve = rid("ops-approve");
    const approved = await server.fetch(`/api/ops/runs/${runId}/steps/go/approve`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": approve },
      body: JSON.stringify({ approver: "alice" }),
    });
    expect(approved.status).toBe(200);
    expect(await entryFor(approve)).toMatchObject({
      action: "ops.step_approved",
      outcome: "success",
      target: { type: "ops_run", id: runId },
      detail: { step: "go", approver: "alice" },
    });
    const cancel = rid("ops-cancel");
    const cancelled = await server.fetch(`/api/ops/runs/${runId}/cancel`, {
      method: "POST",
      headers: { "x-request-id": cancel },
    });
    expect(cancelled.status).toBe(200);
    expect(await entryFor(cancel)).toMatchObject({
      action: "ops.run_cancelled",
      outcome: "success",
      target: { type: "ops_run", id: runId },
    });
    // A refused action is recorded too, with the refusal.
    const resume = rid("ops-resume");
    const missing = await server.fetch("/api/ops/runs/r-20300101-deadbeef/resume", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": resume },
      body: JSON.stringify({}),
    });
    expect(missing.status).toBe(404);
    expect(await entryFor(resume)).toMatchObject({
      action: "ops.run_resumed",
      outcome: "failure",
      target: { type: "ops_run", id: "r-20300101-deadbeef" },
      detail: { reason: "not_found" },
    });
  });

  test("an organisation's admins see their organisation's entries only; the operator sees every chain", async () => {
    const other = await call<Session>(server, "POST", "/api/auth/sign-up", {
      body: { email: "rival@example.com", password: PASSWORD, name: "Rival" },
    });
    expect(other.status).toBe(201);
    const otherOrg = other.body.organisation.id;
    const rival = await withMfa(server, other.body);

    const theirs = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=500", {
      token: rival.access_token,
    });
    expect(theirs.status).toBe(200);
    // Their sign-up and what they did since (MFA, the sign-in that passed it): nothing of ours.
    expect(theirs.body.entries.map((e) => e.action).at(-1)).toBe("auth.signed_up");
    expect(theirs.body.entries.every((e) => e.chain === otherOrg && e.org_id === otherOrg)).toBe(true);
    expect(theirs.body.entries.every((e) => e.actor.user_id === rival.user.id)).toBe(true);
    expect(theirs.body.chains.map((c) => c.chain)).toEqual([otherOrg]);
    expect(theirs.body.chain).toMatchObject({ chain: otherOrg, ok: true, length: theirs.body.entries.length });
    // Asking for another organisation's log by id: refused, naming the field.
    const asked = await call<{ error: string; details: unknown }>(server, "GET", `/api/admin/audit?org_id=${orgId}`, {
      token: rival.access_token,
    });
    expect(asked.status).toBe(403);
    expect(asked.body.details).toEqual([{ field: "query.org_id", rule: "must be your own organisation" }]);

    const ours = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=500", { token: owner.access_token });
    expect(ours.status).toBe(200);
    expect(ours.body.entries.length).toBeGreaterThan(10);
    expect(ours.body.entries.every((e) => e.chain === orgId)).toBe(true);
    expect(ours.body.entries.some((e) => e.action === "auth.signed_up")).toBe(false);
    expect(ours.body.entries.some((e) => e.chain === "platform")).toBe(false);
    expect(ours.body.chain).toMatchObject({ chain: orgId, ok: true });

    // Who may not read the log: a member or viewer of the organisation.
    const viewer = await userWithRole(server, "viewer");
    expect((await call(server, "GET", "/api/admin/audit", { token: viewer.access_token })).status).toBe(403);

    const all = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=500", { headers: server.authHeaders });
    expect(new Set(all.body.chains.map((c) => c.chain))).toEqual(new Set(["platform", orgId, otherOrg]));
    expect(all.body.chain).toMatchObject({ chain: "all", ok: true });
    const platform = await call<AuditPage>(server, "GET", "/api/admin/audit?org_id=platform&limit=500", {
      headers: server.authHeaders,
    });
    expect(platform.body.entries.length).toBeGreaterThan(0);
    expect(platform.body.entries.every((e) => e.org_id === null)).toBe(true);

    // Filters and pages.
    const failures = await call<AuditPage>(
      server,
      "GET",
      `/api/admin/audit?action=auth.signed_in&outcome=failure&actor_user_id=${owner.user.id}`,
      { token: owner.access_token },
    );
    expect(failures.body.entries).toEqual([]);
    const mine = await call<AuditPage>(server, "GET", `/api/admin/audit?actor_user_id=${owner.user.id}&limit=500`, {
      token: owner.access_token,
    });
    expect(mine.body.entries.length).toBeGreaterThan(0);
    expect(mine.body.entries.every((e) => e.actor.user_id === owner.user.id)).toBe(true);
    const now = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=500", { token: owner.access_token });
    const page1 = await call<AuditPage>(server, "GET", "/api/admin/audit?limit=3", { token: owner.access_token });
    const page2 = await call<AuditPage>(server, "GET", `/api/admin/audit?limit=3&cursor=${page1.body.next_cursor}`, {
      token: owner.access_token,
    });
    expect(page1.body.entries.map((e) => e.id)).toEqual(now.body.entries.slice(0, 3).map((e) => e.id));
    expect(page2.body.entries.map((e) => e.id)).toEqual(now.body.entries.slice(3, 6).map((e) => e.id));
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(
      (await call<AuditPage>(server, "GET", `/api/admin/audit?since=${future}`, { token: owner.access_token })).body
        .entries,
    ).toEqual([]);
    const bad = await call<{ details: { field: string }[] }>(server, "GET", "/api/admin/audit?since=yesterday", {
      token: owner.access_token,
    });
    expect(bad.status).toBe(422);
    expect(bad.body.details[0]?.field).toBe("query.since");
  });

  test("no password, token or key ever lands in an entry, not even a password typed as the email", async () => {
    const typo = rid("password-as-email");
    await call(server, "POST", "/api/auth/sign-in", {
      body: { email: PASSWORD, password: PASSWORD },
      headers: { "x-request-id": typo },
    });
    expect((await entryFor(typo)).detail).toEqual({ email: "(not an email address)", reason: "invalid_credentials" });

    const secrets = [...seenSecrets, PASSWORD, NEW_PASSWORD, RESET_PASSWORD].filter((s) => s.length >= 8);
    expect(secrets.length).toBeGreaterThan(10);
    const served = JSON.stringify(await everything());
    const db = openCore(server.dataDir);
    const stored = JSON.stringify(db.query("SELECT * FROM audit_log").all());
    db.close();
    expect(stored.length).toBeGreaterThan(1000);
    for (const text of [served, stored]) {
      expect(secrets.filter((s) => text.includes(s)).map((s) => `${s.slice(0, 10)}...`)).toEqual([]);
    }
  });

  test("an append the store refuses: the sign-in still answers; the event is logged at ERROR and counted", async () => {
    const plain = await userWithRole(server, "member");
    const before = await metricValue(server, "aragora_audit_write_failures_total");
    const db = openCore(server.dataDir);
    db.run(
      "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
    );
    const lost = rid("lost");
    try {
      const res = await call(server, "POST", "/api/auth/sign-in", {
        body: { email: plain.user.email, password: PASSWORD },
        headers: { "x-request-id": lost },
      });
      expect(res.status).toBe(200);
    } finally {
      db.run("DROP TRIGGER audit_refused");
      db.close();
    }
    const line = await server.waitForLog((l) => String(l.msg).startsWith("audit entry not stored"));
    expect(line).toMatchObject({
      level: "ERROR",
      audit: { action: "auth.signed_in", outcome: "success", requestId: lost, orgId },
    });
    expect(await metricValue(server, "aragora_audit_write_failures_total")).toBe(before + 1);
    // The store writes again: the next entry is stored and the chain is whole.
    const after = rid("after");
    await call(server, "POST", "/api/auth/sign-in", {
      body: { email: plain.user.email, password: PASSWORD },
      headers: { "x-request-id": after },
    });
    expect((await entryFor(after)).action).toBe("auth.signed_in");
    expect((await everything()).chain.ok).toBe(true);
  });

  test("GET /api/system/errors shows a forced 500 with its request id, and is the operator's", async () => {
    const db = openCore(server.dataDir);
    db.run(
      "CREATE TRIGGER keys_refused BEFORE INSERT ON api_keys BEGIN SELECT RAISE(ABORT, 'forced by the test'); END",
    );
    const forced = rid("forced-500");
    let failed: Awaited<ReturnType<typeof call>>;
    try {
      failed = await call(server, "POST", "/api/auth/api-key", {
        token: owner.access_token,
        body: { name: "doomed" },
        headers: { "x-request-id": forced },
      });
    } finally {
      db.run("DROP TRIGGER keys_refused");
      db.close();
    }
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ error: "internal_error", request_id: forced });

    const res = await call<{ errors: Record<string, unknown>[]; total: number; capacity: number }>(
      server,
      "GET",
      "/api/system/errors?limit=20",
      { headers: server.authHeaders },
    );
    expect(res.status).toBe(200);
    expect(res.body.capacity).toBe(200);
    expect(res.body.total).toBeGreaterThanOrEqual(1);
    const [newest] = res.body.errors;
    expect(newest).toMatchObject({
      request_id: forced,
      method: "POST",
      route: "/api/auth/api-key",
      status: 500,
      error: "internal_error",
    });
    expect(String(newest?.message)).toContain("forced by the test");
    expect(String(newest?.message)).not.toContain("\n");
    expect(String(newest?.message)).not.toMatch(/ at .*\.ts:\d+/);
    expect(Date.parse(String(newest?.at))).toBeGreaterThan(Date.now() - 60_000);

    expect((await call(server, "GET", "/api/system/errors", { token: owner.access_token })).status).toBe(403);
    expect((await call(server, "GET", "/api/system/errors?limit=0", { headers: server.authHeaders })).status).toBe(422);
  });

  test("/metrics: auth failures by reason and the RBAC series", async () => {
    const viewer = await userWithRole(server, "viewer");
    expect((await call(server, "GET", "/api/admin/audit", { token: viewer.access_token })).status).toBe(403);
    for (const reason of ["invalid_credentials", "refresh_token_reused", "wrong_password", "invalid_reset_token"]) {
      expect({ reason, n: await metricValue(server, `aragora_auth_failures_total{reason="${reason}"}`) }).toMatchObject(
        {
          reason,
          n: expect.any(Number),
        },
      );
      expect(await metricValue(server, `aragora_auth_failures_total{reason="${reason}"}`)).toBeGreaterThan(0);
    }
    // A request without credentials is counted by the shell.
    expect((await call(server, "GET", "/api/admin/audit")).status).toBe(401);
    expect(await metricValue(server, 'aragora_auth_failures_total{reason="missing"}')).toBeGreaterThan(0);
    expect(
      await metricValue(server, 'aragora_rbac_permission_checks_total{permission="audit.read",result="granted"}'),
    ).toBeGreaterThan(0);
    expect(
      await metricValue(server, 'aragora_rbac_permission_checks_total{permission="audit.read",result="denied"}'),
    ).toBeGreaterThan(0);
    expect(
      await metricValue(
        server,
        'aragora_rbac_permission_denied_total{permission="audit.read",handler="GET /api/admin/audit"}',
      ),
    ).toBeGreaterThan(0);
    expect(await metricValue(server, "aragora_rbac_check_latency_seconds_count")).toBeGreaterThan(0);
    expect(await metricValue(server, "aragora_audit_entries_total")).toBeGreaterThan(10);
  });
});

describe("a tampered audit log, found with the server stopped and started again", () => {
  let original: string;
  let orgId: string;
  /** The org chain's rows in order, as stored. */
  let rows: { id: string; seq: number }[];

  beforeAll(async () => {
    const server = await startAccessServer({ keepDataDir: true });
    original = server.dataDir;
    const owner = await claimOwner(server);
    orgId = owner.organisation.id;
    for (let i = 0; i < 3; i++) await signIn(server, "owner@example.com");
    await call(server, "POST", "/api/auth/api-key", { token: owner.access_token, body: { name: "k" } });
    expect(await server.stop()).toBe(0);
    const db = openCore(original);
    rows = db.query("SELECT id, seq FROM audit_log WHERE chain = ? ORDER BY seq").all(orgId) as typeof rows;
    db.close();
    expect(rows).toHaveLength(5);
  });
  const copies: string[] = [];
  afterAll(() => {
    for (const dir of [original, ...copies]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A copy of the stopped server's data dir, tampered with by `tamper`, then verified by the server and the CLI. */
  async function verdictAfter(tamper: (db: Database) => void): Promise<{ api: Verdict; cli: string; code: number }> {
    const dir = tempDir("aragora-audit-tamper-");
    copies.push(dir);
    cpSync(original, dir, { recursive: true });
    const db = openCore(dir);
    tamper(db);
    db.close();
    const cli = await runCli(["audit", "verify"], { ARAGORA_DATA_DIR: dir, ARAGORA_LOG_LEVEL: "WARNING" });
    const server = await startAccessServer({ dataDir: dir });
    try {
      const res = await call<AuditPage>(server, "GET", `/api/admin/audit?org_id=${orgId}`, {
        headers: server.authHeaders,
      });
      expect(res.status).toBe(200);
      expect(res.body.chains).toHaveLength(1);
      return { api: res.body.chain, cli: cli.stdout, code: cli.code };
    } finally {
      await server.stop();
    }
  }

  test("untouched: whole, from the API and the shell", async () => {
    const { api, cli, code } = await verdictAfter(() => {});
    expect(api).toMatchObject({ chain: orgId, ok: true, length: 5 });
    expect(code).toBe(0);
    expect(cli).toContain(`${orgId}: whole, 5 entries`);
  });

  test("an entry edited: named, as edited", async () => {
    const target = rows[2] as { id: string };
    const { api, cli, code } = await verdictAfter((db) =>
      db.run("UPDATE audit_log SET ip = '203.0.113.9' WHERE id = ?", [target.id]),
    );
    expect(api).toEqual({ chain: orgId, ok: false, index: 2, entry_id: target.id, seq: 3, reason: "edited" });
    expect(code).toBe(1);
    expect(cli).toContain(`${orgId}: BROKEN at entry ${target.id} (seq 3, position 2): edited`);
  });

  test("an entry removed: the entry after the gap is named, as removed", async () => {
    const gone = rows[1] as { id: string };
    const next = rows[2] as { id: string };
    const { api, code, cli } = await verdictAfter((db) => db.run("DELETE FROM audit_log WHERE id = ?", [gone.id]));
    expect(api).toMatchObject({ ok: false, entry_id: next.id, seq: 3, reason: "removed" });
    expect(code).toBe(1);
    expect(cli).toContain(next.id);
  });

  test("an entry put in, with a correct hash and the later entries moved up: named, as inserted", async () => {
    const forgedId = `al-${Bun.randomUUIDv7()}`;
    const { api, code, cli } = await verdictAfter((db) => {
      const after = db.query("SELECT * FROM audit_log WHERE id = ?").get((rows[1] as { id: string }).id) as Record<
        string,
        unknown
      >;
      const forged = {
        id: forgedId,
        chain: orgId,
        at: new Date(Number(after.at) + 1),
        orgId,
        action: "member.role_changed",
        outcome: "success",
        actorKind: "user",
        actorUserId: String(after.actor_user_id),
        actorKeyId: null,
        impersonatorId: null,
        targetType: "user",
        targetId: String(after.actor_user_id),
        ip: "127.0.0.1",
        requestId: null,
        detail: JSON.stringify({ from: "viewer", to: "owner" }),
      } satisfies Omit<AuditEntry, "seq" | "prevHash" | "hash">;
      const hash = chainHash(String(after.hash), hashedEntry(forged));
      db.run(`UPDATE audit_log SET seq = -seq WHERE chain = ? AND seq > 2`, [orgId]);
      db.run(`UPDATE audit_log SET seq = 1 - seq WHERE chain = ? AND seq < 0`, [orgId]);
      db.run(
        `INSERT INTO audit_log (id, chain, seq, at, org_id, action, outcome, actor_kind, actor_user_id, target_type, target_id, ip, detail, prev_hash, hash)
         VALUES (?, ?, 3, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          forgedId,
          orgId,
          forged.at.getTime(),
          orgId,
          forged.action,
          forged.outcome,
          forged.actorKind,
          forged.actorUserId,
          forged.targetType,
          forged.targetId,
          forged.ip,
          forged.detail,
          String(after.hash),
          hash,
        ],
      );
    });
    expect(api).toMatchObject({ ok: false, entry_id: forgedId, seq: 3, reason: "inserted" });
    expect(code).toBe(1);
    expect(cli).toContain(forgedId);
  });
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("the audit log on PostgreSQL, two server processes appending at once", () => {
  let db: TempDatabase;
  let a: TestServer;
  let b: TestServer;
  let owner: Session;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    a = await startAccessServer({ env: { DATABASE_URL: db.url } });
    b = await startAccessServer({ env: { DATABASE_URL: db.url } });
    const maker = [a, b].find((s) => existsSync(join(s.dataDir, "setup-token"))) ?? a;
    owner = await withMfa(maker, await claimOwner(maker));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  test("keys made on both nodes at once: every one recorded, in one chain that verifies", async () => {
    const make = (server: TestServer, name: string) =>
      call<{ id: string }>(server, "POST", "/api/auth/api-key", { token: owner.access_token, body: { name } });
    // Rounds of one key on each node at the same moment: each node's idea of the chain's head is
    // stale after every round the other wrote in, so appends lose their place and must re-chain.
    const made: Awaited<ReturnType<typeof make>>[] = [];
    for (let round = 0; round < 20; round++) {
      made.push(...(await Promise.all([make(a, `a-${round}`), make(b, `b-${round}`)])));
    }
    // And a burst of both at once.
    made.push(...(await Promise.all(Array.from({ length: 20 }, (_, i) => make(i % 2 === 0 ? a : b, `burst-${i}`)))));
    expect(made.every((r) => r.status === 201)).toBe(true);

    const page = await call<AuditPage>(b, "GET", "/api/admin/audit?limit=500", { token: owner.access_token });
    expect(page.status).toBe(200);
    expect(page.body.chain).toMatchObject({ chain: owner.organisation.id, ok: true });
    const created = page.body.entries.filter((e) => e.action === "key.created");
    expect(new Set(created.map((e) => e.target?.id))).toEqual(new Set(made.map((r) => r.body.id)));
    const seqs = page.body.entries.map((e) => e.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const rechained =
      (await metricValue(a, "aragora_audit_append_conflicts_total")) +
      (await metricValue(b, "aragora_audit_append_conflicts_total"));
    expect(rechained).toBeGreaterThan(0);
    // Both nodes verify the same head.
    const fromA = await call<AuditPage>(a, "GET", "/api/admin/audit?limit=1", { token: owner.access_token });
    expect(fromA.body.chain).toEqual(page.body.chain);
  });

  test("an entry edited in PostgreSQL is named by the verdict", async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ id: string; seq: number }[]>`
        SELECT id, seq FROM audit_log WHERE chain = ${owner.organisation.id} ORDER BY seq LIMIT 1 OFFSET 4`;
      await sql`UPDATE audit_log SET detail = '{"name":"not what was made"}' WHERE id = ${row?.id as string}`;
      const page = await call<AuditPage>(a, "GET", "/api/admin/audit?limit=1", { token: owner.access_token });
      expect(page.body.chain).toMatchObject({ ok: false, entry_id: row?.id, seq: row?.seq, reason: "edited" });
    } finally {
      await sql.end();
    }
  });
});
