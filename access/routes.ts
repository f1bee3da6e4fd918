/**
 * /api/auth: the ways in (first-start setup, sign-up, sign-in, refresh, password reset; public)
 * and what a signed-in caller does with its own account (who am I, sign out, change the password,
 * WebSocket tickets) and its organisation's API keys. Sessions answer with tokens in the body and
 * the same in cookies (cookies.ts), so API clients and browsers use one flow.
 *
 * @example
 * curl -X POST -H 'content-type: application/json' -d '{"email":"ada@example.com","password":"..."}' \
 *   localhost:8080/api/auth/sign-in
 */
import { Elysia } from "elysia";
import { ANONYMOUS, type AuditRecorder } from "../runtime/audit.ts";
import type { Config } from "../runtime/config.ts";
import { auditedRequest, requestOrigin } from "../runtime/http/audit-request.ts";
import { clientIpOf } from "../runtime/http/client-ip.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, allowed, principalOf } from "../runtime/http/permission.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { LoginBackoff } from "../runtime/security/login-backoff.ts";
import {
  checkPasswordPolicy,
  hashPassword,
  needsRehash,
  verifyAgainstDummy,
  verifyPassword,
} from "../runtime/security/password.ts";
import {
  canGrantRole,
  highestRank,
  ORG_ROLES,
  type OrgRole,
  type Permission,
  policy,
  roleRank,
} from "../runtime/security/rbac.ts";
import { constantTimeEqual, hashSecretToken, newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { ErrorBody } from "../schemas/errors.ts";
import {
  type AccessStore,
  type ApiKeyKind,
  type ApiKeyRow,
  isUniqueViolation,
  type Membership,
  newId,
  parseScopes,
  type UserRow,
} from "./access-store.ts";
import type { AccessAuthenticator } from "./authenticator.ts";
import {
  CSRF_HEADER,
  clearedCookies,
  csrfRefusal,
  IMPERSONATOR_REFRESH_COOKIE,
  REFRESH_COOKIE,
  readCookie,
} from "./cookies.ts";
import { impersonationRefused } from "./impersonation.ts";
import type { InvitationAcceptance } from "./invitations.ts";
import type { SecondFactor } from "./mfa.ts";
import { MfaChallengeResponse } from "./mfa-schemas.ts";
import { refreshReused } from "./refresh-reuse.ts";
import {
  ApiKeyIdParams,
  ApiKeyListResponse,
  CreateApiKeyBody,
  CreatedApiKeyResponse,
  MeResponse,
  PasswordChangeBody,
  PasswordResetBody,
  PasswordResetResponse,
  RefreshBody,
  RevokedApiKeyResponse,
  SessionResponse,
  SetupBody,
  SignedOutResponse,
  SignInBody,
  SignOutBody,
  SignUpBody,
  WsTicketResponse,
} from "./schemas.ts";
import { sessionAnswer, userBody } from "./session-answer.ts";
import { AMR, ReusedRefreshToken, type Sessions } from "./sessions.ts";
import type { SetupToken } from "./setup.ts";
import { ticketPrincipalJson, WS_TICKET_PREFIX, WS_TICKET_TTL_SECONDS } from "./ws-ticket.ts";

export interface AccessRoutesDeps {
  store: AccessStore;
  sessions: Sessions;
  authenticator: AccessAuthenticator;
  backoff: LoginBackoff;
  setupToken: SetupToken;
  /** The second factor: a sign-in of an account with MFA answers its challenge instead of a session. */
  secondFactor: Pick<SecondFactor, "challengeFor" | "status">;
  config: Pick<Config, "signup">;
  log: Logger;
  /** Where sign-ins, sign-outs, password and key changes are recorded. */
  audit: AuditRecorder;
  /** A sign-up with an invitation token joins the inviting organisation (invitations.ts). */
  invited: InvitationAcceptance;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

const TAGS = ["auth"];

const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

/**
 * The address a failed sign-in tried, as the audit log keeps it: only when it is shaped like an
 * address. People type their password in the email field; that attempt must not write it down.
 */
function emailTried(email: string): string {
  return EMAIL_SHAPE.test(email) ? email : "(not an email address)";
}

function weakPassword(field: string, password: string): HttpError | undefined {
  const problem = checkPasswordPolicy(password);
  if (problem === undefined) return undefined;
  return new HttpError(422, "weak_password", `${field}: ${problem}`, [{ field, rule: problem }]);
}

function keyBody(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    prefix: k.prefix,
    last_four: k.lastFour,
    role: k.role as OrgRole,
    scopes: parseScopes(k.scopes),
    kind: k.kind as ApiKeyKind,
    created_at: k.createdAt.toISOString(),
  };
}

/** The highest organisation role among `roles` (an operator without one acts as an owner). */
function orgRoleOf(roles: readonly string[]): OrgRole {
  let best: OrgRole | undefined;
  for (const role of roles) {
    if (
      (ORG_ROLES as readonly string[]).includes(role) &&
      (best === undefined || roleRank(role as OrgRole) > roleRank(best))
    ) {
      best = role as OrgRole;
    }
  }
  return best ?? "owner";
}

/**
 * The /api/auth routes.
 *
 * @example app.use(accessRoutes({ store, sessions, authenticator, backoff, setupToken, config, log }));
 */
export function accessRoutes(deps: AccessRoutesDeps) {
  const { store, sessions, authenticator, backoff, setupToken, secondFactor, config, log, audit, invited } = deps;
  const clock = deps.clock ?? Date.now;

  /** The JSON body and cookies of a new or rotated session. */
  const answer = sessionAnswer(store);

  const membershipsOf = async (userId: string): Promise<Membership[]> =>
    (await store.userState(userId, new Date(clock()), 0)).memberships;

  const ways = new Elysia({ name: "aragora-auth", prefix: "/api/auth" })
    .use(accessControl)
    .post(
      "/setup",
      async ({ body, set, status, request }) => {
        const record = await store.setupRecord();
        if (record === undefined || record.claimedAt !== null || record.tokenHash === null) {
          throw new HttpError(
            410,
            "setup_claimed",
            "the first-start setup is done: sign in, or ask an owner for an account",
          );
        }
        if (!constantTimeEqual(hashSecretToken(body.setup_token), record.tokenHash)) {
          metrics.authFailures.inc({ reason: "invalid_setup_token" });
          await audit.record({
            action: "auth.setup_claimed",
            outcome: "failure",
            actor: ANONYMOUS,
            orgId: record.orgId,
            ...requestOrigin(request),
            detail: { email: emailTried(body.email), reason: "invalid_setup_token" },
          });
          throw new HttpError(
            401,
            "invalid_setup_token",
            "wrong setup token: it is the one the server printed on first start (also in <data dir>/setup-token)",
          );
        }
        const weak = weakPassword("body.password", body.password);
        if (weak) throw weak;
        const passwordHash = await hashPassword(body.password);
        const now = new Date(clock());
        if (!(await store.claimSetup(record.tokenHash, now))) {
          throw new HttpError(
            410,
            "setup_claimed",
            "the first-start setup is done: sign in, or ask an owner for an account",
          );
        }
        let user: UserRow;
        try {
          user = await store.createUser(
            { email: body.email, name: body.name ?? (body.email.split("@")[0] as string), passwordHash },
            record.orgId,
            "owner",
            now,
          );
        } catch (err) {
          // Not claimed after all: the owner can try again with the same token.
          await store.unclaimSetup(record.tokenHash);
          if (isUniqueViolation(err))
            throw new HttpError(409, "email_taken", "an account with this email exists already", [
              { field: "body.email", rule: "must not belong to an existing account" },
            ]);
          throw err;
        }
        setupToken.consumed();
        metrics.authEvents.inc({ event: "setup_claimed" });
        await audit.record({
          action: "auth.setup_claimed",
          outcome: "success",
          actor: { kind: "user", userId: user.id },
          orgId: record.orgId,
          target: { type: "user", id: user.id },
          ...requestOrigin(request),
          detail: { email: user.email, role: "owner" },
        });
        log.info({ user_id: user.id, org_id: record.orgId }, "first-start setup claimed: owner account made");
        const workspaceId = (await store.defaultWorkspace(record.orgId)) as string;
        return status(
          201,
          await answer(await sessions.start(user, { orgId: record.orgId, role: "owner", workspaceId }), set),
        );
      },
      {
        permission: "public",
        body: validated(SetupBody, "body"),
        parse: "json",
        detail: {
          summary: "Claim the owner account of the first organisation with the first-start setup token",
          tags: TAGS,
        },
        response: responses({ 201: SessionResponse, 401: ErrorBody, 409: ErrorBody, 410: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/sign-up",
      async ({ body, set, status, request }) => {
        if (body.invitation_token !== undefined) {
          if (body.organisation_name !== undefined) {
            throw new HttpError(
              422,
              "validation_failed",
              "body.organisation_name: an invitation joins its organisation",
              [{ field: "body.organisation_name", rule: "must be absent with invitation_token" }],
            );
          }
          // Checked before the password is hashed: a wrong or used token costs no argon2 work.
          await invited.check(body.invitation_token, body.email, request);
          const weakInvited = weakPassword("body.password", body.password);
          if (weakInvited) throw weakInvited;
          const joined = await invited.signUp(
            {
              token: body.invitation_token,
              email: body.email,
              name: body.name,
              passwordHash: await hashPassword(body.password),
            },
            request,
          );
          log.info(
            { user_id: joined.user.id, org_id: joined.membership.orgId, invitation_id: joined.invitation.id },
            "signed up with an invitation",
          );
          metrics.authEvents.inc({ event: "sign_up" });
          await audit.record({
            action: "auth.signed_up",
            outcome: "success",
            actor: { kind: "user", userId: joined.user.id },
            orgId: joined.membership.orgId,
            target: { type: "user", id: joined.user.id },
            ...requestOrigin(request),
            detail: { email: joined.user.email, role: joined.membership.role, invitation_id: joined.invitation.id },
          });
          return status(201, await answer(await sessions.start(joined.user, joined.membership), set));
        }
        if (config.signup !== "open") {
          throw new HttpError(
            403,
            "signup_closed",
            "sign-up is closed on this server (ARAGORA_SIGNUP=closed): ask an owner for an account",
          );
        }
        const weak = weakPassword("body.password", body.password);
        if (weak) throw weak;
        const passwordHash = await hashPassword(body.password);
        const now = new Date(clock());
        let made: Awaited<ReturnType<AccessStore["createUserWithOrganisation"]>>;
        try {
          made = await store.createUserWithOrganisation(
            { email: body.email, name: body.name, passwordHash },
            body.organisation_name ?? `${body.name}'s organisation`,
            now,
          );
        } catch (err) {
          if (isUniqueViolation(err))
            throw new HttpError(409, "email_taken", "an account with this email exists already", [
              { field: "body.email", rule: "must not belong to an existing account" },
            ]);
          throw err;
        }
        log.info({ user_id: made.user.id, org_id: made.orgId }, "signed up: account and organisation made");
        metrics.authEvents.inc({ event: "sign_up" });
        await audit.record({
          action: "auth.signed_up",
          outcome: "success",
          actor: { kind: "user", userId: made.user.id },
          orgId: made.orgId,
          target: { type: "user", id: made.user.id },
          ...requestOrigin(request),
          detail: { email: made.user.email, role: "owner" },
        });
        const session = await sessions.start(made.user, {
          orgId: made.orgId,
          role: "owner",
          workspaceId: made.workspaceId,
        });
        return status(201, await answer(session, set));
      },
      {
        permission: "public",
        body: validated(SignUpBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Create an account and the organisation it owns (when ARAGORA_SIGNUP=open), or, with invitation_token, join the inviting organisation",
          tags: TAGS,
        },
        response: responses({
          201: SessionResponse,
          401: ErrorBody,
          403: ErrorBody,
          409: ErrorBody,
          410: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .post(
      "/sign-in",
      async ({ body, set, request, status }) => {
        const email = body.email.trim().toLowerCase();
        const origin = requestOrigin(request);
        /** Records a refused sign-in: in the account's organisation when there is one, else the platform's. */
        const refusedSignIn = async (reason: string, account?: UserRow, orgId?: string | null) => {
          metrics.authFailures.inc({ reason });
          await audit.record({
            action: "auth.signed_in",
            outcome: "failure",
            actor: ANONYMOUS,
            orgId: orgId ?? (account ? ((await membershipsOf(account.id))[0]?.orgId ?? null) : null),
            ...(account ? { target: { type: "user", id: account.id } } : {}),
            ...origin,
            detail: { email: emailTried(email), reason },
          });
        };
        const gate = backoff.attempt(email, clientIpOf(request));
        if (!gate.allowed) {
          metrics.authEvents.inc({ event: "sign_in_locked" });
          // No account lookup: a locked-out flood stays cheap to refuse (the platform's chain keeps it).
          await refusedSignIn("too_many_attempts");
          throw new HttpError(
            429,
            "too_many_attempts",
            `too many failed sign-ins for this ${gate.by === "account" ? "account" : "address"}; retry in ${gate.retryAfterSeconds} s`,
            undefined,
            { "retry-after": String(gate.retryAfterSeconds) },
          );
        }
        const user = await store.userByEmail(email);
        const live = user !== undefined && user.deletedAt === null && user.passwordHash !== null ? user : undefined;
        const ok = live
          ? await verifyPassword(body.password, live.passwordHash as string)
          : await verifyAgainstDummy(body.password);
        if (!ok || live === undefined) {
          metrics.authEvents.inc({ event: "sign_in_failed" });
          await refusedSignIn("invalid_credentials", live);
          throw new HttpError(401, "invalid_credentials", "wrong email or password");
        }
        metrics.authEvents.inc({ event: "sign_in" });
        backoff.recordSuccess(email, clientIpOf(request));
        if (needsRehash(live.passwordHash as string))
          await store.rehashPassword(live.id, await hashPassword(body.password));
        const memberships = await membershipsOf(live.id);
        const membership =
          body.org_id === undefined ? memberships[0] : memberships.find((m) => m.orgId === body.org_id);
        if (membership === undefined) {
          await refusedSignIn(
            body.org_id === undefined ? "no_organisation" : "not_a_member",
            live,
            memberships[0]?.orgId ?? null,
          );
          throw body.org_id === undefined
            ? new HttpError(403, "no_organisation", "this account belongs to no organisation")
            : new HttpError(403, "not_a_member", "this account is not a member of that organisation", [
                { field: "body.org_id", rule: "must be an organisation the account belongs to" },
              ]);
        }
        const challenge = await secondFactor.challengeFor(live, membership);
        if (challenge !== undefined) {
          set.headers["cache-control"] = "no-store";
          return status(202, challenge);
        }
        const session = await sessions.start(live, membership);
        await audit.record({
          action: "auth.signed_in",
          outcome: "success",
          actor: { kind: "user", userId: live.id },
          orgId: membership.orgId,
          target: { type: "session", id: session.sessionId },
          ...origin,
          detail: { email, role: membership.role },
        });
        return answer(session, set);
      },
      {
        permission: "public",
        body: validated(SignInBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Sign in with email and password: an access token, a refresh token, and the same as cookies; with MFA on, 202 and a challenge for POST /api/auth/mfa/verify",
          tags: TAGS,
        },
        response: responses({
          200: SessionResponse,
          202: MfaChallengeResponse,
          401: ErrorBody,
          403: ErrorBody,
          422: ErrorBody,
          429: ErrorBody,
        }),
      },
    )
    .post(
      "/refresh",
      async ({ body, set, request }) => {
        let token = body?.refresh_token;
        if (token === undefined) {
          const cookies = request.headers.get("cookie");
          token = readCookie(cookies, REFRESH_COOKIE);
          if (token === undefined) {
            throw new HttpError(
              401,
              "invalid_refresh_token",
              "send the refresh token in the body (refresh_token) or the aragora_refresh cookie",
            );
          }
          const refused = csrfRefusal(request.method, request.headers.get(CSRF_HEADER), cookies);
          if (refused) throw refused;
        }
        try {
          const rotated = await sessions.rotate(token);
          metrics.authEvents.inc({ event: "refresh" });
          return await answer(rotated, set);
        } catch (err) {
          if (err instanceof HttpError) metrics.authFailures.inc({ reason: err.code });
          if (err instanceof ReusedRefreshToken) await refreshReused(err, request, { authenticator, audit, log });
          throw err;
        }
      },
      {
        permission: "public",
        body: validated(RefreshBody, "body"),
        parse: "json",
        detail: {
          summary: "Rotate a refresh token (body or cookie) for new tokens; a reused one revokes its session",
          tags: TAGS,
        },
        response: responses({ 200: SessionResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/password/reset",
      async ({ body, request }) => {
        const weak = weakPassword("body.new_password", body.new_password);
        if (weak) throw weak;
        const now = new Date(clock());
        const userId = await store.takePasswordReset(hashSecretToken(body.reset_token), now);
        const user = userId === undefined ? undefined : await store.user(userId);
        if (user === undefined || user.deletedAt !== null) {
          metrics.authFailures.inc({ reason: "invalid_reset_token" });
          await audit.record({
            action: "auth.password_reset",
            outcome: "failure",
            actor: ANONYMOUS,
            orgId: null,
            ...requestOrigin(request),
            detail: { reason: "invalid_reset_token" },
          });
          throw new HttpError(
            401,
            "invalid_reset_token",
            "unknown, used or expired reset token: ask for a new one (aragora users reset-password)",
          );
        }
        await store.setPassword(user.id, await hashPassword(body.new_password), now);
        authenticator.forgetUser(user.id);
        log.info({ user_id: user.id }, "password reset: every session of the account ended");
        metrics.authEvents.inc({ event: "password_reset" });
        await audit.record({
          action: "auth.password_reset",
          outcome: "success",
          actor: { kind: "user", userId: user.id },
          orgId: (await membershipsOf(user.id))[0]?.orgId ?? null,
          target: { type: "user", id: user.id },
          ...requestOrigin(request),
          detail: { sessions_ended: true },
        });
        return { reset: true as const };
      },
      {
        permission: "public",
        body: validated(PasswordResetBody, "body"),
        parse: "json",
        detail: {
          summary: "Set a new password with a one-time reset token; ends every session of the account",
          tags: TAGS,
        },
        response: responses({ 200: PasswordResetResponse, 401: ErrorBody, 422: ErrorBody }),
      },
    );

  const account = new Elysia({ name: "aragora-auth-account", prefix: "/api/auth" })
    .use(accessControl)
    .get(
      "/me",
      async ({ request }) => {
        const p = principalOf(request);
        const [user, organisation, workspace, actor] = await Promise.all([
          p.userId === null ? undefined : store.user(p.userId),
          store.organisation(p.orgId),
          store.workspace(p.workspaceId),
          p.actor === undefined ? undefined : store.user(p.actor.userId),
        ]);
        const permissions = policy.permissionsOf(p.roles).filter((x) => allowed(p, x));
        const mfa =
          p.kind === "user" && user !== undefined
            ? { enabled: (await secondFactor.status(user.id)).enabled, session_verified: p.mfa === true }
            : undefined;
        return {
          user: user === undefined ? null : userBody(user),
          organisation: { id: p.orgId, name: organisation?.name ?? "" },
          workspace: { id: p.workspaceId, name: workspace?.name ?? "" },
          roles: [...p.roles],
          permissions,
          via: p.via,
          ...(p.keyId === undefined ? {} : { key_id: p.keyId }),
          ...(p.scopes === undefined ? {} : { scopes: [...p.scopes] }),
          ...(mfa === undefined ? {} : { mfa }),
          // Who really acts, so the console can say so on every page (its "Acting as" banner).
          ...(p.actor === undefined
            ? {}
            : {
                impersonated_by: {
                  user_id: p.actor.userId,
                  email: actor?.email ?? "",
                  name: actor?.name ?? "",
                },
              }),
        };
      },
      {
        permission: "account.self",
        detail: {
          summary: "Who the request is authenticated as: account, organisation, roles and permissions",
          tags: TAGS,
        },
        response: responses({ 200: MeResponse, 401: ErrorBody }),
      },
    )
    .post(
      "/sign-out",
      async ({ body, request, set }) => {
        const p = principalOf(request);
        const now = new Date(clock());
        const sessionIds = new Set<string>();
        if (p.sessionId !== undefined) sessionIds.add(p.sessionId);
        const cookies = request.headers.get("cookie");
        const token = body?.refresh_token ?? readCookie(cookies, REFRESH_COOKIE);
        if (token !== undefined) {
          const row = await store.refreshToken(hashSecretToken(token));
          // Only the caller's own sessions: a stranger's token signs nobody out.
          if (row !== undefined && row.userId === p.userId) sessionIds.add(row.familyId);
        }
        // Signing out while viewing as a user ends the operator's own session kept aside too.
        const kept = p.actor === undefined ? undefined : readCookie(cookies, IMPERSONATOR_REFRESH_COOKIE);
        if (kept !== undefined) {
          const row = await store.refreshToken(hashSecretToken(kept));
          if (row !== undefined && row.userId === p.actor?.userId) sessionIds.add(row.familyId);
        }
        if (sessionIds.size === 0) {
          throw new HttpError(
            400,
            "no_session",
            "nothing to sign out of: this request is not part of a session (an API key is revoked with DELETE /api/auth/api-key)",
          );
        }
        for (const id of sessionIds) await store.revokeSession(id, now);
        if (p.userId !== null) authenticator.forgetUser(p.userId);
        metrics.authEvents.inc({ event: "sign_out" });
        for (const id of sessionIds) {
          await audit.record({
            action: "auth.signed_out",
            outcome: "success",
            ...auditedRequest(request),
            target: { type: "session", id },
          });
        }
        set.headers["set-cookie"] = clearedCookies();
        return { signed_out: true as const };
      },
      {
        permission: "account.self",
        body: validated(SignOutBody, "body"),
        parse: "json",
        detail: {
          summary: "End this session: its refresh token and access tokens stop working; cookies are cleared",
          tags: TAGS,
        },
        response: responses({ 200: SignedOutResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/password",
      async ({ body, request, set }) => {
        const p = principalOf(request);
        if (p.kind !== "user" || p.userId === null) {
          throw new HttpError(
            403,
            "not_a_user_session",
            "only a signed-in user changes their password (not an API key or the operator token)",
          );
        }
        const ip = clientIpOf(request);
        const gate = backoff.attempt(`password:${p.userId}`, ip);
        if (!gate.allowed) {
          throw new HttpError(
            429,
            "too_many_attempts",
            `too many wrong passwords; retry in ${gate.retryAfterSeconds} s`,
            undefined,
            { "retry-after": String(gate.retryAfterSeconds) },
          );
        }
        const user = await store.user(p.userId);
        if (
          user === undefined ||
          user.passwordHash === null ||
          !(await verifyPassword(body.current_password, user.passwordHash))
        ) {
          metrics.authFailures.inc({ reason: "wrong_password" });
          await audit.record({
            action: "auth.password_changed",
            outcome: "failure",
            ...auditedRequest(request),
            target: { type: "user", id: p.userId },
            detail: { reason: "wrong_password" },
          });
          throw new HttpError(403, "wrong_password", "current_password is not this account's password", [
            { field: "body.current_password", rule: "must be the account's current password" },
          ]);
        }
        backoff.recordSuccess(`password:${p.userId}`, ip);
        const weak = weakPassword("body.new_password", body.new_password);
        if (weak) throw weak;
        await store.setPassword(user.id, await hashPassword(body.new_password), new Date(clock()));
        authenticator.forgetUser(user.id);
        log.info({ user_id: user.id }, "password changed: every other session of the account ended");
        metrics.authEvents.inc({ event: "password_changed" });
        await audit.record({
          action: "auth.password_changed",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "user", id: user.id },
          detail: { sessions_ended: true },
        });
        const membership = (await membershipsOf(user.id)).find((m) => m.orgId === p.orgId);
        if (membership === undefined)
          throw new HttpError(403, "not_a_member", "the account is no longer a member of this organisation");
        // The new session proved what this one did: a session that passed MFA keeps its second factor.
        return answer(
          await sessions.start(user, membership, p.mfa === true ? [AMR.password, AMR.otp] : [AMR.password]),
          set,
        );
      },
      {
        permission: "account.self",
        body: validated(PasswordChangeBody, "body"),
        parse: "json",
        detail: { summary: "Change the password; ends every session of the account and answers a new one", tags: TAGS },
        response: responses({ 200: SessionResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody, 429: ErrorBody }),
      },
    )
    .post(
      "/ws-ticket",
      async ({ request, set }) => {
        const p = principalOf(request);
        const ticket = newSecretToken(WS_TICKET_PREFIX);
        const now = new Date(clock());
        await store.insertWsTicket(
          ticket.hash,
          ticketPrincipalJson(p),
          now,
          new Date(now.getTime() + WS_TICKET_TTL_SECONDS * 1000),
        );
        set.headers["cache-control"] = "no-store";
        return { ticket: ticket.token, expires_in: WS_TICKET_TTL_SECONDS };
      },
      {
        permission: "debates.read",
        detail: {
          summary: "A single-use ticket, valid 30 s, to open the WebSocket as this caller (?ticket=)",
          tags: TAGS,
        },
        response: responses({ 200: WsTicketResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    );

  const keys = new Elysia({ name: "aragora-auth-keys", prefix: "/api/auth" })
    .use(accessControl)
    .post(
      "/api-key",
      async ({ body, request, set, status }) => {
        const p = principalOf(request);
        // A key outlives an impersonation: acting as a user never mints the user's credentials.
        if (p.actor !== undefined) throw impersonationRefused("make API keys");
        const role = body.role ?? orgRoleOf(p.roles);
        if (!canGrantRole(p.roles, role)) {
          throw new HttpError(
            403,
            "role_too_high",
            `a key may not have a role above your own (${orgRoleOf(p.roles)})`,
            [{ field: "body.role", rule: "must not exceed the creator's role" }],
          );
        }
        const kind: ApiKeyKind = body.kind ?? "user";
        if (kind === "service" && highestRank(p.roles) < roleRank("admin")) {
          throw new HttpError(403, "forbidden", "only admins and owners make service keys", [
            { field: "body.kind", rule: "service needs the admin or owner role" },
          ]);
        }
        // A scoped key makes only keys within its own scopes: a key cannot widen itself.
        const scopes: Permission[] = body.scopes ?? (p.scopes ? [...p.scopes] : []);
        for (const [i, scope] of scopes.entries()) {
          if (!policy.can([role], scope) || (p.scopes !== undefined && !p.scopes.includes(scope))) {
            throw new HttpError(
              422,
              "validation_failed",
              `body.scopes.${i}: ${scope} is not granted to the key's role (${role}) and your own credentials`,
              [{ field: `body.scopes.${i}`, rule: "must be granted by the key's role and by your own credentials" }],
            );
          }
        }
        if (p.scopes !== undefined && scopes.length === 0) {
          throw new HttpError(422, "validation_failed", "body.scopes: a scoped key makes only scoped keys", [
            { field: "body.scopes", rule: "must not be empty when the caller's key is scoped" },
          ]);
        }
        const secret = newSecretToken(TOKEN_PREFIX.apiKey);
        const row: ApiKeyRow = {
          id: newId.apiKey(),
          orgId: p.orgId,
          createdBy: p.userId,
          name: body.name,
          prefix: secret.token.slice(0, TOKEN_PREFIX.apiKey.length + 4),
          lastFour: secret.lastFour,
          keyHash: secret.hash,
          role,
          scopes: JSON.stringify(scopes),
          kind,
          createdAt: new Date(clock()),
          lastUsedAt: null,
          revokedAt: null,
        };
        await store.insertApiKey(row);
        log.info({ key_id: row.id, org_id: row.orgId, role, kind, created_by: p.userId }, "API key made");
        metrics.authEvents.inc({ event: "api_key_created" });
        await audit.record({
          action: "key.created",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "api_key", id: row.id },
          detail: { name: row.name, prefix: row.prefix, role, kind, scopes: scopes.join(",") },
        });
        set.headers["cache-control"] = "no-store";
        return status(201, { ...keyBody(row), key: secret.token });
      },
      {
        permission: "keys.manage",
        body: validated(CreateApiKeyBody, "body"),
        parse: "json",
        detail: { summary: "Make an API key (shown once); its role may not exceed yours", tags: TAGS },
        response: responses({ 201: CreatedApiKeyResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .delete(
      "/api-key",
      async ({ request }) => {
        const p = principalOf(request);
        if (p.keyId === undefined) {
          throw new HttpError(
            400,
            "not_an_api_key",
            "this request is not authenticated by an API key: DELETE /api/auth/api-keys/:id revokes a key by id",
          );
        }
        const hash = await store.revokeApiKey(p.keyId, p.orgId, new Date(clock()));
        if (hash !== undefined) authenticator.forgetKey(hash);
        log.info({ key_id: p.keyId, org_id: p.orgId }, "API key revoked by itself");
        metrics.authEvents.inc({ event: "api_key_revoked" });
        await audit.record({
          action: "key.revoked",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "api_key", id: p.keyId },
          detail: { by: "itself" },
        });
        return { id: p.keyId, revoked: true as const };
      },
      {
        permission: "account.self",
        detail: { summary: "Revoke the API key this request is authenticated with", tags: TAGS },
        response: responses({ 200: RevokedApiKeyResponse, 400: ErrorBody, 401: ErrorBody }),
      },
    )
    .delete(
      "/api-keys/:id",
      async ({ params, request }) => {
        const p = principalOf(request);
        const hash = await store.revokeApiKey(params.id, p.orgId, new Date(clock()));
        // Another organisation's key answers as a missing one does.
        if (hash === undefined) throw new HttpError(404, "not_found", `no API key ${params.id}`);
        authenticator.forgetKey(hash);
        log.info({ key_id: params.id, org_id: p.orgId, revoked_by: p.userId }, "API key revoked");
        metrics.authEvents.inc({ event: "api_key_revoked" });
        await audit.record({
          action: "key.revoked",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "api_key", id: params.id },
        });
        return { id: params.id, revoked: true as const };
      },
      {
        permission: "keys.manage",
        params: validated(ApiKeyIdParams, "params"),
        detail: { summary: "Revoke one of the organisation's API keys; it stops working within a second", tags: TAGS },
        response: responses({
          200: RevokedApiKeyResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    );

  const listKeys = async ({ request }: { request: Request }) => {
    const p: Principal = principalOf(request);
    const rows = await store.listApiKeys(p.orgId);
    return { api_keys: rows.map((k) => ({ ...keyBody(k), last_used_at: k.lastUsedAt?.toISOString() ?? null })) };
  };
  const listing = {
    permission: "keys.manage" as const,
    response: responses({ 200: ApiKeyListResponse, 401: ErrorBody, 403: ErrorBody }),
  };
  keys
    .get("/api-keys", listKeys, {
      ...listing,
      detail: { summary: "The organisation's API keys (never the keys themselves)", tags: TAGS },
    })
    .get("/api-key", listKeys, {
      ...listing,
      detail: { summary: "The organisation's API keys (the same as GET /api/auth/api-keys)", tags: TAGS },
    });

  return new Elysia({ name: "aragora-auth-routes" }).use(ways).use(account).use(keys);
}
