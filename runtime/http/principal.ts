/**
 * Who is calling: the one answer the shell's authentication step (app.ts, onRequest) finds for a
 * request, kept on its RequestState, read by the permission check of every route and by every
 * query that must be scoped to the caller's organisation.
 *
 * The shell does not know how callers prove who they are: a feature (access/) gives it an
 * {@link Authenticator}, so tokens, keys and sessions live with the accounts they belong to.
 *
 * @example
 * const principal = stateOf(request)?.principal;
 * if (principal && policy.can(principal.roles, "debates.read")) ...
 */
import type { Permission, Role } from "../security/rbac.ts";
import type { HttpError } from "./errors.ts";

/** How the caller proved who it is. */
export type CredentialKind = "bearer" | "cookie" | "api_key" | "ticket" | "operator_token";

export interface Principal {
  /** user: a person's session or token; api_key / service: a key; operator: the platform operator. */
  readonly kind: "user" | "api_key" | "service" | "operator";
  /** The person (or the key's creator); null for the operator token. */
  readonly userId: string | null;
  /** The organisation every query of this request is scoped to. */
  readonly orgId: string;
  /** The workspace inside it (the organisation's default one unless chosen). */
  readonly workspaceId: string;
  /** Roles in that organisation, plus "operator" for the platform operator. */
  readonly roles: readonly Role[];
  /** The API key used, when one was. */
  readonly keyId?: string;
  /** That key as it may be shown (its prefix and last four, `ara_live_ab12…wxyz`): never the secret. */
  readonly keyHint?: string;
  /** The permissions an API key was narrowed to; absent: everything its roles grant. */
  readonly scopes?: readonly Permission[];
  /** The session (refresh-token family) a user's access token belongs to: what signing out ends. */
  readonly sessionId?: string;
  /** The real actor when an operator acts as this user (impersonation). */
  readonly actor?: { readonly userId: string };
  /**
   * A person's session passed a second factor (its token's `amr` names one): what admin routes
   * ask of a person (admin-gate.ts). Never set for keys or the operator token.
   */
  readonly mfa?: boolean;
  readonly via: CredentialKind;
}

/**
 * Resolves a request's credentials to a principal: undefined when it carries none, an HttpError
 * (401/403) when it carries bad ones. Synchronous when it can be (a cached token or key), so the
 * common request pays no extra turn of the event loop.
 */
export interface Authenticator {
  authenticate(
    request: Request,
    headers: Headers,
  ): Principal | HttpError | undefined | Promise<Principal | HttpError | undefined>;
}
