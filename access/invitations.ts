/**
 * Accepting an invitation to an organisation: by signing up with its token (even when
 * ARAGORA_SIGNUP=closed) or, for an account that exists, by presenting it while signed in. The
 * token is checked the same way for both: the right shape, a known hash, not used, revoked or
 * expired, and issued to the accepting address. It is taken with one conditional statement, so of
 * two requests racing with one token exactly one joins.
 *
 * @example
 * const invited = invitationAcceptance({ store, audit, clock });
 * const { user, membership } = await invited.signUp({ email, name, passwordHash, token }, request);
 */
import { type AuditRecorder, actorOf } from "../runtime/audit.ts";
import { requestOrigin } from "../runtime/http/audit-request.ts";
import { HttpError } from "../runtime/http/errors.ts";
import type { Principal } from "../runtime/http/principal.ts";
import { metrics } from "../runtime/metrics.ts";
import type { OrgRole } from "../runtime/security/rbac.ts";
import { hashSecretToken, isSecretToken } from "../runtime/security/secret-token.ts";
import {
  type AccessStore,
  type InvitationRow,
  isUniqueViolation,
  type Membership,
  type UserRow,
} from "./access-store.ts";

/** The prefix of invitation tokens: recognisable in a leak, refused without a lookup elsewhere. */
export const INVITATION_PREFIX = "ara_inv_";

