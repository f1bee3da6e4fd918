/**
 * `POST /api/admin/impersonate`: an operator acts as a user, for support. The answer is an access
 * token for the user (their role in the organisation, no refresh token, 15 minutes at most) whose
 * `act` claim names the operator; requests made with it carry the operator as `Principal.actor`,
 * in the request log line (`impersonator_id`) and in what they record in the audit log.
 *
 * Who may: a person granted `operator` whose session passed MFA (admin-gate.ts asks it of every
 * admin route), never an API key or another impersonation token, and not the static operator token
 * either: the audit log must name the person acting. Whom: any live account but an operator (and
 * not oneself). The start is recorded in the audit log with its reason before the token is
 * handed out, and counted in aragora_admin_impersonate_total; refusals are recorded and counted too
 * (impersonation-start.ts, shared with the console's cookie impersonation, impersonation-session-routes.ts).
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $OPERATOR_SESSION" -H 'content-type: application/json' \
 *   -d '{"user_id":"u-0190...","reason":"ticket #4242: debates missing"}' localhost:8080/api/admin/impersonate
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import { ORG_ROLES } from "../runtime/security/rbac.ts";
import { ErrorBody } from "../schemas/errors.ts";
import { lazy } from "../schemas/lazy.ts";
import { type ImpersonationStarterDeps, impersonationStarter } from "./impersonation-start.ts";
import { OrganisationBody, UserBody } from "./schemas.ts";
import { userBody } from "./session-answer.ts";

export const ImpersonateBody = lazy(() =>
  type({
    user_id: type("1 <= string <= 128").describe("the account to act as"),
    "org_id?": type("1 <= string <= 128").describe("the organisation to act in (default: the account's first)"),
    reason: type("3 <= string <= 500").describe("why: a ticket number or a sentence, kept in the audit log"),
    "+": "reject",
  }),
);

export const ImpersonationResponse = lazy(() =>
  type({
    access_token: type("string").describe("acts as the user until it expires; there is no refresh token"),
    token_type: "'Bearer'",
    expires_in: "number.integer > 0",
    user: UserBody,
    organisation: OrganisationBody,
    role: type.enumerated(...ORG_ROLES),
    impersonator: type({ user_id: "string" }),
  }).describe("an access token for the user, naming the operator in its act claim"),
);

export type ImpersonationRoutesDeps = ImpersonationStarterDeps;

/**
 * The impersonation route.
 *
 * @example app.use(impersonationRoutes({ accounts: store, signer, audit, log }));
 */
export function impersonationRoutes(deps: ImpersonationRoutesDeps) {
  const start = impersonationStarter(deps);

  return new Elysia({ name: "aragora-impersonation", prefix: "/api/admin" }).use(accessControl).post(
    "/impersonate",
    async ({ body, request, set }) => {
      const granted = await start(principalOf(request), body, request);
      set.headers["cache-control"] = "no-store";
      return {
        access_token: granted.accessToken,
        token_type: "Bearer" as const,
        expires_in: granted.ttlSeconds,
        user: userBody(granted.target),
        organisation: { id: granted.membership.orgId, name: granted.organisationName },
        role: granted.membership.role,
        impersonator: { user_id: granted.operatorId },
      };
    },
    {
      permission: "admin.impersonate",
      body: validated(ImpersonateBody, "body"),
      parse: "json",
      detail: {
        summary:
          "Act as a user for support: a 15-minute access token naming you in its act claim (operators with MFA; audited)",
        tags: ["admin"],
      },
      response: responses({
        200: ImpersonationResponse,
        401: ErrorBody,
        403: ErrorBody,
        404: ErrorBody,
        422: ErrorBody,
      }),
    },
  );
}
