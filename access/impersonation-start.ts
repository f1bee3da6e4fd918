/**
 * The start of an impersonation, the one place that decides who may act as whom: both ways in use
 * it, the API's bearer token (POST /api/admin/impersonate) and the console's cookie session
 * (POST /api/auth/impersonation). Who may: a person (not the operator token) whose route permission
 * and second factor the admin gate already checked. Whom: a live account that is not an operator,
 * not oneself, in one of its organisations. Every refusal is counted and recorded in the audit log
 * as `impersonation.started`/failure; a start is recorded before its token is signed into an answer.
 *
 * @example
 * const start = impersonationStarter({ accounts, signer, audit, log });
 * const granted = await start(principalOf(request), body, request);
 * // granted.accessToken acts as granted.target for granted.ttlSeconds, naming the operator in `act`
 */
import type { AuditEvent, AuditRecorder } from "../runtime/audit.ts";
import { requestOrigin } from "../runtime/http/audit-request.ts";
import { HttpError } from "../runtime/http/errors.ts";
import type { Principal } from "../runtime/http/principal.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { TokenSigner } from "../runtime/security/jwt.ts";
import type { AccessStore, Membership, UserRow } from "./access-store.ts";
import { IMPERSONATION_TTL_SECONDS } from "./impersonation.ts";

export interface ImpersonationStarterDeps {
  accounts: Pick<AccessStore, "user" | "userState" | "organisation">;
  signer: Pick<TokenSigner, "signAccess" | "accessTtlSeconds">;
  audit: AuditRecorder;
  log: Logger;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/** What is asked: whom, in which organisation, and why. */
export interface ImpersonationAsk {
  user_id: string;
  org_id?: string;
  reason: string;
}

/** A started impersonation. */
export interface GrantedImpersonation {
  accessToken: string;
  ttlSeconds: number;
  expiresAt: Date;
  /** The person acting. */
  operatorId: string;
  target: UserRow;
  membership: Membership;
  organisationName: string;
}

/**
 * A check a way in adds before anything is signed (the cookie route: the browser's own session
 * must be there to keep aside): the refusal, or undefined to go on.
 */
export type ImpersonationPrecondition = (operatorId: string) => Promise<HttpError | undefined>;

/**
 * The function that starts an impersonation for `principal`, or throws the refusal (recorded).
 *
 * @example const granted = await impersonationStarter(deps)(principal, { user_id, reason }, request);
 */
export function impersonationStarter(deps: ImpersonationStarterDeps) {
  const { accounts, signer, audit, log } = deps;
  const clock = deps.clock ?? Date.now;
  const ttlSeconds = Math.min(IMPERSONATION_TTL_SECONDS, signer.accessTtlSeconds);

  return async (
    p: Principal,
    ask: ImpersonationAsk,
    request: Request,
    precondition?: ImpersonationPrecondition,
  ): Promise<GrantedImpersonation> => {
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
        target: { type: "user", id: ask.user_id },
        detail: { reason: ask.reason, refused: err.code },
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
    const target = await accounts.user(ask.user_id);
    if (target === undefined || target.deletedAt !== null) {
      return refuse(new HttpError(404, "not_found", `no account ${ask.user_id}`));
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
    const membership = ask.org_id === undefined ? memberships[0] : memberships.find((m) => m.orgId === ask.org_id);
    if (membership === undefined) {
      return refuse(
        new HttpError(
          422,
          "validation_failed",
          ask.org_id === undefined
            ? "body.user_id: the account belongs to no organisation"
            : "body.org_id: the account is not a member of that organisation",
          [
            ask.org_id === undefined
              ? { field: "body.user_id", rule: "must belong to an organisation" }
              : { field: "body.org_id", rule: "must be an organisation the account belongs to" },
          ],
        ),
        ask.org_id ?? null,
      );
    }
    const unmet = await precondition?.(p.userId);
    if (unmet !== undefined) return refuse(unmet, membership.orgId);

    const accessToken = await signer.signAccess(
      { sub: target.id, org: membership.orgId, roles: [membership.role], act: { sub: p.userId } },
      { ttlSeconds },
    );
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000);
    // Recorded before the token leaves: an impersonation the audit log cannot hold does not start.
    await record("success", {
      orgId: membership.orgId,
      target: { type: "user", id: target.id },
      detail: { reason: ask.reason, role: membership.role, expires_at: expiresAt.toISOString(), via: p.via },
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
    return {
      accessToken,
      ttlSeconds,
      expiresAt,
      operatorId: p.userId,
      target,
      membership,
      organisationName: organisation?.name ?? "",
    };
  };
}
