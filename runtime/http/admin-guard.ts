/**
 * Guards in front of the protected routes, checked in the shell's onRequest (runtime/http/app.ts):
 * before the body is read, parsed or validated and before the query is, so a caller without the
 * token learns nothing about a route but that it needs one. A guard covers every path under its
 * prefix, the routes there and the ones that do not exist alike.
 *
 * The admin guard: `Authorization: Bearer <ARAGORA_API_TOKEN>`, compared in constant time. Without a
 * configured token the admin API is off (403), so an unconfigured server never exposes operator
 * controls to anonymous callers. Failures are counted in aragora_auth_failures_total{reason}.
 *
 * @example
 * createHttpApp({ ..., guards: [opsGuard] }); // the admin guard is always in place
 */
import { timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";
import { metrics } from "../metrics.ts";
import { HttpError } from "./errors.ts";

/** Who may reach the routes under one path prefix. */
export interface RouteGuard {
  /** Every path starting with this is guarded, e.g. "/api/admin/". */
  prefix: string;
  /** Undefined lets the request through; an HttpError (401/403) refuses it, answered by the one error mapper. */
  check(request: Request): HttpError | undefined;
}

/**
 * The guard whose prefix the request's path starts with, if any. Reads the path from the URL the
 * router matches on (Bun has already resolved `.` and `..` segments in it).
 *
 * @example guardOf(guards, "http://h/api/admin/log-level")?.prefix // "/api/admin/"
 */
export function guardOf(guards: readonly RouteGuard[], url: string): RouteGuard | undefined {
  const pathStart = url.indexOf("/", url.indexOf("://") + 3);
  if (pathStart === -1) return undefined;
  for (const guard of guards) if (url.startsWith(guard.prefix, pathStart)) return guard;
  return undefined;
}

/** Compare a presented bearer token with the configured one in constant time. */
export function bearerMatches(header: string | null, token: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const presented = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * The guard of `/api/admin/*` (the shell's operator routes and the schedulers').
 *
 * @example adminGuard(config).check(request) // undefined with the right token
 */
export function adminGuard(config: Pick<Config, "apiToken">): RouteGuard {
  return {
    prefix: "/api/admin/",
    check(request) {
      if (!config.apiToken) {
        metrics.authFailures.inc({ reason: "disabled" });
        return new HttpError(403, "admin_disabled", "the admin API is off: set ARAGORA_API_TOKEN to enable it");
      }
      const header = request.headers.get("authorization");
      if (bearerMatches(header, config.apiToken)) return undefined;
      metrics.authFailures.inc({ reason: header ? "invalid" : "missing" });
      return new HttpError(401, "unauthorized", "Authorization: Bearer <ARAGORA_API_TOKEN> is required", undefined, {
        "www-authenticate": 'Bearer realm="aragora-admin"',
      });
    },
  };
}
