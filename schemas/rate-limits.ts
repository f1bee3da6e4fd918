/** The query and response of GET /api/system/rate-limits. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const RateLimitsQuery = lazy(() =>
  type({
    "limit?": type("string.integer.parse |> 1 <= number.integer <= 100").describe("callers to list (default 20)"),
  }),
);

const Policy = lazy(() =>
  type({
    name: type("'api' | 'auth'").describe("api: per API key or user; auth: per client address on /api/auth/*"),
    per: "'api_key_or_user' | 'ip'",
    enabled: "boolean",
    limit: type("number.integer >= 1 | null").describe("the bucket: requests at once (null when off)"),
    window_s: type("number.integer >= 1 | null").describe("seconds a drained bucket takes to refill"),
    env: type("string").describe("the variable that sets it"),
  }),
);

const Caller = lazy(() =>
  type({
    kind: "'api_key' | 'user' | 'ip'",
    "key_id?": "string",
    "key_hint?": type("string").describe("the key's prefix and last four; never the key"),
    "org_id?": "string",
    "user_id?": "string",
    "ip?": "string",
  }),
);

export const RateLimitsResponse = lazy(() =>
  type({
    store: type("'memory' | 'redis'").describe("memory: each node counts alone; redis: one budget across nodes"),
    policies: Policy.array(),
    nearest: type({
      policy: "'api' | 'auth'",
      caller: Caller,
      remaining: "number.integer >= 0",
      limit: "number.integer >= 1",
    })
      .array()
      .describe("the callers with the least left, emptiest first (callers with a full bucket are not listed)"),
  }).describe("the configured rate limits and the callers nearest to them"),
);