export interface InvitationDeps {
  store: AccessStore;
  audit: AuditRecorder;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

type Refusal = { reason: string; error: HttpError; row?: InvitationRow };

const FIELD = "body.invitation_token";

function refusal(status: number, reason: string, message: string, row?: InvitationRow): Refusal {
  return { reason, row, error: new HttpError(status, reason, message, [{ field: FIELD, rule: message }]) };
}

/**
 * The invitation `token` names, if `email` may accept it now; else why not (never the token).
 *
 * @example const checked = checkInvitation(row, "ada@example.com", new Date());
 */
export function checkInvitation(row: InvitationRow | undefined, email: string, now: Date): InvitationRow | Refusal {
  if (row === undefined) return refusal(401, "invalid_invitation", "not a known invitation token");
  if (row.acceptedAt !== null)
    return refusal(410, "invitation_used", "the invitation was accepted already: it works once", row);
  if (row.revokedAt !== null) return refusal(410, "invitation_revoked", "the invitation was revoked", row);
  if (row.expiresAt.getTime() <= now.getTime())
    return refusal(410, "invitation_expired", "the invitation has expired: ask for a new one", row);
  if (row.email !== email.trim().toLowerCase()) {
    return refusal(403, "invitation_email_mismatch", "the invitation was issued to another email address", row);
  }
  return row;
}

/**
 * The two ways to accept an invitation, each recording `invitation.accepted` (success or failure)
 * and, when it joins, `member.added`.
 *
 * @example const invited = invitationAcceptance({ store, audit });
 */
export function invitationAcceptance(deps: InvitationDeps) {
  const { store, audit } = deps;
  const clock = deps.clock ?? Date.now;

  /** The pending invitation of `token` for `email`, or throws the refusal (recorded). */
  const pending = async (token: string, email: string, request: Request, actor: Principal | undefined) => {
    const now = new Date(clock());
    const row = isSecretToken(token, INVITATION_PREFIX)
      ? await store.invitationByHash(hashSecretToken(token))
      : undefined;
    const checked = checkInvitation(row, email, now);
    if ("error" in checked) {
      metrics.authFailures.inc({ reason: checked.reason });
      await audit.record({
        action: "invitation.accepted",
        outcome: "failure",
        actor: actor === undefined ? { kind: "anonymous", userId: null } : actorOf(actor),
        orgId: checked.row?.orgId ?? null,
        ...(checked.row ? { target: { type: "invitation", id: checked.row.id } } : {}),
        ...requestOrigin(request),
        detail: { reason: checked.reason },
      });
      throw checked.error;
    }
    return { row: checked, now };
  };

  const taken = (): HttpError =>
    new HttpError(410, "invitation_used", "the invitation was accepted already: it works once", [
      { field: FIELD, rule: "the invitation was accepted already: it works once" },
    ]);

  const joined = async (row: InvitationRow, user: UserRow, request: Request, newAccount: boolean) => {
    const origin = requestOrigin(request);
    const actor = { kind: "user" as const, userId: user.id };
    await audit.record({
      action: "invitation.accepted",
      outcome: "success",
      actor,
      orgId: row.orgId,
      target: { type: "invitation", id: row.id },
      ...origin,
      detail: { user_id: user.id, email: user.email, role: row.role, new_account: newAccount },
    });
    await audit.record({
      action: "member.added",
      outcome: "success",
      actor,
      orgId: row.orgId,
      target: { type: "user", id: user.id },
      ...origin,
      detail: { email: user.email, role: row.role, via: "invitation", invitation_id: row.id },
    });
  };

  return {
    /**
     * Checks the invitation before the caller pays for a password hash; throws its refusal.
     *
     * @example await invited.check(body.invitation_token, body.email, request);
     */
    async check(token: string, email: string, request: Request): Promise<void> {
      await pending(token, email, request, undefined);
    },

    /**
     * A new account, member of the inviting organisation with the invited role (a sign-up).
     *
     * @example const { user, membership } = await invited.signUp({ token, email, name, passwordHash }, request);
     */
    async signUp(
      input: { token: string; email: string; name: string; passwordHash: string },
      request: Request,
    ): Promise<{ user: UserRow; membership: Membership; invitation: InvitationRow }> {
      const { row, now } = await pending(input.token, input.email, request, undefined);
      const workspaceId = await store.defaultWorkspace(row.orgId);
      if (workspaceId === undefined) throw new HttpError(410, "invitation_revoked", "the organisation is gone");
      // The invitation is taken for a placeholder first: only the winner goes on to make the account.
      if (!(await store.takeInvitation(row.id, "(signing up)", now))) throw taken();
      let user: UserRow;
      try {
        user = await store.createUser(
          { email: input.email, name: input.name, passwordHash: input.passwordHash },
          row.orgId,
          row.role as OrgRole,
          now,
        );
      } catch (err) {
        await store.untakeInvitation(row.id);
        if (isUniqueViolation(err)) {
          throw new HttpError(
            409,
            "email_taken",
            "an account with this email exists already: sign in and accept with POST /api/auth/invitations/accept",
            [{ field: "body.email", rule: "must not belong to an existing account" }],
          );
        }
        throw err;
      }
      await store.setInvitationAcceptor(row.id, user.id);
      await joined(row, user, request, true);
      return { user, membership: { orgId: row.orgId, role: row.role as OrgRole, workspaceId }, invitation: row };
    },

    /**
     * Makes the signed-in account of `principal` a member of the inviting organisation.
     *
     * @example const { invitation } = await invited.accept(token, principal, request);
     */
    async accept(
      token: string,
      principal: Principal,
      request: Request,
    ): Promise<{ user: UserRow; invitation: InvitationRow }> {
      const user = principal.userId === null ? undefined : await store.user(principal.userId);
      if (principal.kind !== "user" || user === undefined || user.deletedAt !== null) {
        throw new HttpError(
          403,
          "not_a_user_session",
          "only a signed-in user accepts an invitation (not an API key or the operator token)",
        );
      }
      const { row, now } = await pending(token, user.email, request, principal);
      if ((await store.memberRole(user.id, row.orgId)) !== undefined) {
        throw new HttpError(409, "already_member", "the account is a member of the organisation already", [
          { field: FIELD, rule: "must invite to an organisation the account is not a member of" },
        ]);
      }
      if (!(await store.takeInvitation(row.id, user.id, now))) throw taken();
      if (!(await store.addMembership(user.id, row.orgId, row.role as OrgRole, now))) {
        await store.untakeInvitation(row.id);
        throw new HttpError(409, "already_member", "the account is a member of the organisation already");
      }
      await joined(row, user, request, false);
      return { user, invitation: row };
    },
  };
}

/** What {@link invitationAcceptance} returns. */
export type InvitationAcceptance = ReturnType<typeof invitationAcceptance>;
