/**
 * The guard in front of every operator route: `Authorization: Bearer <ARAGORA_API_TOKEN>`,
 * compared in constant time. Without a configured token the admin API is off (403), so an
 * unconfigured server never exposes operator controls to anonymous callers. Failures are counted
 * in aragora_auth_failures_total{reason}.
 *
 * @example
 * new Elysia().onBeforeHandle(adminGuard(config)).get("/api/admin/things", ...);
 */
import { timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";
import { metrics } from "../metrics.ts";
import { errorResponse } from "./errors.ts";
import { stateOf } from "./request-state.ts";

/** Compare a presented bearer token with the configured one in constant time. */
export function bearerMatches(header: string | null, token: string): boolean {
  if (!header?.startsWith("Bearer ")) return false;
  const presented = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** A beforeHandle hook: undefined lets the request through, a Response refuses it. */
export function adminGuard(config: Pick<Config, "apiToken">) {
  return ({ request }: { request: Request }): Response | undefined => {
    const id = stateOf(request)?.id ?? "";
    if (!config.apiToken) {
      metrics.authFailures.inc({ reason: "disabled" });
      return errorResponse(403, "admin_disabled", "the admin API is off: set ARAGORA_API_TOKEN to enable it", id);
    }
    const header = request.headers.get("authorization");
    if (!bearerMatches(header, config.apiToken)) {
      metrics.authFailures.inc({ reason: header ? "invalid" : "missing" });
      return errorResponse(
        401,
        "unauthorized",
        "Authorization: Bearer <ARAGORA_API_TOKEN> is required",
        id,
        undefined,
        {
          "www-authenticate": 'Bearer realm="aragora-admin"',
        },
      );
    }
    return undefined;
  };
}
