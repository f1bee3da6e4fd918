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
 * handed out, and counted in aragora_admin_impersonate_total; refusals are recorded and counted too.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $OPERATOR_SESSION" -H 'content-type: application/json' \
 *   -d '{"user_id":"u-0190...","reason":"ticket #4242: debates missing"}' localhost:8080/api/admin/impersonate
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import type { AuditEvent, AuditRecorder } from "../runtime/audit.ts";
import { requestOrigin } from "../runtime/http/audit-request.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { TokenSigner } from "../runtime/security/jwt.ts";
import { ORG_ROLES } from "../runtime/security/rbac.ts";
import { ErrorBody } from "../schemas/errors.ts";
import { lazy } from "../schemas/lazy.ts";
import type { AccessStore } from "./access-store.ts";
import { IMPERSONATION_TTL_SECONDS } from "./impersonation.ts";
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

export interface ImpersonationRoutesDeps {
  accounts: Pick<AccessStore, "user" | "userState" | "organisation">;
  signer: Pick<TokenSigner, "signAccess" | "accessTtlSeconds">;
  audit: AuditRecorder;
  log: Logger;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/**
 * The impersonation route.
 *
 * @example app.use(impersonationRoutes({ accounts: store, signer, audit, log }));
 */
export function impersonationRoutes(deps: ImpersonationRoutesDeps) {
  const { accounts, signer, audit, log } = deps;
  const clock = deps.clock ?? Date.now;
  const ttlSeconds = Math.min(IMPERSONATION_TTL_SECONDS, signer.accessTtlSeconds);

  return new Elysia({ name: "aragora-impersonation", prefix: "/api/admin" }).use(accessControl).post(
    "/impersonate",
    async ({ body, request, set }) => {
      const p = principalOf(request);
      const record = (outcome: AuditEvent["outcome"], event: Omit<AuditEvent, "action" | "outcome" | "actor">) =>
        audit.record({
          action: "impersonation.started",
          outcome,
          actor: p.userId === null ? { kind: p.kind, userId: null } : { kind: p.kind, userId: p.userId },
          ...requestOrigin(request),
          ...event,
        });
      const refuse = async (err: HttpError, orgId: string | null = null): Promise<never> => {
        metrics.adminImpersonate.inc({ outcome: "failure" });
        await record("failure", {
          orgId,
          target: { type: "user", id: body.user_id },
          detail: { reason: body.reason, refused: err.code },
        });
        throw err;
      };

      if (p.kind !== "user" || p.userId === null) {
        return refuse(
          new HttpError(
            403,
            "impersonation_requires_person",
            "impersonation names the person acting: sign in as a user granted operator (with MFA), not with the operator token",
            [{ field: "credentials", rule: "must be a person's session" }],
          ),
        );
      }
      const target = await accounts.user(body.user_id);
      if (target === undefined || target.deletedAt !== null) {
        return refuse(new HttpError(404, "not_found", `no account ${body.user_id}`));
      }
      if (target.isOperator) {
        return refuse(
          new HttpError(403, "cannot_impersonate_operator", "an operator cannot be impersonated", [
            { field: "body.user_id", rule: "must not be an operator" },
          ]),
        );
      }
      if (target.id === p.userId) {
        return refuse(
          new HttpError(422, "validation_failed", "body.user_id: you cannot impersonate yourself", [
            { field: "body.user_id", rule: "must be another account" },
          ]),
        );
      }
      const now = new Date(clock());
      const { memberships } = await accounts.userState(target.id, now, 0);
      const membership = body.org_id === undefined ? memberships[0] : memberships.find((m) => m.orgId === body.org_id);
      if (membership === undefined) {
        return refuse(
          new HttpError(
            422,
            "validation_failed",
            body.org_id === undefined
              ? "body.user_id: the account belongs to no organisation"
              : "body.org_id: the account is not a member of that organisation",
            [
              body.org_id === undefined
                ? { field: "body.user_id", rule: "must belong to an organisation" }
                : { field: "body.org_id", rule: "must be an organisation the account belongs to" },
            ],
          ),
          body.org_id ?? null,
        );
      }

      const accessToken = await signer.signAccess(
        { sub: target.id, org: membership.orgId, roles: [membership.role], act: { sub: p.userId } },
        { ttlSeconds },
      );
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
      // Recorded before the token leaves: an impersonation the audit log cannot hold does not start.
      await record("success", {
        orgId: membership.orgId,
        target: { type: "user", id: target.id },
        detail: { reason: body.reason, role: membership.role, expires_at: expiresAt.toISOString() },
      });
      metrics.adminImpersonate.inc({ outcome: "success" });
      log.warn(
        {
          impersonator_id: p.userId,
          user_id: target.id,
          org_id: membership.orgId,
          expires_at: expiresAt.toISOString(),
        },
        "impersonation started",
      );
      const organisation = await accounts.organisation(membership.orgId);
      set.headers["cache-control"] = "no-store";
      return {
        access_token: accessToken,
        token_type: "Bearer" as const,
        expires_in: ttlSeconds,
        user: userBody(target),
        organisation: { id: membership.orgId, name: organisation?.name ?? "" },
        role: membership.role,
        impersonator: { user_id: p.userId },
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
