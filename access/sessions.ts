/**
 * Sessions: a sign-in starts one (a refresh-token family), and each refresh rotates its token.
 * The access token is a short-lived JWT naming the session (`sid`); the refresh token is an opaque
 * `ara_rt_...` secret stored only as its SHA-256, good for one use: presenting a used one again
 * means it was copied, so the whole session is revoked (RFC 9700 §4.14.2).
 *
 * @example
 * const session = await sessions.start(user, membership);
 * const next = await sessions.rotate(session.refreshToken); // throws HttpError 401 when refused
 */
import { randomBytes } from "node:crypto";
import { HttpError } from "../runtime/http/errors.ts";
import type { TokenSigner } from "../runtime/security/jwt.ts";
import type { OrgRole, Role } from "../runtime/security/rbac.ts";
import { hashSecretToken, isSecretToken, newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { type AccessStore, type Membership, newId, parseAmr, type UserRow } from "./access-store.ts";

/** RFC 8176 authentication methods a session records: a password, and a one-time code (TOTP or a recovery code). */
export const AMR = { password: "pwd", otp: "otp" } as const;

/**
 * Whether a session authenticated by `amr` passed a second factor (what admin routes ask of a person).
 *
 * @example passedSecondFactor(["pwd", "otp"]); // true
 */
export function passedSecondFactor(amr: readonly string[] | undefined): boolean {
  return amr?.includes(AMR.otp) === true;
}

/** What a started or rotated session hands the client. */
export interface IssuedSession {
  accessToken: string;
  /** Seconds. */
  expiresIn: number;
  refreshToken: string;
  /** Seconds. */
  refreshExpiresIn: number;
  csrfToken: string;
  sessionId: string;
  user: UserRow;
  membership: Membership;
}

export interface SessionsOptions {
  store: AccessStore;
  signer: Pick<TokenSigner, "signAccess" | "accessTtlSeconds">;
  refreshTtlSeconds: number;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/** The refusal of a refresh token (unknown, used, expired, revoked, or its account gone). */
function refused(code: string, message: string): HttpError {
  return new HttpError(401, code, message, undefined, {
    "www-authenticate": 'Bearer realm="aragora", error="invalid_token"',
  });
}

export class Sessions {
  private readonly clock: () => number;

  constructor(private readonly options: SessionsOptions) {
    this.clock = options.clock ?? Date.now;
  }

  /**
   * A new session for `user` acting in `membership`'s organisation, authenticated by `amr`
   * (RFC 8176: `["pwd"]` for a password, `["pwd", "otp"]` with a second factor), which every
   * access token of the session carries.
   *
   * @example const session = await sessions.start(user, { orgId, role: "owner", workspaceId });
   */
  async start(user: UserRow, membership: Membership, amr: readonly string[] = [AMR.password]): Promise<IssuedSession> {
    const now = new Date(this.clock());
    const sessionId = newId.session();
    const refresh = newSecretToken(TOKEN_PREFIX.refresh);
    await this.options.store.insertRefreshToken(
      {
        familyId: sessionId,
        userId: user.id,
        orgId: membership.orgId,
        tokenHash: refresh.hash,
        expiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
        amr,
      },
      now,
    );
    return this.issue(user, membership, sessionId, refresh.token, amr);
  }

  /**
   * The next tokens of the session `refreshToken` belongs to. Throws 401 `refresh_token_reused`
   * (and revokes the session) for a used token, 401 `invalid_refresh_token` for one that is
   * unknown, expired or revoked or whose account can no longer act in its organisation.
   *
   * @example const next = await sessions.rotate(body.refresh_token);
   */
  async rotate(refreshToken: string): Promise<IssuedSession> {
    if (!isSecretToken(refreshToken, TOKEN_PREFIX.refresh)) {
      throw refused("invalid_refresh_token", "not an Aragora refresh token (ara_rt_...)");
    }
    const now = new Date(this.clock());
    const next = newSecretToken(TOKEN_PREFIX.refresh);
    const { store } = this.options;
    const result = await store.rotateRefreshToken(hashSecretToken(refreshToken), now, {
      tokenHash: next.hash,
      expiresAt: new Date(now.getTime() + this.options.refreshTtlSeconds * 1000),
    });
    switch (result.status) {
      case "reused":
        throw new ReusedRefreshToken(result.userId, result.familyId, result.orgId);
      case "expired":
        throw refused("invalid_refresh_token", "the refresh token expired: sign in again");
      case "revoked":
        throw refused("invalid_refresh_token", "the refresh token's session has ended: sign in again");
      case "unknown":
        throw refused("invalid_refresh_token", "unknown refresh token");
    }
    const { previous } = result;
    const state = await store.userState(previous.userId, now, 0);
    const membership = state.memberships.find((m) => m.orgId === previous.orgId);
    if (state.user === undefined || state.user.deletedAt !== null || membership === undefined) {
      await store.revokeSession(previous.familyId, now);
      throw refused("invalid_refresh_token", "the account can no longer act in this session's organisation");
    }
    // The session's second factor was checked when it started: its refreshed tokens still say so.
    return this.issue(state.user, membership, previous.familyId, next.token, parseAmr(previous.amr));
  }

  private async issue(
    user: UserRow,
    membership: Membership,
    sessionId: string,
    refreshToken: string,
    amr: readonly string[],
  ): Promise<IssuedSession> {
    const roles: Role[] = user.isOperator ? [membership.role as OrgRole, "operator"] : [membership.role];
    const accessToken = await this.options.signer.signAccess({
      sub: user.id,
      org: membership.orgId,
      roles,
      sid: sessionId,
      amr,
    });
    return {
      accessToken,
      expiresIn: this.options.signer.accessTtlSeconds,
      refreshToken,
      refreshExpiresIn: this.options.refreshTtlSeconds,
      csrfToken: randomBytes(32).toString("base64url"),
      sessionId,
      user,
      membership,
    };
  }
}

/** A used refresh token came back: its session is revoked; the caller forgets the user's cached state. */
export class ReusedRefreshToken extends HttpError {
  constructor(
    readonly userId: string,
    /** The session (refresh-token family) that was revoked. */
    readonly sessionId: string,
    /** The organisation the session acted in. */
    readonly orgId: string,
  ) {
    super(
      401,
      "refresh_token_reused",
      "this refresh token was already used: the session is revoked on suspicion of theft; sign in again",
      undefined,
      { "www-authenticate": 'Bearer realm="aragora", error="invalid_token"' },
    );
  }
}
