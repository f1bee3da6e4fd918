/**
 * Helpers for the MFA and impersonation suites: codes from an authenticator app's secret (the
 * `otpauth` library the app would use), enrolment through the API, a sign-in finished with a
 * code, the claims of an access token, a metric's value, and the audit trail.
 *
 * @example
 * const { secret, recoveryCodes } = await enrolMfa(server, owner);
 * const mfaSession = await signInWithMfa(server, owner.user.email, { code: totpCode(secret, 1) });
 */
import { expect } from "bun:test";
import { Secret, TOTP } from "otpauth";
import type { AuditEvent } from "../../runtime/audit.ts";
import { OPERATOR_AUTH, type TestServer } from "../support/server.ts";
import { type Answer, call, PASSWORD, type Session, seenSecrets } from "./support.ts";

/**
 * The code an authenticator shows `steps` periods (30 s) from now. Only 0 and 1 are safe in a
 * test: the server may already be a step further on, and it accepts one step either side.
 *
 * @example totpCode(secret, 1) // the next period's code: valid now, and later than the current one
 */
export function totpCode(secret: string, steps = 0): string {
  const totp = new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 });
  return totp.generate({ timestamp: Date.now() + steps * 30_000 });
}

/** A code that is not any of the accepted ones (one step either side of now). */
export function wrongCode(secret: string): string {
  const valid = new Set([-1, 0, 1, 2].map((s) => totpCode(secret, s)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, "0");
    if (!valid.has(candidate)) return candidate;
  }
}

export interface Enrolled {
  secret: string;
  uri: string;
  recoveryCodes: string[];
}

/**
 * Enrols a TOTP authenticator for `session`'s account (start, then confirm with the current code).
 *
 * @example const { secret, recoveryCodes } = await enrolMfa(server, owner);
 */
export async function enrolMfa(server: TestServer, session: Session, password = PASSWORD): Promise<Enrolled> {
  const started = await call<{ secret: string; otpauth_uri: string }>(server, "POST", "/api/auth/mfa/totp/enroll", {
    token: session.access_token,
    body: { password },
  });
  expect(started.status).toBe(200);
  seenSecrets.add(started.body.secret);
  const confirmed = await call<{ recovery_codes: string[] }>(server, "POST", "/api/auth/mfa/totp/confirm", {
    token: session.access_token,
    body: { code: totpCode(started.body.secret) },
  });
  expect(confirmed.status).toBe(200);
  for (const code of confirmed.body.recovery_codes) seenSecrets.add(code);
  return { secret: started.body.secret, uri: started.body.otpauth_uri, recoveryCodes: confirmed.body.recovery_codes };
}

export interface Challenge {
  mfa_required: true;
  challenge_token: string;
  expires_in: number;
  methods: string[];
}

/** Signs in with the password; expects the 202 challenge of an account with MFA. */
export async function passwordStep(server: TestServer, email: string, password = PASSWORD): Promise<Challenge> {
  const res = await call<Challenge>(server, "POST", "/api/auth/sign-in", { body: { email, password } });
  expect(res.status).toBe(202);
  seenSecrets.add(res.body.challenge_token);
  return res.body;
}

/** Finishes a challenge with `proof` (`{ code }` or `{ recovery_code }`): the raw answer. */
export function verifyStep(
  server: TestServer,
  challenge: Challenge,
  proof: { code?: string; recovery_code?: string },
): Promise<Answer> {
  return call(server, "POST", "/api/auth/mfa/verify", {
    body: { challenge_token: challenge.challenge_token, ...proof },
  });
}

/**
 * Signs in an account with MFA: password, then `proof`; the session (throws on anything but 200).
 *
 * @example const s = await signInWithMfa(server, email, { code: totpCode(secret, 1) });
 */
export async function signInWithMfa(
  server: TestServer,
  email: string,
  proof: { code?: string; recovery_code?: string },
): Promise<Session> {
  const res = await verifyStep(server, await passwordStep(server, email), proof);
  if (res.status !== 200) throw new Error(`mfa verify answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body as unknown as Session;
}

/** The claims of a JWT (unverified: the test only reads what the server put there). */
export function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split(".")[1] as string, "base64url").toString("utf8"));
}

/**
 * The value of one series of the server's metrics (0 when absent), read with the operator token.
 *
 * @example await metricValue(server, 'aragora_admin_impersonate_total{outcome="success"}')
 */
export async function metricValue(server: TestServer, series: string): Promise<number> {
  const text = await (await fetch(`${server.api}/api/metrics`, { headers: OPERATOR_AUTH })).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

/**
 * What the server recorded in its audit log, oldest first. Read from its log lines while the
 * access feature records through the log-line recorder (runtime/audit.ts auditToLog); once the
 * audit table serves `GET /api/admin/audit`, read that here instead and the suites stay as they are.
 *
 * @example expect((await auditTrail(server)).some((e) => e.action === "mfa.enabled")).toBe(true);
 */
export async function auditTrail(server: TestServer): Promise<AuditEvent[]> {
  const res = await fetch(`${server.api}/api/admin/audit?limit=500`, { headers: OPERATOR_AUTH });
  expect(res.status).toBe(200);
  const page = (await res.json()) as { entries: AuditEntry[] };
  // The route answers newest first, in its own (snake_case) words: back to what was recorded.
  return page.entries.reverse().map((e) => ({
    action: e.action,
    outcome: e.outcome,
    actor: {
      kind: e.actor.kind,
      userId: e.actor.user_id,
      ...(e.actor.key_id === null ? {} : { keyId: e.actor.key_id }),
      ...(e.actor.impersonator_id === null ? {} : { impersonatorId: e.actor.impersonator_id }),
    },
    orgId: e.org_id,
    ...(e.target === null || e.target.type === null
      ? {}
      : { target: { type: e.target.type, id: e.target.id as string } }),
    ip: e.ip,
    requestId: e.request_id,
    ...(e.detail === null ? {} : { detail: e.detail }),
  }));
}

/** One entry as GET /api/admin/audit answers it. */
interface AuditEntry {
  org_id: string | null;
  action: string;
  outcome: AuditEvent["outcome"];
  actor: {
    kind: AuditEvent["actor"]["kind"];
    user_id: string | null;
    key_id: string | null;
    impersonator_id: string | null;
  };
  target: { type: string | null; id: string | null } | null;
  ip: string | null;
  request_id: string | null;
  detail: Record<string, string | number | boolean | null> | null;
}

/**
 * The first audit entry `match` accepts, waiting up to `withinMs` for it to be recorded; throws
 * naming the actions recorded when none comes.
 *
 * @example const e = await audited(server, (e) => e.action === "impersonation.started" && e.outcome === "success");
 */
export async function audited(
  server: TestServer,
  match: (event: AuditEvent) => boolean,
  withinMs = 3000,
): Promise<AuditEvent> {
  const until = performance.now() + withinMs;
  for (;;) {
    const trail = await auditTrail(server);
    const found = trail.find(match);
    if (found !== undefined) return found;
    if (performance.now() > until) {
      throw new Error(`no such audit entry; recorded: ${trail.map((e) => `${e.action}/${e.outcome}`).join(", ")}`);
    }
    await Bun.sleep(25);
  }
}
