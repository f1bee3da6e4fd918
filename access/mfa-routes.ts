/**
 * /api/auth/mfa: a person's second factor (mfa.ts). Enrol a TOTP authenticator (the password
 * again, then a first code), see whether MFA is on, disable it (the password and a code or a
 * recovery code), make new recovery codes (a code), and finish a sign-in with a code
 * (`POST /api/auth/mfa/verify`, public: the sign-in's challenge is the credential, from the body's
 * `challenge_token` or, for an OAuth sign-in, from the `aragora_mfa_challenge` cookie).
 *
 * Only a person's own session manages its second factor: not an API key, not the operator token,
 * not an impersonation token.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"password":"..."}' localhost:8080/api/auth/mfa/totp/enroll      # {secret, otpauth_uri, expires_in}
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"code":"123456"}' localhost:8080/api/auth/mfa/totp/confirm       # {enabled: true, recovery_codes: [...]}
 */
import { Elysia } from "elysia";
import { clientIpOf } from "../runtime/http/client-ip.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import { stateOf } from "../runtime/http/request-state.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import { ErrorBody } from "../schemas/errors.ts";
import type { AccessStore, UserRow } from "./access-store.ts";
import { MFA_CHALLENGE_COOKIE, mfaChallengeCookie, readCookie } from "./cookies.ts";
import { impersonationRefused } from "./impersonation.ts";
import type { CallContext, Proof, SecondFactor } from "./mfa.ts";
import {
  MfaCodeBody,
  MfaDisableBody,
  MfaDisabledResponse,
  MfaEnrolBody,
  MfaEnrolmentResponse,
  MfaRecoveryCodesResponse,
  MfaStatusResponse,
  MfaVerifyBody,
} from "./mfa-schemas.ts";
import { SessionResponse } from "./schemas.ts";
import type { sessionAnswer } from "./session-answer.ts";

export interface MfaRoutesDeps {
  mfa: SecondFactor;
  accounts: Pick<AccessStore, "user">;
  /** The session answer of access/session-answer.ts (body and cookies). */
  answer: ReturnType<typeof sessionAnswer>;
}

const TAGS = ["auth"];
/** What a change to one's second factor may answer besides its success: the same for every such route. */
const MFA_CHANGE_ERRORS = { 401: ErrorBody, 403: ErrorBody, 409: ErrorBody, 422: ErrorBody, 429: ErrorBody };
/** Where a call came from: the client's address as the shell resolved it (through trusted proxies only). */
function callOf(request: Request, orgId: string | null): CallContext {
  return { ip: clientIpOf(request), requestId: stateOf(request)?.id ?? null, orgId };
}

/** Exactly one of a code and a recovery code, or 422 naming the fields. */
function proofOf(body: { code?: string; recovery_code?: string }): Proof {
  if ((body.code === undefined) === (body.recovery_code === undefined)) {
    throw new HttpError(422, "validation_failed", "body: give exactly one of code and recovery_code", [
      { field: "body.code", rule: "exactly one of code and recovery_code" },
      { field: "body.recovery_code", rule: "exactly one of code and recovery_code" },
    ]);
  }
  return body.code !== undefined ? { code: body.code } : { recoveryCode: body.recovery_code as string };
}

/**
 * The /api/auth/mfa routes.
 *
 * @example app.use(mfaRoutes({ mfa, accounts: store, answer: sessionAnswer(store) }));
 */
