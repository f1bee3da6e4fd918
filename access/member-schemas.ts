/**
 * Request and response bodies of an organisation's members and invitations (member-routes.ts).
 * Request bodies reject undeclared keys, so a client cannot set what the server assigns.
 */
import { type } from "arktype";
import { ORG_ROLES } from "../runtime/security/rbac.ts";
import { lazy } from "../schemas/lazy.ts";

const orgRole = lazy(() => type.enumerated(...ORG_ROLES));
const email = lazy(() => type("string.email").and("string <= 254").describe("an email address"));

export const CreateInvitationBody = lazy(() => type({ email, role: orgRole, "+": "reject" }));

export const AcceptInvitationBody = lazy(() => type({ invitation_token: "1 <= string <= 256", "+": "reject" }));

export const InvitationIdParams = lazy(() => type({ id: /^inv-[0-9a-f-]{36}$/ }));

export const MemberIdParams = lazy(() => type({ user_id: /^u-[0-9a-f-]{36}$/ }));

export const ChangeRoleBody = lazy(() => type({ role: orgRole, "+": "reject" }));

const invitationFields = {
  id: "string",
  email: "string",
  role: orgRole,
  invited_by: lazy(() => type("string | null").describe("the inviting user; null when the platform operator invited")),
  created_at: "string",
  expires_at: "string",
} as const;

export const CreatedInvitationResponse = lazy(() =>
  type({
    ...invitationFields,
    invitation_token: type("string").describe(
      "shown this once (only its SHA-256 is stored): POST /api/auth/sign-up with it, or POST /api/auth/invitations/accept signed in",
    ),
  }),
);

export const InvitationListResponse = lazy(() =>
  type({ invitations: type(invitationFields).array() }).describe(
    "the invitations that can still be accepted, newest first (never their tokens)",
  ),
);

export const RevokedInvitationResponse = lazy(() => type({ id: "string", revoked: "true" }));

export const AcceptedInvitationResponse = lazy(() =>
  type({
    organisation: type({ id: "string", name: "string" }),
    role: orgRole,
  }).describe("the organisation joined; sign in with org_id to act in it"),
);

const member = lazy(() =>
  type({ user_id: "string", email: "string", name: "string", role: orgRole, joined_at: "string" }),
);

export const MemberResponse = member;
export const MemberListResponse = lazy(() => type({ members: member.array() }));
export const RemovedMemberResponse = lazy(() => type({ user_id: "string", removed: "true" }));
