/**
 * What an admin route asks beyond its permission (the runbook's SOC 2 CC5-01, "admin endpoints
 * require admin role + MFA"). An admin route is one under `/api/admin/`, or one whose permission
 * is `admin.*` or another of the platform's (a permission no organisation role grants: `ops.*`,
 * `system.*`, `metrics.*`). On such a route:
 *
 * - a person (a user's session, bearer or cookie, or its WebSocket ticket) must have passed a
 *   second factor in this session (`Principal.mfa`), else 403 `mfa_required`, saying how;
 * - an API key, user or service, is refused with the same 403 `mfa_required`: a key is one
 *   factor by nature, so no key reaches an admin route, whatever its role;
 * - an impersonation token (`Principal.actor`) is refused, 403 `impersonation_forbidden`: acting
 *   as someone is for their support, never for administering the platform;
 * - the operator's token (`ARAGORA_API_TOKEN`, and the local handoff token of `ops run`) passes:
 *   it is the platform's machine credential, for automation (Prometheus, playbooks, scripts),
 *   which cannot answer a second factor; it is a secret kept in a secrets manager, rotated, and
 *   unset turns the admin API off.
 *
 * The permission is checked first, so a caller who may not use a route at all is told that
 * (403 `forbidden`), not asked for a second factor.
 *
 * @example
 * const refusal = adminRefusal(principal, "admin.read", "/api/admin/log-level");
 * if (refusal !== undefined) throw refusal; // 403 mfa_required for a person without MFA
 */
import { ORG_ROLES, PERMISSIONS, type Permission, policy } from "../security/rbac.ts";
import { HttpError } from "./errors.ts";
import type { Principal } from "./principal.ts";

/** The path prefix of the platform's admin API. */
export const ADMIN_PATH_PREFIX = "/api/admin/";

/**
 * Permissions no organisation role grants (the operator's alone), plus every `admin.*`: a route
 * needing one is an admin route wherever it is mounted.
 *
 * @example ADMIN_PERMISSIONS.has("ops.run"); // true
 */
export const ADMIN_PERMISSIONS: ReadonlySet<Permission> = new Set(
  PERMISSIONS.filter((p) => p.startsWith("admin.") || !policy.can(ORG_ROLES, p)),
);

/**
 * Whether a route needing `permission`, at `route` (its path template, when known), is an admin route.
 *
 * @example isAdminRoute("audit.read", "/api/admin/audit"); // true
 */
export function isAdminRoute(permission: Permission, route?: string): boolean {
  return ADMIN_PERMISSIONS.has(permission) || (route?.startsWith(ADMIN_PATH_PREFIX) ?? false);
}

/** How a person without a second factor gets one, for the refusal's message. */
export const MFA_HOW_TO =
  "enrol a TOTP authenticator if you have not (POST /api/auth/mfa/totp/enroll, then POST /api/auth/mfa/totp/confirm), " +
  "then sign in again and finish with a code (POST /api/auth/sign-in, then POST /api/auth/mfa/verify)";

/**
 * The refusal of `principal` on an admin route, or undefined when it may go on (or the route is
 * not an admin route). Call it once the permission is granted.
 *
 * @example
 * if (allowed(principal, permission)) {
 *   const refusal = adminRefusal(principal, permission, route);
 *   if (refusal) throw refusal;
 * }
 */
export function adminRefusal(principal: Principal, permission: Permission, route?: string): HttpError | undefined {
  if (principal.kind === "operator" || !isAdminRoute(permission, route)) return undefined;
  if (principal.actor !== undefined) {
    return new HttpError(
      403,
      "impersonation_forbidden",
      "an impersonation token cannot use admin routes: it is for acting as a user, not for administering; use your own session",
      [{ field: "credentials", rule: "must not be an impersonation token on an admin route" }],
    );
  }
  if (principal.kind !== "user") {
    return new HttpError(
      403,
      "mfa_required",
      `admin routes need a person's session that passed MFA (SOC 2 CC5-01), and an API key is a single factor: ${MFA_HOW_TO}; automation uses the operator token (ARAGORA_API_TOKEN)`,
      [{ field: "credentials", rule: "must be a session that passed a second factor, not an API key" }],
    );
  }
  if (principal.mfa === true) return undefined;
  return new HttpError(
    403,
    "mfa_required",
    `admin routes need a session that passed MFA (SOC 2 CC5-01): ${MFA_HOW_TO}`,
    [{ field: "session", rule: "must have passed a second factor (TOTP or a recovery code)" }],
  );
}
