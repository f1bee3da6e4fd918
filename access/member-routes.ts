/**
 * An organisation's members and invitations, for its owners and admins (`members.manage`):
 *
 * - `POST /api/org/invitations` {email, role} answers a one-time invitation token, once (only its
 *   SHA-256 is kept), valid ARAGORA_INVITATION_TTL_SECONDS; `GET` lists the pending ones, `DELETE
 *   /api/org/invitations/:id` revokes one. The token signs up (POST /api/auth/sign-up with
 *   `invitation_token`, even when sign-up is closed) or, for an existing account, is accepted with
 *   `POST /api/auth/invitations/accept` while signed in.
 * - `GET /api/org/members`, `PATCH /api/org/members/:user_id` {role}, `DELETE /api/org/members/:user_id`.
 *
 * Nobody hands out a role above their own, or changes or removes someone whose role is above their
 * own; an organisation always keeps an owner. Everything is scoped to the caller's organisation:
 * another organisation's user or invitation answers exactly as an unknown one. A role change or a
 * removal applies to the member's existing tokens within a second (the authenticator re-reads
 * memberships; on this node at once). Every change is recorded in the audit log.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"email":"ada@example.com","role":"member"}' localhost:8080/api/org/invitations
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../runtime/audit.ts";
import type { Config } from "../runtime/config.ts";
import { auditedRequest } from "../runtime/http/audit-request.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl, principalOf } from "../runtime/http/permission.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { responses, validated } from "../runtime/http/route-schemas.ts";
import type { Logger } from "../runtime/log.ts";
import { canGrantRole, highestRank, type OrgRole, roleRank } from "../runtime/security/rbac.ts";
import { newSecretToken } from "../runtime/security/secret-token.ts";
import { ErrorBody } from "../schemas/errors.ts";
import { type AccessStore, type InvitationRow, type MemberRow, newId } from "./access-store.ts";
import type { AccessAuthenticator } from "./authenticator.ts";
import { impersonationRefused } from "./impersonation.ts";
import { INVITATION_PREFIX, type InvitationAcceptance } from "./invitations.ts";
import {
  AcceptedInvitationResponse,
  AcceptInvitationBody,
  ChangeRoleBody,
  CreatedInvitationResponse,
  CreateInvitationBody,
  InvitationIdParams,
  InvitationListResponse,
  MemberIdParams,
  MemberListResponse,
  MemberResponse,
  RemovedMemberResponse,
  RevokedInvitationResponse,
} from "./member-schemas.ts";

export interface MemberRoutesDeps {
  store: AccessStore;
  authenticator: Pick<AccessAuthenticator, "forgetUser">;
  invited: InvitationAcceptance;
  config: Pick<Config, "invitationTtlSeconds">;
  log: Logger;
  audit: AuditRecorder;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

const TAGS = ["organisation"];

function invitationBody(row: InvitationRow) {
  return {
    id: row.id,
    email: row.email,
    role: row.role as OrgRole,
    invited_by: row.invitedBy,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
  };
}

function memberBody(m: MemberRow) {
  return { user_id: m.userId, email: m.email, name: m.name, role: m.role, joined_at: m.joinedAt.toISOString() };
}

/** The refusal of a role above the caller's own, naming the field. */
function roleTooHigh(field: string): HttpError {
  return new HttpError(403, "role_too_high", `${field}: you cannot grant a role above your own`, [
    { field, rule: "must not exceed your own role" },
  ]);
}

/** The refusal to act on a member whose role is above the caller's. */
function memberOutranks(): HttpError {
  return new HttpError(403, "member_outranks_you", "the member's role is above your own: ask an owner", [
    { field: "params.user_id", rule: "must not name a member whose role is above your own" },
  ]);
}

function lastOwner(what: string): HttpError {
  return new HttpError(409, "last_owner", `cannot ${what} the organisation's last owner: make another owner first`, [
    { field: "params.user_id", rule: "must not be the organisation's only owner" },
  ]);
}

/** Another organisation's user answers exactly as one nobody has. */
const noMember = (id: string) => new HttpError(404, "not_found", `no member ${id}`);

