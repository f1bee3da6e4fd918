/**
 * The second factor: TOTP (runtime/security/totp.ts) with single-use recovery codes.
 *
 * - Enrolment: {@link SecondFactor.startEnrolment} makes a secret, pending until
 *   {@link SecondFactor.confirm} sees a valid code from it; then the authenticator is enabled and
 *   ten recovery codes are shown once (only their hashes are kept).
 * - Sign-in: a right password (or an OAuth sign-in) for an account with MFA answers a challenge,
 *   not a session ({@link SecondFactor.challengeFor}); {@link SecondFactor.finish} turns it, with a code or a
 *   recovery code (then used up), into a session whose tokens say `amr: ["pwd", "otp"]`.
 * - A code is accepted once: its time step must be later than the last accepted one; ±1 step of
 *   clock drift is allowed. Wrong codes are counted per account and per address by the login
 *   backoff (`mfa:<user id>`), and a challenge dies after five.
 *
 * Every change and every failed code is recorded in the audit log; no secret or code is ever
 * logged or recorded.
 *
 * @example
 * const challenge = await mfa.challengeFor(user, membership);
 * if (challenge) return status(202, challenge);           // the client sends a code next
 * const session = await mfa.finish(token, { code: "123456" }, call); // POST /api/auth/mfa/verify
 */
import type { AuditEvent, AuditRecorder } from "../runtime/audit.ts";
import { HttpError } from "../runtime/http/errors.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { LoginBackoff } from "../runtime/security/login-backoff.ts";
import { verifyPassword } from "../runtime/security/password.ts";
import { hashSecretToken, isSecretToken, newSecretToken } from "../runtime/security/secret-token.ts";
import { matchRecoveryCode, newRecoveryCodes, newTotpSecret, verifyTotp } from "../runtime/security/totp.ts";
import type { AccessStore, Membership, UserRow } from "./access-store.ts";
import { MFA_CHALLENGE_COOKIE } from "./cookies.ts";
import type { MfaStore, TotpRow } from "./mfa-store.ts";
import { AMR, type IssuedSession, type Sessions } from "./sessions.ts";

/** The prefix of sign-in challenge tokens. */
export const MFA_CHALLENGE_PREFIX = "ara_mfa_";
/** How long a sign-in challenge waits for its code. */
export const CHALLENGE_TTL_SECONDS = 300;
/** Wrong codes a challenge takes before it is gone (the password must be given again). */
export const CHALLENGE_MAX_FAILURES = 5;
/** How long an enrolment waits for its confirming code. */
export const ENROLMENT_TTL_SECONDS = 900;
/** Recovery codes made at enrolment and on regeneration. */
export const RECOVERY_CODE_COUNT = 10;
/** The issuer authenticator apps show beside the account. */
const ISSUER = "Aragora";

/** Where a request comes from, for the backoff and the audit log. */
export interface CallContext {
  ip: string;
  requestId: string | null;
  /** The organisation the request acts in (null before a sign-in finishes). */
  orgId: string | null;
}

/** A code from the authenticator, or one of the recovery codes (exactly one of the two). */
export interface Proof {
  code?: string;
  recoveryCode?: string;
}

/** The answer of a right password when the account has MFA: what the client sends a code with. */
export interface MfaChallenge {
  mfa_required: true;
  challenge_token: string;
  expires_in: number;
  methods: ("totp" | "recovery_code")[];
}

/** Whether a user has MFA, for `GET /api/auth/mfa` and `GET /api/auth/me`. */
export interface MfaStatus {
  enabled: boolean;
  enabledAt: Date | null;
  /** An enrolment waits for its first code. */
  pending: boolean;
  recoveryCodesLeft: number;
}

export interface SecondFactorDeps {
  store: MfaStore;
  accounts: Pick<AccessStore, "user" | "userState">;
  sessions: Pick<Sessions, "start">;
  backoff: LoginBackoff;
  audit: AuditRecorder;
  log: Logger;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

type Method = "totp" | "recovery_code";
type Failure = "invalid" | "replayed" | "used";

const tooMany = (retryAfterSeconds: number) =>
  new HttpError(
    429,
    "too_many_attempts",
    `too many wrong codes for this account or address; retry in ${retryAfterSeconds} s`,
    undefined,
    { "retry-after": String(retryAfterSeconds) },
  );

function wrongCode(status: number, failure: Failure, method: Method): HttpError {
  const field = method === "totp" ? "body.code" : "body.recovery_code";
  const message =
    failure === "replayed"
      ? "this code was already used: wait for the next one your authenticator shows"
      : failure === "used"
        ? "this recovery code was already used: each works once"
        : method === "totp"
          ? "wrong code: give the 6 digits your authenticator shows now"
          : "wrong recovery code";
  return new HttpError(status, "invalid_mfa_code", message, [
    {
      field,
      rule: method === "totp" ? "must be the current code, not used before" : "must be an unused recovery code",
    },
  ]);
}

export class SecondFactor {
  private readonly clock: () => number;

