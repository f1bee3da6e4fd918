/**
 * "View as this user" in the console: the operator's browser session switches into an
 * impersonation and back, carried by cookies (cookies.ts) so the page's script never holds a token.
 *
 * - `POST /api/auth/impersonation` (the operator's cookie session, with CSRF; same rules as
 *   POST /api/admin/impersonate, impersonation-start.ts: an operator whose session passed MFA, a
 *   reason, never an operator nor oneself): the access cookie becomes the impersonation's token
 *   (15 minutes, `act` naming the operator), and the operator's refresh cookie is moved aside into
 *   `aragora_impersonator_refresh`. The impersonation gets no refresh token: POST /api/auth/refresh
 *   finds none, so nothing renews it past its 15 minutes.
 * - `POST /api/auth/impersonation/stop` (public like the refresh: its credential is the kept-aside
 *   refresh token, with CSRF): rotates the operator's kept-aside refresh token into their own
 *   session again (its second factor included), sets its cookies, and records
 *   `impersonation.ended` in the audit log. It works after the impersonation expired as well.
 *
 * Under /api/auth because that is where the browser sends refresh cookies, and only there.
 *
 * @example
 * // from the console (api.ts adds X-CSRF-Token)
 * await api.post("/api/auth/impersonation", { user_id: "u-0190...", reason: "ticket #4242" });
 * await api.post("/api/auth/impersonation/stop");
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import type { AuditRecorder } from "../runtime/audit.ts";
import { requestOrigin } from "../runtime/http/audit-request.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { TokenSigner } from "../runtime/security/jwt.ts";
import { ORG_ROLES } from "../runtime/security/rbac.ts";
import { hashSecretToken } from "../runtime/security/secret-token.ts";
import { ErrorBody } from "../schemas/errors.ts";
import { lazy } from "../schemas/lazy.ts";
import type { AccessStore, RefreshTokenRow } from "./access-store.ts";
import type { AccessAuthenticator } from "./authenticator.ts";
import {
  ACCESS_COOKIE,
  CSRF_HEADER,
  csrfRefusal,
  IMPERSONATOR_REFRESH_COOKIE,
  impersonationCookies,
  REFRESH_COOKIE,
  readCookie,
} from "./cookies.ts";
import { ImpersonateBody } from "./impersonation-routes.ts";
import { impersonationStarter } from "./impersonation-start.ts";
import { refreshReused } from "./refresh-reuse.ts";
import { OrganisationBody, SessionResponse, UserBody } from "./schemas.ts";
import { type sessionAnswer, userBody } from "./session-answer.ts";
import { ReusedRefreshToken, type Sessions } from "./sessions.ts";

export const ImpersonationSessionResponse = lazy(() =>
  type({
    user: UserBody,
    organisation: OrganisationBody,
    role: type.enumerated(...ORG_ROLES),
    expires_in: type("number.integer > 0").describe("seconds until the impersonation ends by itself"),
    impersonator: type({ user_id: "string" }),
  }).describe("the browser now acts as the user (cookies set); no token is in the answer"),
);

export const StopImpersonationBody = lazy(() => type({ "+": "reject" }).or("null"));

export interface ImpersonationSessionRoutesDeps {
  accounts: Pick<AccessStore, "user" | "userState" | "organisation" | "refreshToken">;
  signer: Pick<TokenSigner, "signAccess" | "verifyAccess" | "accessTtlSeconds">;
  sessions: Pick<Sessions, "rotate">;
  answer: ReturnType<typeof sessionAnswer>;
  audit: AuditRecorder;
  log: Logger;
  /** Forgets a user whose session a reused kept-aside token revoked, so its access tokens stop at once. */
  authenticator: Pick<AccessAuthenticator, "forgetUser">;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/** The refusal of a start that has no browser session of the operator's to keep aside. */
function noSessionToKeep(rule: string): HttpError {
  return new HttpError(
    403,
    "browser_session_required",
    "viewing as a user keeps your own browser session aside to come back to: start it from the console, signed in (API clients use POST /api/admin/impersonate)",
    [{ field: "cookies.aragora_refresh", rule }],
  );
}

/**
 * The console's impersonation routes.
 *
 * @example app.use(impersonationSessionRoutes({ accounts: store, signer, sessions, answer, audit, log, authenticator }));
 */