/**
 * The /api/org members and invitations routes, and POST /api/auth/invitations/accept.
 *
 * @example app.use(memberRoutes({ store, authenticator, invited, config, log, audit }));
 */
export function memberRoutes(deps: MemberRoutesDeps) {
  const { store, authenticator, invited, config, log, audit } = deps;
  const clock = deps.clock ?? Date.now;

  /** The role of the member `userId` of the caller's organisation, after the caller may act on it. */
  const actOn = async (p: Principal, userId: string): Promise<OrgRole> => {
    const role = await store.memberRole(userId, p.orgId);
    if (role === undefined) throw noMember(userId);
    if (roleRank(role) > highestRank(p.roles)) throw memberOutranks();
    return role;
  };

  const org = new Elysia({ name: "aragora-org-members", prefix: "/api/org" })
    .use(accessControl)
    .post(
      "/invitations",
      async ({ body, request, set, status }) => {
        const p = principalOf(request);
        // An invitation is a credential to join: acting as someone never mints one.
        if (p.actor !== undefined) throw impersonationRefused("invite members");
        if (!canGrantRole(p.roles, body.role)) throw roleTooHigh("body.role");
        const email = body.email.trim().toLowerCase();
        const existing = await store.userByEmail(email);
        if (existing !== undefined && (await store.memberRole(existing.id, p.orgId)) !== undefined) {
          throw new HttpError(409, "already_member", "an account with this email is a member already", [
            { field: "body.email", rule: "must not belong to a member of the organisation" },
          ]);
        }
        const secret = newSecretToken(INVITATION_PREFIX);
        const now = new Date(clock());
        const row: InvitationRow = {
          id: newId.invitation(),
          orgId: p.orgId,
          email,
          role: body.role,
          tokenHash: secret.hash,
          invitedBy: p.userId,
          createdAt: now,
          expiresAt: new Date(now.getTime() + config.invitationTtlSeconds * 1000),
          acceptedAt: null,
          acceptedBy: null,
          revokedAt: null,
        };
        await store.insertInvitation(row);
        log.info({ invitation_id: row.id, org_id: row.orgId, role: row.role, invited_by: p.userId }, "invitation made");
        await audit.record({
          action: "invitation.created",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "invitation", id: row.id },
          detail: { email, role: row.role, expires_at: row.expiresAt.toISOString() },
        });
        set.headers["cache-control"] = "no-store";
        return status(201, { ...invitationBody(row), invitation_token: secret.token });
      },
      {
        permission: "members.manage",
        body: validated(CreateInvitationBody, "body"),
        parse: "json",
        detail: {
          summary: "Invite an email address with a role no higher than yours; the one-time token is shown once",
          tags: TAGS,
        },
        response: responses({
          201: CreatedInvitationResponse,
          401: ErrorBody,
          403: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .get(
      "/invitations",
      async ({ request }) => {
        const p = principalOf(request);
        return { invitations: (await store.pendingInvitations(p.orgId, new Date(clock()))).map(invitationBody) };
      },
      {
        permission: "members.manage",
        detail: {
          summary: "The organisation's invitations that can still be accepted (never their tokens)",
          tags: TAGS,
        },
        response: responses({ 200: InvitationListResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .delete(
      "/invitations/:id",
      async ({ params, request }) => {
        const p = principalOf(request);
        const row = await store.revokeInvitation(params.id, p.orgId, new Date(clock()));
        if (row === undefined) throw new HttpError(404, "not_found", `no pending invitation ${params.id}`);
        log.info({ invitation_id: row.id, org_id: p.orgId, revoked_by: p.userId }, "invitation revoked");
        await audit.record({
          action: "invitation.revoked",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "invitation", id: row.id },
          detail: { email: row.email, role: row.role },
        });
        return { id: row.id, revoked: true as const };
      },
      {
        permission: "members.manage",
        params: validated(InvitationIdParams, "params"),
        detail: { summary: "Revoke a pending invitation: its token no longer works", tags: TAGS },
        response: responses({
          200: RevokedInvitationResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .get(
      "/members",
      async ({ request }) => {
        const p = principalOf(request);
        return { members: (await store.members(p.orgId)).map(memberBody) };
      },
      {
        permission: "members.manage",
        detail: { summary: "The organisation's members and their roles", tags: TAGS },
        response: responses({ 200: MemberListResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .patch(
      "/members/:user_id",
      async ({ params, body, request }) => {
        const p = principalOf(request);
        const before = await actOn(p, params.user_id);
        if (!canGrantRole(p.roles, body.role)) throw roleTooHigh("body.role");
        if (before !== body.role) {
          if (!(await store.changeMemberRole(params.user_id, p.orgId, body.role, new Date(clock())))) {
            if ((await store.memberRole(params.user_id, p.orgId)) === undefined) throw noMember(params.user_id);
            throw lastOwner("demote");
          }
          // This node at once; the others within a second (they re-read memberships).
          authenticator.forgetUser(params.user_id);
          log.info(
            { user_id: params.user_id, org_id: p.orgId, from: before, to: body.role, changed_by: p.userId },
            "member's role changed",
          );
          await audit.record({
            action: "member.role_changed",
            outcome: "success",
            ...auditedRequest(request),
            target: { type: "user", id: params.user_id },
            detail: { from: before, to: body.role },
          });
        }
        const member = (await store.members(p.orgId)).find((m) => m.userId === params.user_id);
        if (member === undefined) throw noMember(params.user_id);
        return memberBody(member);
      },
      {
        permission: "members.manage",
        params: validated(MemberIdParams, "params"),
        body: validated(ChangeRoleBody, "body"),
        parse: "json",
        detail: {
          summary: "Change a member's role (never above yours; the last owner stays); applies within a second",
          tags: TAGS,
        },
        response: responses({
          200: MemberResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .delete(
      "/members/:user_id",
      async ({ params, request }) => {
        const p = principalOf(request);
        const before = await actOn(p, params.user_id);
        if (!(await store.removeMember(params.user_id, p.orgId, new Date(clock())))) {
          if ((await store.memberRole(params.user_id, p.orgId)) === undefined) throw noMember(params.user_id);
          throw lastOwner("remove");
        }
        authenticator.forgetUser(params.user_id);
        log.info({ user_id: params.user_id, org_id: p.orgId, removed_by: p.userId }, "member removed");
        await audit.record({
          action: "member.removed",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "user", id: params.user_id },
          detail: { role: before },
        });
        return { user_id: params.user_id, removed: true as const };
      },
      {
        permission: "members.manage",
        params: validated(MemberIdParams, "params"),
        detail: {
          summary: "Remove a member (not the last owner); their sessions in the organisation end within a second",
          tags: TAGS,
        },
        response: responses({
          200: RemovedMemberResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    );

  const accept = new Elysia({ name: "aragora-auth-invitations", prefix: "/api/auth" }).use(accessControl).post(
    "/invitations/accept",
    async ({ body, request }) => {
      const p = principalOf(request);
      if (p.actor !== undefined) throw impersonationRefused("accept invitations");
      const { invitation } = await invited.accept(body.invitation_token, p, request);
      log.info({ user_id: p.userId, org_id: invitation.orgId, invitation_id: invitation.id }, "invitation accepted");
      const organisation = await store.organisation(invitation.orgId);
      return {
        organisation: { id: invitation.orgId, name: organisation?.name ?? "" },
        role: invitation.role as OrgRole,
      };
    },
    {
      permission: "account.self",
      body: validated(AcceptInvitationBody, "body"),
      parse: "json",
      detail: {
        summary: "Join the organisation an invitation (to this account's email) names, with its role; once",
        tags: ["auth"],
      },
      response: responses({
        200: AcceptedInvitationResponse,
        401: ErrorBody,
        403: ErrorBody,
        409: ErrorBody,
        410: ErrorBody,
        422: ErrorBody,
      }),
    },
  );

  return new Elysia({ name: "aragora-member-routes" }).use(org).use(accept);
}