  constructor(private readonly deps: SecondFactorDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /**
   * Whether `userId` has MFA on, an enrolment waiting, and how many recovery codes are left.
   *
   * @example const { enabled } = await mfa.status(user.id);
   */
  async status(userId: string): Promise<MfaStatus> {
    const totp = await this.deps.store.totpOf(userId);
    const enabled = totp?.enabledAt != null;
    return {
      enabled,
      enabledAt: totp?.enabledAt ?? null,
      pending: totp !== undefined && !enabled && !this.expired(totp),
      recoveryCodesLeft: enabled ? (await this.deps.store.unusedRecoveryCodes(userId)).length : 0,
    };
  }

  /**
   * Checks the account's password (the same backoff as a password change): enrolling and disabling
   * ask for it again, so a stolen session alone cannot change the account's second factor.
   *
   * @example await mfa.checkPassword(user, body.password, call);
   */
  async checkPassword(user: UserRow, password: string, call: CallContext): Promise<void> {
    const key = `password:${user.id}`;
    const gate = this.deps.backoff.attempt(key, call.ip);
    if (!gate.allowed) throw tooMany(gate.retryAfterSeconds);
    if (user.passwordHash === null || !(await verifyPassword(password, user.passwordHash))) {
      throw new HttpError(403, "wrong_password", "password is not this account's password", [
        { field: "body.password", rule: "must be the account's current password" },
      ]);
    }
    this.deps.backoff.recordSuccess(key, call.ip);
  }

  /**
   * A new secret for `user`'s authenticator app, pending until {@link confirm}; replaces a pending
   * one. 409 when MFA is on already (disable it first).
   *
   * @example const { secret, uri } = await mfa.startEnrolment(user, call); // shown once, as a QR code
   */
  async startEnrolment(user: UserRow, call: CallContext): Promise<{ secret: string; uri: string; expiresIn: number }> {
    const enrolment = newTotpSecret(ISSUER, user.email);
    if (!(await this.deps.store.startTotp(user.id, enrolment.secret, new Date(this.clock())))) {
      throw new HttpError(409, "mfa_already_enabled", "MFA is on for this account: disable it first to enrol again");
    }
    await this.record(user.id, "mfa.enrolment_started", "success", call);
    return { ...enrolment, expiresIn: ENROLMENT_TTL_SECONDS };
  }

  /**
   * Enables the pending authenticator with a first code from it, and answers the recovery codes,
   * shown this once.
   *
   * @example const codes = await mfa.confirm(user.id, body.code, call);
   */
  async confirm(userId: string, code: string, call: CallContext): Promise<string[]> {
    const totp = await this.deps.store.totpOf(userId);
    if (totp?.enabledAt != null) {
      throw new HttpError(409, "mfa_already_enabled", "MFA is on for this account already");
    }
    if (totp === undefined || this.expired(totp)) {
      throw new HttpError(
        409,
        "no_pending_enrolment",
        "no enrolment waits for a code (none started, or it is older than 15 minutes): POST /api/auth/mfa/totp/enroll",
      );
    }
    const key = `mfa:${userId}`;
    const gate = this.deps.backoff.attempt(key, call.ip);
    if (!gate.allowed) throw tooMany(gate.retryAfterSeconds);
    const result = verifyTotp(totp.secret, code, { now: this.clock() });
    if (!result.ok) {
      await this.record(userId, "mfa.enabled", "failure", call, { reason: result.reason });
      throw wrongCode(403, result.reason, "totp");
    }
    const now = new Date(this.clock());
    if (!(await this.deps.store.enableTotp(userId, totp.createdAt, result.step, now))) {
      throw new HttpError(409, "no_pending_enrolment", "the enrolment changed meanwhile: start again");
    }
    this.deps.backoff.recordSuccess(key, call.ip);
    const codes = await this.newRecoveryCodes(userId, now);
    metrics.authEvents.inc({ event: "mfa_enabled" });
    this.deps.log.info({ user_id: userId }, "MFA enabled: TOTP authenticator confirmed, recovery codes made");
    await this.record(userId, "mfa.enabled", "success", call, { codes_made: codes.length });
    return codes;
  }

  /**
   * Turns MFA off, given a current code or a recovery code (the password is checked by the route
   * first). Removes the authenticator, the recovery codes and waiting sign-in challenges.
   *
   * @example await mfa.disable(user.id, { recoveryCode: body.recovery_code }, call);
   */
  async disable(userId: string, proof: Proof, call: CallContext): Promise<void> {
    const totp = await this.enabledTotp(userId);
    const checked = await this.check(userId, totp, proof, call);
    if (!checked.ok) {
      await this.record(userId, "mfa.disabled", "failure", call, { reason: checked.failure, method: checked.method });
      throw wrongCode(403, checked.failure, checked.method);
    }
    await this.deps.store.disable(userId);
    metrics.authEvents.inc({ event: "mfa_disabled" });
    this.deps.log.info({ user_id: userId }, "MFA disabled");
    await this.record(userId, "mfa.disabled", "success", call, { method: checked.method });
  }

  /**
   * New recovery codes in place of every earlier one, given a current code from the authenticator.
   *
   * @example const codes = await mfa.regenerateRecoveryCodes(user.id, body.code, call);
   */
  async regenerateRecoveryCodes(userId: string, code: string, call: CallContext): Promise<string[]> {
    const totp = await this.enabledTotp(userId);
    const checked = await this.check(userId, totp, { code }, call);
    if (!checked.ok) {
      await this.record(userId, "mfa.recovery_codes_regenerated", "failure", call, { reason: checked.failure });
      throw wrongCode(403, checked.failure, checked.method);
    }
    const codes = await this.newRecoveryCodes(userId, new Date(this.clock()));
    metrics.authEvents.inc({ event: "mfa_recovery_codes_regenerated" });
    await this.record(userId, "mfa.recovery_codes_regenerated", "success", call, { codes_made: codes.length });
    return codes;
  }

  /**
   * What a first factor (a right password, or an OAuth sign-in the provider vouched for) answers
   * for an account with MFA on: a challenge for its code (undefined when MFA is off: the sign-in
   * makes its session at once).
   *
   * @example
   * const challenge = await mfa.challengeFor(user, membership);
   * if (challenge) return status(202, challenge);
   */
  async challengeFor(user: UserRow, membership: Membership): Promise<MfaChallenge | undefined> {
    const totp = await this.deps.store.totpOf(user.id);
    if (totp?.enabledAt == null) return undefined;
    const token = newSecretToken(MFA_CHALLENGE_PREFIX);
    const now = new Date(this.clock());
    await this.deps.store.insertChallenge(
      {
        tokenHash: token.hash,
        userId: user.id,
        orgId: membership.orgId,
        expiresAt: new Date(now.getTime() + CHALLENGE_TTL_SECONDS * 1000),
      },
      now,
    );
    metrics.authEvents.inc({ event: "mfa_challenge" });
    return {
      mfa_required: true,
      challenge_token: token.token,
      expires_in: CHALLENGE_TTL_SECONDS,
      methods: ["totp", "recovery_code"],
    };
  }

  /**
   * The session a challenge and its code (or a recovery code, then used up) make; 401 for an
   * unknown, expired or used challenge and for a wrong or reused code, 429 while backing off.
   * `from` is where the challenge came (the body's challenge_token, or the cookie an OAuth sign-in
   * set), so a refusal names it.
   *
   * @example const session = await mfa.finish(body.challenge_token, { code: body.code }, call);
   */
  async finish(
    challengeToken: string,
    proof: Proof,
    call: CallContext,
    from: "body" | "cookie" = "body",
  ): Promise<IssuedSession> {
    const gone = () =>
      new HttpError(401, "invalid_mfa_challenge", "unknown, expired or used sign-in challenge: sign in again", [
        from === "body"
          ? { field: "body.challenge_token", rule: "must be the challenge_token of a sign-in of the last 5 minutes" }
          : {
              field: `cookies.${MFA_CHALLENGE_COOKIE}`,
              rule: "must be the challenge an OAuth sign-in of the last 5 minutes set",
            },
      ]);
    if (!isSecretToken(challengeToken, MFA_CHALLENGE_PREFIX)) throw gone();
    const tokenHash = hashSecretToken(challengeToken);
    const challenge = await this.deps.store.challenge(tokenHash, new Date(this.clock()));
    if (challenge === undefined) throw gone();
    const { userId } = challenge;
    const here = { ...call, orgId: challenge.orgId };
    const totp = await this.deps.store.totpOf(userId);
    if (totp?.enabledAt == null) throw gone();
    // Taken once, after the code matched and before it is used up: of two requests racing with one
    // challenge, one gets the session, and the other's recovery code is not spent for nothing.
    const claim = async () => {
      if ((await this.deps.store.takeChallenge(tokenHash, new Date(this.clock()))) === undefined) throw gone();
    };
    const checked = await this.check(userId, totp, proof, here, claim);
    if (!checked.ok) {
      await this.deps.store.failChallenge(tokenHash, CHALLENGE_MAX_FAILURES);
      metrics.authEvents.inc({ event: "mfa_failed" });
      await this.record(userId, "mfa.verified", "failure", here, { reason: checked.failure, method: checked.method });
      throw wrongCode(401, checked.failure, checked.method);
    }
    const now = new Date(this.clock());
    const state = await this.deps.accounts.userState(userId, now, 0);
    const membership = state.memberships.find((m) => m.orgId === challenge.orgId);
    if (state.user === undefined || state.user.deletedAt !== null || membership === undefined) {
      throw new HttpError(401, "invalid_credentials", "the account can no longer sign in to this organisation");
    }
    metrics.authEvents.inc({ event: "mfa_verified" });
    await this.record(userId, "mfa.verified", "success", here, { method: checked.method });
    return this.deps.sessions.start(state.user, membership, [AMR.password, AMR.otp]);
  }

  // --- the checks ---

  private expired(totp: TotpRow): boolean {
    return totp.createdAt.getTime() + ENROLMENT_TTL_SECONDS * 1000 <= this.clock();
  }

  private async enabledTotp(userId: string): Promise<TotpRow> {
    const totp = await this.deps.store.totpOf(userId);
    if (totp?.enabledAt == null) throw new HttpError(409, "mfa_not_enabled", "MFA is not on for this account");
    return totp;
  }

  /**
   * Checks a code or a recovery code against the user's enabled authenticator, through the
   * backoff; a right one is used up here (its step recorded, or the recovery code marked used),
   * after `claim` (what the code is for, taken first; it throws when it is gone).
   */
  private async check(
    userId: string,
    totp: TotpRow,
    proof: Proof,
    call: CallContext,
    claim: () => Promise<void> = async () => {},
  ): Promise<{ ok: true; method: Method } | { ok: false; failure: Failure; method: Method }> {
    const method: Method = proof.code !== undefined ? "totp" : "recovery_code";
    const key = `mfa:${userId}`;
    const gate = this.deps.backoff.attempt(key, call.ip);
    if (!gate.allowed) {
      metrics.authEvents.inc({ event: "mfa_locked" });
      throw tooMany(gate.retryAfterSeconds);
    }
    // A right code whose claim is gone (a racing request took the challenge) was no guess: its
    // attempt is taken back, so racing clients do not back themselves off.
    const take = async () => {
      try {
        await claim();
      } catch (err) {
        this.deps.backoff.recordSuccess(key, call.ip);
        throw err;
      }
    };
    let failure: Failure | undefined;
    if (proof.code !== undefined) {
      const result = verifyTotp(totp.secret, proof.code, {
        now: this.clock(),
        ...(totp.lastStep === null ? {} : { lastStep: totp.lastStep }),
      });
      if (!result.ok) failure = result.reason;
      else {
        await take();
        if (!(await this.deps.store.acceptStep(userId, result.step))) failure = "replayed";
      }
    } else {
      const hashes = await this.deps.store.unusedRecoveryCodes(userId);
      const i = matchRecoveryCode(proof.recoveryCode ?? "", hashes);
      if (i === -1) failure = "invalid";
      else {
        await take();
        if (!(await this.deps.store.useRecoveryCode(userId, hashes[i] as string, new Date(this.clock())))) {
          failure = "used";
        } else {
          metrics.authEvents.inc({ event: "mfa_recovery_code_used" });
          this.deps.log.warn({ user_id: userId, left: hashes.length - 1 }, "a recovery code was used");
          await this.record(userId, "mfa.recovery_code_used", "success", call, { left: hashes.length - 1 });
        }
      }
    }
    if (failure !== undefined) return { ok: false, failure, method };
    this.deps.backoff.recordSuccess(key, call.ip);
    return { ok: true, method };
  }

  private async newRecoveryCodes(userId: string, now: Date): Promise<string[]> {
    const { codes, hashes } = newRecoveryCodes(RECOVERY_CODE_COUNT);
    await this.deps.store.replaceRecoveryCodes(userId, hashes, now);
    return codes;
  }

  private record(
    userId: string,
    action: string,
    outcome: AuditEvent["outcome"],
    call: CallContext,
    detail?: AuditEvent["detail"],
  ): Promise<void> {
    return this.deps.audit.record({
      action,
      outcome,
      actor: { kind: "user", userId },
      orgId: call.orgId,
      target: { type: "user", id: userId },
      ip: call.ip,
      requestId: call.requestId,
      ...(detail === undefined ? {} : { detail }),
    });
  }
}
