/**
 * GET /api/system/rate-limits: the configured limits and the callers nearest to them, for the
 * admin console. Callers are shown as the buckets know them: an API key by its id, shown form
 * (prefix and last four) and organisation, a user by id, an address; never a secret. It lists
 * every organisation's callers, so it is the platform operator's (`system.read`).
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" 'localhost:8080/api/system/rate-limits?limit=5'
 */
import { Elysia } from "elysia";
import { ErrorBody } from "../../schemas/errors.ts";
import { RateLimitsQuery, RateLimitsResponse } from "../../schemas/rate-limits.ts";
import type { RateLimitPolicy } from "../security/rate-limiter.ts";
import { accessControl } from "./permission.ts";
import type { RateLimitGuard } from "./rate-limit.ts";
import { responses, validated } from "./route-schemas.ts";

const policyView = (name: "api" | "auth", policy: RateLimitPolicy | undefined) => ({
  name,
  per: name === "api" ? ("api_key_or_user" as const) : ("ip" as const),
  enabled: policy !== undefined,
  limit: policy?.capacity ?? null,
  window_s: policy === undefined ? null : Math.max(1, Math.round(policy.capacity / policy.refillPerSecond)),
  env: name === "api" ? "ARAGORA_RATE_LIMIT_API" : "ARAGORA_RATE_LIMIT_AUTH",
});

/**
 * The route, on `guard`'s limits.
 *
 * @example app.use(rateLimitRoutes(guard));
 */
export function rateLimitRoutes(guard: RateLimitGuard) {
  return new Elysia({ name: "aragora-rate-limits", prefix: "/api/system" }).use(accessControl).get(
    "/rate-limits",
    async ({ query }) => ({
      store: guard.store,
      policies: [policyView("api", guard.api), policyView("auth", guard.auth)],
      nearest: (await guard.nearest(query.limit ?? 20)).map((n) => ({
        policy: n.policy as "api" | "auth",
        caller: n.caller,
        remaining: n.remaining,
        limit: n.limit,
      })),
    }),
    {
      permission: "system.read",
      query: validated(RateLimitsQuery, "query"),
      detail: {
        summary: "The rate limits and the callers nearest to them (key prefix and last four, user id, address)",
        tags: ["system"],
      },
      response: responses({ 200: RateLimitsResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
    },
  );
}
