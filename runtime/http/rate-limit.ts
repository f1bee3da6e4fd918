/**
 * The rate limits of the HTTP API, checked by the shell once a request is authenticated:
 *
 * - `api`: one token bucket per API key, or per user for a session (its tokens, cookies and
 *   WebSocket tickets alike), on every authenticated route. The operator's token is not limited.
 * - `auth`: one bucket per client address (client-ip.ts) on the ways in under `/api/auth/`: every
 *   request there but a signed-in caller's reads (setup, sign-up, sign-in, refresh, password reset
 *   and change, WebSocket tickets, keys, and what later ways in add there), and every request on any
 *   route whose credentials are refused. An address runs out whatever accounts it tries: this is
 *   what slows a spray over many accounts, where the sign-in backoff counts failures per account.
 *
 * Only what the server proved picks a bucket: the key or user the authenticator found, or the
 * peer's address (X-Forwarded-For only from a trusted proxy). A header a caller sets cannot.
 *
 * An answer within the limit carries `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-
 * ratelimit-headers); a refusal is 429 `rate_limited` with the same and `Retry-After`. With the
 * in-process store the check is synchronous (a map lookup and a little arithmetic); with Redis it
 * is one round trip.
 *
 * @example
 * const limits = rateLimitGuard({ api: { name: "api", capacity: 600, refillPerSecond: 10 }, store });
 * const verdict = limits.check(request, "GET", "/api/debates", principal); // headers, an HttpError, or undefined
 */
