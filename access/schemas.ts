/**
 * Request and response bodies of /api/auth: accounts, sessions, API keys and WebSocket tickets.
 * Request bodies reject undeclared keys, so a client cannot set what the server assigns (a
 * `role`, `is_operator` or `org_id` in a sign-up is refused, naming the field).
 */
import { type } from "arktype";
import { ORG_ROLES, PERMISSIONS, ROLES } from "../runtime/security/rbac.ts";
import { lazy } from "../schemas/lazy.ts";
import { MeMfaBody } from "./mfa-schemas.ts";

const email = lazy(() => type("string.email").and("string <= 254").describe("an email address"));
// The policy (12+ characters, at most 256 bytes) is checked by the route, naming the rule; this
// bound only keeps a hostile body from reaching the hash.
const password = lazy(() => type("string <= 1024").describe("a password: at least 12 characters, at most 256 bytes"));
const name = lazy(() => type("1 <= string <= 200"));
const orgRole = lazy(() => type.enumerated(...ORG_ROLES));

export const SignUpBody = lazy(() =>
  type({
    email,
    password,
    name,
    "organisation_name?": name,
    "invitation_token?": type("1 <= string <= 256").describe(
      "an invitation (POST /api/org/invitations) to this email: joins its organisation with its role, even when sign-up is closed",
    ),
    "+": "reject",
  }),
);

export const SignInBody = lazy(() =>
  type({
    email: "string <= 254",
    password,
    "org_id?": "1 <= string <= 128",
    "+": "reject",
  }),
);

export const SetupBody = lazy(() =>
  type({
    setup_token: "1 <= string <= 256",
    email,
    password,
    "name?": name,
    "+": "reject",
  }),
);

export const RefreshBody = lazy(() => type({ "refresh_token?": "1 <= string <= 256", "+": "reject" }).or("null"));

export const SignOutBody = lazy(() => type({ "refresh_token?": "1 <= string <= 256", "+": "reject" }).or("null"));

export const PasswordChangeBody = lazy(() =>
  type({
    current_password: password,
    new_password: password,
    "+": "reject",
  }),
);

export const PasswordResetBody = lazy(() =>
  type({
    reset_token: "1 <= string <= 256",
    new_password: password,
    "+": "reject",
  }),
);

export const CreateApiKeyBody = lazy(() =>
  type({
    name: "1 <= string <= 100",
    "role?": orgRole,
    "scopes?": type
      .enumerated(...PERMISSIONS)
      .array()
      .atMostLength(PERMISSIONS.length),
    "kind?": "'user' | 'service'",
    "+": "reject",
  }),
);

export const ApiKeyIdParams = lazy(() => type({ id: /^k-[0-9a-f-]{36}$/ }));

export const UserBody = lazy(() =>
  type({
    id: "string",
    email: "string",
    name: "string",
    is_operator: "boolean",
    created_at: "string",
  }),
);

export const OrganisationBody = lazy(() => type({ id: "string", name: "string" }));
export const WorkspaceBody = lazy(() => type({ id: "string", name: "string" }));

export const SessionResponse = lazy(() =>
  type({
    access_token: "string",
    token_type: "'Bearer'",
    expires_in: type("number.integer > 0").describe("seconds the access token is valid"),
    refresh_token: "string",
    refresh_expires_in: type("number.integer > 0").describe("seconds the refresh token is valid unless used"),
    csrf_token: type("string").describe(
      "send it as X-CSRF-Token on cookie-authenticated writes (also in the aragora_csrf cookie)",
    ),
    user: UserBody,
    organisation: OrganisationBody,
    workspace: WorkspaceBody,
    role: orgRole,
  }).describe("a new session: the access token, the refresh token that renews it, and who it is for"),
);

export const MeResponse = lazy(() =>
  type({
    user: UserBody.or("null"),
    organisation: OrganisationBody,
    workspace: WorkspaceBody,
    roles: type.enumerated(...ROLES).array(),
    permissions: type.enumerated(...PERMISSIONS).array(),
    via: "'bearer' | 'cookie' | 'api_key' | 'ticket' | 'operator_token'",
    "key_id?": "string",
    "scopes?": type.enumerated(...PERMISSIONS).array(),
    "mfa?": MeMfaBody,
    "impersonated_by?": type({ user_id: "string", email: "string", name: "string" }).describe(
      "the operator acting as this user (an impersonation token, or the console's view as this user)",
    ),
  }).describe("who the request is authenticated as, and what it may do"),
);

export const SignedOutResponse = lazy(() => type({ signed_out: "true" }));
export const PasswordResetResponse = lazy(() => type({ reset: "true" }));

const apiKeyFields = {
  id: "string",
  name: "string",
  prefix: lazy(() => type("string").describe("the key's first characters, to recognise it")),
  last_four: "string",
  role: orgRole,
  scopes: lazy(() => type.enumerated(...PERMISSIONS).array()),
  kind: "'user' | 'service'",
  created_at: "string",
} as const;

export const CreatedApiKeyResponse = lazy(() =>
  type({
    ...apiKeyFields,
    key: type("string").describe("the key itself, shown this once: only its SHA-256 is stored"),
  }),
);

export const ApiKeyListResponse = lazy(() =>
  type({
    api_keys: type({ ...apiKeyFields, last_used_at: "string | null" }).array(),
  }),
);

export const RevokedApiKeyResponse = lazy(() => type({ id: "string", revoked: "true" }));

export const WsTicketResponse = lazy(() =>
  type({
    ticket: type("string").describe("append as ?ticket= to the WebSocket URL; single use"),
    expires_in: "number.integer > 0",
  }),
);
