/**
 * The `permission` option of the /api/auth routes: `permission: "public"` or the permission a
 * route needs (`"keys.manage"`). It documents itself in OpenAPI (`x-aragora-permission`, and the
 * security schemes when not public) and, before validation, finds the caller and checks the
 * permission: 401 without credentials, the authenticator's own refusal for bad ones, 403
 * `forbidden` naming the permission when the caller's roles (and an API key's scopes) do not grant it.
 *
 * The caller is the principal the shell's authentication step already put on the request state;
 * when the shell has not (a route group mounted without it), this asks the authenticator itself,
 * so a route here is never reachable without the check.
 *
 * @example
 * new Elysia({ prefix: "/api/auth" }).use(routePermissions(authenticator))
 *   .get("/me", handler, { permission: "account.self" });
 */
import { type DocumentDecoration, Elysia } from "elysia";
import { HttpError } from "../runtime/http/errors.ts";
import type { Authenticator, Principal } from "../runtime/http/principal.ts";
import { stateOf } from "../runtime/http/request-state.ts";
import { type Permission, policy } from "../runtime/security/rbac.ts";

/** What a route declares: the permission it needs, or that anyone may call it. */
export type RoutePermission = Permission | "public";

const SECURITY = [{ bearer: [] }, { apiKey: [] }, { cookie: [] }];

/** 401 for a request that proved no identity. */
export function unauthenticated(): HttpError {
  return new HttpError(
    401,
    "unauthorized",
    "sign in: send Authorization: Bearer <access token or API key>",
    undefined,
    {
      "www-authenticate": 'Bearer realm="aragora"',
    },
  );
}

/**
 * Whether `principal` may do `permission`: its roles grant it and, for a scoped key, its scopes name
 * it. Scopes narrow what a key does to its organisation, never `account.self`: a leaked key, however
 * narrow, can always say what it is and revoke itself.
 *
 * @example if (!allowed(principal, "keys.manage")) throw forbidden("keys.manage");
 */
export function allowed(principal: Principal, permission: Permission): boolean {
  if (!policy.can(principal.roles, permission)) return false;
  return principal.scopes === undefined || permission === "account.self" || principal.scopes.includes(permission);
}

/**
 * The request's principal: the one the shell found, else the authenticator's answer (stored on the
 * request state). Throws the 401 or the authenticator's refusal.
 *
 * @example const principal = await principalOf(request, authenticator);
 */
export async function principalOf(request: Request, authenticator: Authenticator): Promise<Principal> {
  const state = stateOf(request);
  if (state?.principal !== undefined) return state.principal;
  const found = await authenticator.authenticate(request, request.headers);
  if (found === undefined) throw unauthenticated();
  if (found instanceof HttpError) throw found;
  if (state !== undefined) state.principal = found;
  return found;
}

/**
 * The plugin giving a route group the `permission` option, checked against `authenticator`'s principals.
 *
 * @example new Elysia({ prefix: "/api/auth" }).use(routePermissions(authenticator));
 */
export function routePermissions(authenticator: Authenticator) {
  return new Elysia({ name: "aragora-access-route-permissions" }).macro({
    permission(permission: RoutePermission) {
      if (permission === "public") return { detail: decoration(permission) };
      const refusal = `this route needs the permission ${permission}, which your credentials do not grant`;
      return {
        detail: decoration(permission),
        async transform({ request }: { request: Request }) {
          const principal = await principalOf(request, authenticator);
          if (!allowed(principal, permission)) {
            throw new HttpError(403, "forbidden", refusal, [{ field: "permission", rule: `requires ${permission}` }]);
          }
        },
      };
    },
  });
}

/** The OpenAPI part of a permission (an extension key, which Elysia's DocumentDecoration does not name). */
function decoration(permission: RoutePermission): DocumentDecoration {
  const detail: Record<string, unknown> = { "x-aragora-permission": permission };
  // A fresh array per route: Elysia merges a route's detail into it.
  if (permission !== "public") detail.security = SECURITY.map((s) => ({ ...s }));
  return detail as DocumentDecoration;
}

/**
 * The principal of a request that passed its route's permission check.
 *
 * @example const principal = checkedPrincipal(request);
 */
export function checkedPrincipal(request: Request): Principal {
  const principal = stateOf(request)?.principal;
  if (principal === undefined) throw unauthenticated();
  return principal;
}