import type { Config, RateLimitSetting } from "../config.ts";
import type { Logger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { addressGroup } from "../security/address-group.ts";
import {
  limitField,
  memoryRateLimitStore,
  policyField,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitResult,
  type RateLimitStore,
} from "../security/rate-limiter.ts";
import { redisRateLimitStore } from "../security/redis-rate-limit-store.ts";
import { connectRedis } from "../store/redis.ts";
import type { Tally } from "../tally-counter.ts";
import { clientIpOf } from "./client-ip.ts";
import { HttpError } from "./errors.ts";
import type { Principal } from "./principal.ts";

/** What a check answers: the headers of an allowed request, the 429 to refuse it, or undefined when no limit applies. */
export type RateLimitVerdict = Record<string, string> | HttpError | undefined;

/** Who a bucket belongs to, as an operator may see it: never a secret. */
export type LimitedCaller =
  | { kind: "api_key"; key_id: string; key_hint: string; org_id: string }
  | { kind: "user"; user_id: string }
  | { kind: "ip"; ip: string };

/** One bucket near its limit. */
export interface NearCaller {
  policy: string;
  caller: LimitedCaller;
  remaining: number;
  limit: number;
}

export interface RateLimitGuardOptions {
  /** Per API key or user on every authenticated route; absent: no limit. */
  api?: RateLimitPolicy;
  /** Per client address on the ways in under /api/auth/; absent: no limit. */
  auth?: RateLimitPolicy;
  store: RateLimitStore;
}

export interface RateLimitGuard {
  readonly store: RateLimitStore["kind"];
  readonly api: RateLimitPolicy | undefined;
  readonly auth: RateLimitPolicy | undefined;
  /**
   * Take from the buckets `principal` (and, on /api/auth/, the client's address) use: a Promise
   * only when the store answers asynchronously.
   *
   * @example const verdict = guard.check(request, request.method, "/api/auth/sign-in", undefined);
   */
  check(
    request: Request,
    method: string,
    path: string,
    principal: Principal | undefined,
  ): RateLimitVerdict | Promise<RateLimitVerdict>;
  /**
   * Take from the client address's auth bucket for a request whose credentials were refused (a
   * wrong key or token, on any route), so guessing credentials is limited as sign-in is; undefined
   * without an auth policy.
   *
   * @example const verdict = guard.refusedCredentials(request); // an HttpError once the address is out
   */
  refusedCredentials(request: Request): RateLimitVerdict | Promise<RateLimitVerdict>;
  /**
   * The `n` buckets with the least left (as a share of their policy's capacity), emptiest first.
   *
   * @example await guard.nearest(10);
   */
  nearest(n: number): Promise<NearCaller[]>;
  close(): Promise<void>;
}

/** Where the ways in live: the auth policy covers these paths. */
const AUTH_PREFIX = "/api/auth/";

/**
 * The bucket of a principal under the api policy, undefined for the operator's token. A key's
 * bucket names its id, the shown form of the key (prefix and last four) and its organisation, so
 * an operator's view needs nothing else; a user's names the user.
 *
 * @example bucketOf(principal) // "u|u-42"
 */
export function bucketOf(principal: Principal): string | undefined {
  if (principal.kind === "operator") return undefined;
  if (principal.keyId !== undefined) return `k|${principal.keyId}|${principal.keyHint ?? ""}|${principal.orgId}`;
  return principal.userId === null ? undefined : `u|${principal.userId}`;
}

/**
 * Who a bucket key stands for.
 *
 * @example callerOf("ip|192.0.2.1") // { kind: "ip", ip: "192.0.2.1" }
 */
export function callerOf(bucket: string): LimitedCaller {
  const parts = bucket.split("|");
  if (parts[0] === "k") {
    return { kind: "api_key", key_id: parts[1] ?? "", key_hint: parts[2] ?? "", org_id: parts[3] ?? "" };
  }
  if (parts[0] === "u") return { kind: "user", user_id: parts.slice(1).join("|") };
  return { kind: "ip", ip: parts.slice(1).join("|") };
}

interface Limit {
  policy: RateLimitPolicy;
  limiter: RateLimiter;
  /** The policy's `RateLimit-Policy` member, made once. */
  field: string;
  /** "for this API key" and the like, by bucket. */
  whose: (bucket: string) => string;
  allowed: Tally;
  limited: Tally;
}

/**
 * The guard of `options`' policies on `options.store`.
 *
 * @example const guard = rateLimitGuard({ api, auth, store: memoryRateLimitStore() });
 */
export function rateLimitGuard(options: RateLimitGuardOptions): RateLimitGuard {
  const { store } = options;
  const limit = (policy: RateLimitPolicy | undefined, whose: Limit["whose"]): Limit | undefined =>
    policy === undefined
      ? undefined
      : {
          policy,
          limiter: store.limiter(policy),
          field: policyField(policy),
          whose,
          allowed: metrics.rateLimitRequests.tally({ policy: policy.name, result: "allowed" }),
          limited: metrics.rateLimitRequests.tally({ policy: policy.name, result: "limited" }),
        };
  const api = limit(options.api, (bucket) => (bucket.startsWith("k|") ? "for this API key" : "for this account"));
  const auth = limit(options.auth, () => "to the sign-in routes from this address");

  const window = (policy: RateLimitPolicy) => Math.max(1, Math.round(policy.capacity / policy.refillPerSecond));

  /** The 429 of a refused take, with the headers of every take of the request. */
  const refusal = (l: Limit, result: RateLimitResult, bucket: string, headers: Record<string, string>) => {
    l.limited.n++;
    const retry = Math.max(1, result.retryAfterSeconds);
    headers["retry-after"] = String(retry);
    const { policy } = l;
    return new HttpError(
      429,
      "rate_limited",
      `too many requests ${l.whose(bucket)} (${policy.capacity} per ${window(policy)} s); retry in ${retry} s`,
      undefined,
      headers,
    );
  };

  /** The verdict of one take. */
  const one = (l: Limit, result: RateLimitResult, bucket: string): RateLimitVerdict => {
    const headers = { "ratelimit-policy": l.field, ratelimit: limitField(l.policy.name, result) };
    if (!result.allowed) return refusal(l, result, bucket, headers);
    l.allowed.n++;
    return headers;
  };

  /** The verdict of two takes, the first allowed: both policies in the headers. */
  const two = (
    first: Limit,
    firstResult: RateLimitResult,
    second: Limit,
    secondResult: RateLimitResult,
    secondBucket: string,
  ): RateLimitVerdict => {
    const headers = {
      "ratelimit-policy": `${first.field}, ${second.field}`,
      ratelimit: `${limitField(first.policy.name, firstResult)}, ${limitField(second.policy.name, secondResult)}`,
    };
    if (!secondResult.allowed) return refusal(second, secondResult, secondBucket, headers);
    first.allowed.n++;
    second.allowed.n++;
    return headers;
  };

  return {
    store: store.kind,
    api: options.api,
    auth: options.auth,

    check(request, method, path, principal) {
      const apiBucket = api !== undefined && principal !== undefined ? bucketOf(principal) : undefined;
      const onAuth =
        auth !== undefined &&
        path.startsWith(AUTH_PREFIX) &&
        (principal === undefined || (method !== "GET" && method !== "HEAD"));
      if (onAuth) {
        // An IPv6 client is counted by its /64 (address-group.ts).
        const authBucket = `ip|${addressGroup(clientIpOf(request))}`;
        const taken = (auth as Limit).limiter.take(authBucket);
        const then = (r: RateLimitResult): RateLimitVerdict | Promise<RateLimitVerdict> => {
          // An address out of its budget takes nothing from the key's.
          if (!r.allowed || apiBucket === undefined) return one(auth as Limit, r, authBucket);
          const second = (api as Limit).limiter.take(apiBucket);
          return second instanceof Promise
            ? second.then((s) => two(auth as Limit, r, api as Limit, s, apiBucket))
            : two(auth as Limit, r, api as Limit, second, apiBucket);
        };
        return taken instanceof Promise ? taken.then(then) : then(taken);
      }
      if (apiBucket === undefined) return undefined;
      const taken = (api as Limit).limiter.take(apiBucket);
      return taken instanceof Promise
        ? taken.then((r) => one(api as Limit, r, apiBucket))
        : one(api as Limit, taken, apiBucket);
    },

    refusedCredentials(request) {
      if (auth === undefined) return undefined;
      const bucket = `ip|${addressGroup(clientIpOf(request))}`;
      const taken = auth.limiter.take(bucket);
      return taken instanceof Promise ? taken.then((r) => one(auth, r, bucket)) : one(auth, taken, bucket);
    },

    async nearest(n) {
      const near: NearCaller[] = [];
      for (const l of [api, auth]) {
        if (l === undefined) continue;
        for (const u of await l.limiter.nearest(n)) {
          near.push({ policy: l.policy.name, caller: callerOf(u.key), remaining: u.remaining, limit: u.limit });
        }
      }
      return near.sort((a, b) => a.remaining / a.limit - b.remaining / b.limit).slice(0, Math.max(0, n));
    },

    close: () => store.close(),
  };
}

/**
 * The policy a setting describes: a bucket of `requests`, refilled at `requests` per `perSeconds`.
 *
 * @example policyOf("api", { requests: 600, perSeconds: 60 }) // { name: "api", capacity: 600, refillPerSecond: 10 }
 */
export function policyOf(name: string, setting: RateLimitSetting | null): RateLimitPolicy | undefined {
  return setting === null
    ? undefined
    : { name, capacity: setting.requests, refillPerSecond: setting.requests / setting.perSeconds };
}

/**
 * The guard the configuration asks for: ARAGORA_RATE_LIMIT_API and _AUTH, their buckets in Redis
 * when ARAGORA_REDIS_URL is set (one budget across nodes), else in this process.
 *
 * @example const rateLimits = await openRateLimitGuard(config, log);
 */
export async function openRateLimitGuard(
  config: Pick<Config, "rateLimitApi" | "rateLimitAuth" | "redisUrl" | "redisKeyPrefix">,
  log: Logger,
): Promise<RateLimitGuard> {
  const api = policyOf("api", config.rateLimitApi);
  const auth = policyOf("auth", config.rateLimitAuth);
  const shared = config.redisUrl !== undefined && (api !== undefined || auth !== undefined);
  const store = shared
    ? redisRateLimitStore({
        redis: await connectRedis(config.redisUrl as string, log, "rate-limits"),
        prefix: `${config.redisKeyPrefix}ratelimit:`,
        onError: () => metrics.rateLimitStoreErrors.inc(),
      })
    : memoryRateLimitStore();
  return rateLimitGuard({ ...(api ? { api } : {}), ...(auth ? { auth } : {}), store });
}