export function mfaRoutes(deps: MfaRoutesDeps) {
  const { mfa, accounts, answer } = deps;

  /** The person whose own session this is, and their account; 403 for anyone else. */
  const personOf = async (request: Request): Promise<{ user: UserRow; orgId: string }> => {
    const p = principalOf(request);
    if (p.kind !== "user" || p.userId === null) {
      throw new HttpError(
        403,
        "not_a_user_session",
        "only a signed-in person manages their second factor (not an API key or the operator token)",
      );
    }
    if (p.actor !== undefined) throw impersonationRefused("change the user's second factor");
    const user = await accounts.user(p.userId);
    if (user === undefined || user.deletedAt !== null) throw new HttpError(401, "invalid_token", "no such account");
    return { user, orgId: p.orgId };
  };

  return new Elysia({ name: "aragora-auth-mfa", prefix: "/api/auth/mfa" })
    .use(accessControl)
    .get(
      "/status",
      async ({ request }) => {
        const { user } = await personOf(request);
        const status = await mfa.status(user.id);
        return {
          enabled: status.enabled,
          enabled_at: status.enabledAt?.toISOString() ?? null,
          pending: status.pending,
          recovery_codes_left: status.recoveryCodesLeft,
        };
      },
      {
        permission: "account.self",
        detail: { summary: "Whether MFA is on for your account, and how many recovery codes are left", tags: TAGS },
        response: responses({ 200: MfaStatusResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .post(
      "/totp/enroll",
      async ({ body, request, set }) => {
        const { user, orgId } = await personOf(request);
        const call = callOf(request, orgId);
        await mfa.checkPassword(user, body.password, call);
        const enrolment = await mfa.startEnrolment(user, call);
        set.headers["cache-control"] = "no-store";
        return { secret: enrolment.secret, otpauth_uri: enrolment.uri, expires_in: enrolment.expiresIn };
      },
      {
        permission: "account.self",
        body: validated(MfaEnrolBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Start enrolling a TOTP authenticator (your password again): its secret and otpauth:// URI, shown once; confirm with a code",
          tags: TAGS,
        },
        response: responses({
          200: MfaEnrolmentResponse,
          ...MFA_CHANGE_ERRORS,
        }),
      },
    )
    .post(
      "/totp/confirm",
      async ({ body, request, set }) => {
        const { user, orgId } = await personOf(request);
        const codes = await mfa.confirm(user.id, body.code, callOf(request, orgId));
        set.headers["cache-control"] = "no-store";
        return { enabled: true as const, recovery_codes: codes };
      },
      {
        permission: "account.self",
        body: validated(MfaCodeBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Turn MFA on with a first code from the authenticator: answers the recovery codes, shown once; sign in again for an MFA session",
          tags: TAGS,
        },
        response: responses({
          200: MfaRecoveryCodesResponse,
          ...MFA_CHANGE_ERRORS,
        }),
      },
    )
    .post(
      "/disable",
      async ({ body, request }) => {
        const { user, orgId } = await personOf(request);
        const proof = proofOf(body);
        const call = callOf(request, orgId);
        await mfa.checkPassword(user, body.password, call);
        await mfa.disable(user.id, proof, call);
        return { enabled: false as const };
      },
      {
        permission: "account.self",
        body: validated(MfaDisableBody, "body"),
        parse: "json",
        detail: {
          summary: "Turn MFA off: your password and a current code or a recovery code",
          tags: TAGS,
        },
        response: responses({
          200: MfaDisabledResponse,
          ...MFA_CHANGE_ERRORS,
        }),
      },
    )
    .post(
      "/recovery-codes",
      async ({ body, request, set }) => {
        const { user, orgId } = await personOf(request);
        const codes = await mfa.regenerateRecoveryCodes(user.id, body.code, callOf(request, orgId));
        set.headers["cache-control"] = "no-store";
        return { enabled: true as const, recovery_codes: codes };
      },
      {
        permission: "account.self",
        body: validated(MfaCodeBody, "body"),
        parse: "json",
        detail: {
          summary: "New recovery codes in place of all earlier ones, given a current code; shown once",
          tags: TAGS,
        },
        response: responses({
          200: MfaRecoveryCodesResponse,
          ...MFA_CHANGE_ERRORS,
        }),
      },
    )
    .post(
      "/verify",
      async ({ body, request, set }) => {
        const proof = proofOf(body);
        const call = callOf(request, null);
        if (body.challenge_token !== undefined) return answer(await mfa.finish(body.challenge_token, proof, call), set);
        const fromCookie = readCookie(request.headers.get("cookie"), MFA_CHALLENGE_COOKIE);
        if (fromCookie === undefined) {
          throw new HttpError(
            422,
            "validation_failed",
            `body.challenge_token: give the challenge_token a sign-in answered (or send the ${MFA_CHALLENGE_COOKIE} cookie an OAuth sign-in set)`,
            [{ field: "body.challenge_token", rule: `is required without the ${MFA_CHALLENGE_COOKIE} cookie` }],
          );
        }
        const answered = await answer(await mfa.finish(fromCookie, proof, call, "cookie"), set);
        // A cookie sign-in: its challenge has done its one job; the session cookies take its place.
        set.headers["set-cookie"] = [...(set.headers["set-cookie"] as string[]), mfaChallengeCookie("", 0)];
        return answered;
      },
      {
        permission: "public",
        body: validated(MfaVerifyBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Finish a sign-in of an account with MFA: the challenge (challenge_token, or the aragora_mfa_challenge cookie of an OAuth sign-in) and a code (or a recovery code, used up) answer the session",
          tags: TAGS,
        },
        response: responses({ 200: SessionResponse, 401: ErrorBody, 422: ErrorBody, 429: ErrorBody }),
      },
    );
}