export function impersonationSessionRoutes(deps: ImpersonationSessionRoutesDeps) {
  const { accounts, signer, sessions, answer, audit, log, authenticator } = deps;
  const clock = deps.clock ?? Date.now;
  const start = impersonationStarter(deps);

  return new Elysia({ name: "aragora-impersonation-session", prefix: "/api/auth" })
    .use(accessControl)
    .post(
      "/impersonation",
      async ({ body, request, set }) => {
        const p = principalOf(request);
        const cookies = request.headers.get("cookie");
        let kept: { token: string; row: RefreshTokenRow } | undefined;
        const granted = await start(p, body, request, async () => {
          // The access cookie is what authenticated this request (and its CSRF was checked then);
          // a bearer token beside a cookie is not the browser's session.
          if (p.via !== "cookie") return noSessionToKeep("the request must be signed in by the session cookie");
          const token = readCookie(cookies, REFRESH_COOKIE);
          if (token === undefined) return noSessionToKeep("is required");
          const row = await accounts.refreshToken(hashSecretToken(token));
          const now = clock();
          // Only the current refresh token of this very session (so of this person): another one would
          // hand back someone else's session at the stop, and a used one would end this one there.
          if (
            row === undefined ||
            row.familyId !== p.sessionId ||
            row.revokedAt !== null ||
            row.usedAt !== null ||
            row.expiresAt.getTime() <= now
          ) {
            return noSessionToKeep("must be the current refresh token of the session making the request");
          }
          kept = { token, row };
          return undefined;
        });
        // Set by the precondition: the start returns only after it passed.
        const operatorRefresh = kept as { token: string; row: RefreshTokenRow };
        set.headers["set-cookie"] = impersonationCookies({
          access: granted.accessToken,
          accessMaxAge: granted.ttlSeconds,
          operatorRefresh: operatorRefresh.token,
          operatorRefreshMaxAge: Math.max(1, Math.floor((operatorRefresh.row.expiresAt.getTime() - clock()) / 1000)),
        });
        set.headers["cache-control"] = "no-store";
        return {
          user: userBody(granted.target),
          organisation: { id: granted.membership.orgId, name: granted.organisationName },
          role: granted.membership.role,
          expires_in: granted.ttlSeconds,
          impersonator: { user_id: granted.operatorId },
        };
      },
      {
        permission: "admin.impersonate",
        body: validated(ImpersonateBody, "body"),
        parse: "json",
        detail: {
          summary:
            "View the console as a user for support: this browser session acts as them for 15 minutes, your own session kept aside (operators with MFA; audited; cookie sessions only)",
          tags: ["auth"],
        },
        response: responses({
          200: ImpersonationSessionResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .post(
      "/impersonation/stop",
      async ({ request, set }) => {
        const cookies = request.headers.get("cookie");
        // Its credential is a cookie alone: without the double submit another site could end it.
        const refused = csrfRefusal(request.method, request.headers.get(CSRF_HEADER), cookies);
        if (refused) throw refused;
        const token = readCookie(cookies, IMPERSONATOR_REFRESH_COOKIE);
        if (token === undefined) {
          throw new HttpError(400, "no_impersonation", "this browser is not viewing the console as anyone", [
            { field: "cookies.aragora_impersonator_refresh", rule: "is required" },
          ]);
        }
        // Whom it acted as, from the impersonation's own token while it is still valid (after it
        // expired the browser no longer has it, and the end is recorded without a target).
        const access = readCookie(cookies, ACCESS_COOKIE);
        const verified = access === undefined ? undefined : await signer.verifyAccess(access);
        const acted = verified?.ok === true && verified.claims.act !== undefined ? verified.claims : undefined;

        let restored: Awaited<ReturnType<Sessions["rotate"]>>;
        try {
          restored = await sessions.rotate(token);
        } catch (err) {
          if (err instanceof HttpError) metrics.authFailures.inc({ reason: err.code });
          if (err instanceof ReusedRefreshToken) {
            await refreshReused(err, request, { authenticator, audit, log }, "kept-aside refresh token");
          }
          throw err;
        }
        const operatorId = restored.user.id;
        // A token naming another operator says nothing about this one's impersonation.
        const target = acted?.act?.sub === operatorId ? acted : undefined;
        await audit.record({
          action: "impersonation.ended",
          outcome: "success",
          actor: { kind: "user", userId: operatorId },
          orgId: target?.org ?? null,
          ...(target === undefined ? {} : { target: { type: "user", id: target.sub } }),
          ...requestOrigin(request),
          detail: { ended: target === undefined ? "expired" : "stopped" },
        });
        log.warn(
          { impersonator_id: operatorId, ...(target === undefined ? {} : { user_id: target.sub }) },
          "impersonation ended",
        );
        return await answer(restored, set);
      },
      {
        permission: "public",
        body: validated(StopImpersonationBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Stop viewing as a user: the browser gets its operator's own session back (cookie credential, with CSRF); audited",
          tags: ["auth"],
        },
        response: responses({ 200: SessionResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    );
}
