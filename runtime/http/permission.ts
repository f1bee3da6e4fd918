/**
 * Route permissions: the `accessControl` plugin adds the `permission` macro every route declares,
 * `permission: "debates.read"` (one of rbac.ts's PERMISSIONS) or `permission: "public"` (one of
 * public-routes.ts's PUBLIC_ROUTES). A permission
 *
 * - documents itself: the route's OpenAPI operation gets `x-aragora-permission` and, unless
 *   public, `security` (bearer JWT, API key, session cookie: the schemes swagger.ts declares);
 * - is checked in a `transform` hook, after the body gate and before validation, so a caller who
 *   may not use a route learns nothing of its schema: no principal on the request is 401
 *   `unauthorized` (the shell's authentication normally refuses it first), a principal whose roles
 *   do not grant the permission is 403 `forbidden` naming it, and on an admin route a person
 *   without a second factor, an API key or an impersonation token is refused as admin-gate.ts says;
 * - is counted: aragora_rbac_permission_checks_total{permission,result},
 *   aragora_rbac_permission_denied_total{permission,handler} and aragora_rbac_check_latency_seconds.
 *
 * @example
 * new Elysia({ prefix: "/api/debates" })
 *   .use(accessControl)
 *   .get("/:id", ({ params }) => read(params.id), { permission: "debates.read" });
 */
import { type DocumentDecoration, Elysia } from "elysia";
import { metrics } from "../metrics.ts";
import { type Permission, policy } from "../security/rbac.ts";
import { adminRefusal } from "./admin-gate.ts";
import { HttpError } from "./errors.ts";
import type { Principal } from "./principal.ts";
import { stateOf } from "./request-state.ts";

/** What a route declares: the permission it needs, or that anyone may call it. */
export type RoutePermission = Permission | "public";

/** The OpenAPI security requirement of every protected route: any one of the three schemes. */
export const SECURITY_REQUIREMENT = [{ bearer: [] }, { apiKey: [] }, { cookie: [] }];

/** The challenge of a 401: the client should come back with a bearer token (or key). */
export const BEARER_CHALLENGE = { "www-authenticate": 'Bearer realm="aragora"' };

/**
 * The refusal of a request that proved no identity.
 *
 * @example throw unauthorized();
 */
export function unauthorized(message = "sign in: send Authorization: Bearer <access token or API key>"): HttpError {
  return new HttpError(401, "unauthorized", message, undefined, BEARER_CHALLENGE);
}

/**
 * The principal the shell found for a request, for a route whose permission was checked (so there
 * is one); a 401 when there is none (a route declared public has no principal to scope by).
 *
 * @example const { orgId } = principalOf(request); // every query of the route scoped to it
 */
export function principalOf(request: Request): Principal {
  const principal = stateOf(request)?.principal;
  if (principal === undefined) throw unauthorized();
  return principal;
}

/**
 * Whether `principal` may do `permission`: its roles grant it and, for a scoped API key, its scopes
 * name it. Scopes narrow what a key does, never `account.self`: a leaked key, however narrow, can
 * always say what it is and revoke itself.
 *
 * @example if (!allowed(principal, "keys.manage")) ...
 */
export function allowed(principal: Principal, permission: Permission): boolean {
  if (!policy.can(principal.roles, permission)) return false;
  return principal.scopes === undefined || permission === "account.self" || principal.scopes.includes(permission);
}

type Check = (context: { request: Request; route: string }) => void;

/**
 * The transform hook of one permission. Its text is read by Elysia to decide whether the route is
 * async: it must not `await`, nor return a call, or every route it guards would pay a promise.
 */
function checkOf(permission: Permission): Check {
  const granted = metrics.rbacPermissionChecks.tally({ permission, result: "granted" });
  const denied = metrics.rbacPermissionChecks.tally({ permission, result: "denied" });
  const anonymous = metrics.rbacPermissionChecks.tally({ permission, result: "unauthenticated" });
  const latency = metrics.rbacCheckLatency.series;
  const forbidden = `this route needs the permission ${permission}, which your credentials do not grant`;
  return function checkPermission({ request, route }) {
    const principal = stateOf(request)?.principal;
    if (principal === undefined) {
      anonymous.n++;
      metrics.rbacPermissionDenied.inc({ permission, handler: `${request.method} ${route}` });
      throw unauthorized();
    }
    const start = performance.now();
    const isAllowed = allowed(principal, permission);
    latency.observe((performance.now() - start) / 1000);
    if (!isAllowed) {
      denied.n++;
      metrics.rbacPermissionDenied.inc({ permission, handler: `${request.method} ${route}` });
      throw new HttpError(403, "forbidden", forbidden, [{ field: "permission", rule: `requires ${permission}` }]);
    }
    // Granted; an admin route also asks a person for a second factor (admin-gate.ts).
    const refusal = principal.kind === "operator" ? undefined : adminRefusal(principal, permission, route);
    if (refusal !== undefined) {
      denied.n++;
      metrics.rbacPermissionDenied.inc({ permission, handler: `${request.method} ${route}` });
      throw refusal;
    }
    granted.n++;
  };
}

const checks = new Map<Permission, Check>();

/**
 * The plugin every route group uses (`.use(accessControl)`), giving its routes the `permission`
 * option. Named, so Elysia registers it once however many groups use it.
 *
 * @example new Elysia({ prefix: "/api/admin" }).use(accessControl).get("/x", handler, { permission: "admin.read" });
 */
export const accessControl = new Elysia({ name: "aragora-access-control" }).macro({
  permission: (permission: RoutePermission) => {
    if (permission === "public") return { detail: decoration("public") };
    let transform = checks.get(permission);
    if (transform === undefined) {
      transform = checkOf(permission);
      checks.set(permission, transform);
    }
    return { detail: decoration(permission), transform };
  },
});

/** The OpenAPI part of a permission (an extension key, which Elysia's DocumentDecoration does not name). */
function decoration(permission: RoutePermission): DocumentDecoration {
  const detail: Record<string, unknown> = { "x-aragora-permission": permission };
  // A fresh array per route: Elysia merges a route's detail into it.
  if (permission !== "public") detail.security = SECURITY_REQUIREMENT.map((s) => ({ ...s }));
  return detail as DocumentDecoration;
}
