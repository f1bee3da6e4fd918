/**
 * Rate limiting: the {@link RateLimiter} interface the HTTP guard depends on, the
 * {@link RateLimitStore} that makes one per policy (in process here; shared by every node in
 * ./redis-rate-limit-store.ts), an in-process token-bucket implementation, and the response headers
 * of the IETF RateLimit header fields draft (`RateLimit-Policy`, `RateLimit`). A bucket holds up to `capacity` tokens and refills continuously at `refillPerSecond`; a
 * request takes `cost` tokens or is refused without taking any.
 *
 * Memory is bounded: a bucket that has refilled to full is the same as no bucket and is dropped,
 * and past `maxKeys` the least recently used bucket goes. Evicting a partly drained bucket forgets
 * that key's debt, so `maxKeys` should sit well above the number of keys active at once.
 */
import { LruMap } from "./lru-map.ts";

/** A named token bucket: what the RateLimit header fields call a quota policy. */
export interface RateLimitPolicy {
  /** Its name in the RateLimit and RateLimit-Policy fields (`api`, `auth`). */
  readonly name: string;
  /** Most tokens a bucket holds: the burst allowed. */
  readonly capacity: number;
  /** Tokens added per second: the sustained rate. */
  readonly refillPerSecond: number;
}

/** The outcome of one {@link RateLimiter.take}. */
export interface RateLimitResult {
  allowed: boolean;
  /** The bucket's capacity. */
  limit: number;
  /** Whole tokens left after this request. */
  remaining: number;
  /** Seconds until the bucket is full again. */
  resetSeconds: number;
  /** Seconds until a request of this cost would be allowed; 0 when allowed. */
  retryAfterSeconds: number;
}

/** A key and how close it is to its limit, for an operator's view of who is being throttled. */
export interface RateLimitUsage {
  key: string;
  remaining: number;
  limit: number;
}

/**
 * What the HTTP guard needs from a rate limiter, whatever stores the counts: synchronous in
 * process, a Promise from a shared store (Redis), so the in-process one costs no turn of the loop.
 */
export interface RateLimiter {
  /**
   * Takes `cost` (default 1) from `key`'s allowance, or refuses and takes nothing.
   *
   * @example
   * const r = limiter.take(`ip|${ip}`);
   * if (!r.allowed) throw new HttpError(429, "rate_limited", "too many requests", rateLimitHeaders(policy, r));
   */
  take(key: string, cost?: number): RateLimitResult | Promise<RateLimitResult>;
  /**
   * The `n` keys with the least allowance left, lowest first.
   *
   * @example
   * await limiter.nearest(5); // [{ key: "ip|203.0.113.9", remaining: 0, limit: 60 }, ...]
   */
  nearest(n: number): RateLimitUsage[] | Promise<RateLimitUsage[]>;
}

/** The in-process {@link RateLimiter}: every answer synchronous. */
export interface LocalRateLimiter extends RateLimiter {
  take(key: string, cost?: number): RateLimitResult;
  nearest(n: number): RateLimitUsage[];
  /** Buckets kept (those not full). */
  readonly size: number;
}

/**
 * Where the buckets of every policy are kept: in this process ({@link memoryRateLimitStore}), or
 * shared by every node (runtime/security/redis-rate-limit-store.ts), chosen by configuration.
 */
export interface RateLimitStore {
  readonly kind: "memory" | "redis";
  /**
   * The limiter of one policy (made once per policy, at start).
   *
   * @example const perIp = store.limiter({ name: "auth", capacity: 60, refillPerSecond: 1 });
   */
  limiter(policy: RateLimitPolicy): RateLimiter;
  close(): Promise<void>;
}

/** Options of {@link createTokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Most tokens a bucket holds: the burst allowed. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  refillPerSecond: number;
  /** Milliseconds on any monotonic scale; defaults to `performance.now`. A `Clock`'s `now` fits. */
  now?: () => number;
  /** Most buckets kept; defaults to 100,000. */
  maxKeys?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

// Drops per take of buckets found full at the old end; enough to outpace insertion.
const SWEEP_PER_TAKE = 2;

/**
 * An in-process token-bucket {@link RateLimiter}.
 *
 * @example
 * const perIp = createTokenBucketLimiter({ capacity: 60, refillPerSecond: 1 }); // bursts of 60, 1/s sustained
 * const clock = new SimulatedClock();
 * const limiter = createTokenBucketLimiter({ capacity: 5, refillPerSecond: 0.5, now: () => clock.now() });
 */
export function createTokenBucketLimiter(options: TokenBucketOptions): LocalRateLimiter {
  const { capacity, refillPerSecond } = options;
  const now = options.now ?? (() => performance.now());
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isFinite(capacity) || capacity <= 0) throw new RangeError(`capacity must be > 0, got ${capacity}`);
  if (!Number.isFinite(refillPerSecond) || refillPerSecond <= 0) {
    throw new RangeError(`refillPerSecond must be > 0, got ${refillPerSecond}`);
  }
  if (!Number.isInteger(maxKeys) || maxKeys < 1)
    throw new RangeError(`maxKeys must be an integer >= 1, got ${maxKeys}`);

  const buckets = new LruMap<Bucket>();

  const level = (bucket: Bucket, t: number): number =>
    Math.min(capacity, bucket.tokens + (Math.max(0, t - bucket.at) / 1000) * refillPerSecond);

  const sweep = (t: number): void => {
    for (let i = 0; i < SWEEP_PER_TAKE; i++) {
      const oldest = buckets.oldest();
      if (oldest === undefined || level(oldest[1], t) < capacity) return;
      buckets.delete(oldest[0]);
    }
  };

  return {
    get size() {
      return buckets.size;
    },

    take(key, cost = 1) {
      if (!Number.isFinite(cost) || cost < 0 || cost > capacity) {
        throw new RangeError(`rate limit cost must be between 0 and the capacity ${capacity}, got ${cost}`);
      }
      const t = now();
      const bucket = buckets.get(key);
      let tokens = bucket === undefined ? capacity : level(bucket, t);
      const allowed = tokens >= cost;
      if (allowed) tokens -= cost;
      if (tokens >= capacity) {
        // A full bucket is the same as none.
        if (bucket !== undefined) buckets.delete(key);
      } else if (bucket !== undefined) {
        bucket.tokens = tokens;
        bucket.at = t;
        buckets.touch(key);
      } else {
        buckets.set(key, { tokens, at: t });
        if (buckets.size > maxKeys) buckets.delete((buckets.oldest() as [string, Bucket])[0]);
      }
      sweep(t);
      return {
        allowed,
        limit: capacity,
        remaining: Math.floor(tokens),
        resetSeconds: Math.ceil((capacity - tokens) / refillPerSecond),
        retryAfterSeconds: allowed ? 0 : Math.ceil((cost - tokens) / refillPerSecond),
      };
    },

    nearest(n) {
      const t = now();
      const usage: RateLimitUsage[] = [];
      for (const [key, bucket] of buckets.entries())
        usage.push({ key, remaining: Math.floor(level(bucket, t)), limit: capacity });
      return usage.sort((a, b) => a.remaining - b.remaining).slice(0, Math.max(0, n));
    },
  };
}

/** The in-process {@link RateLimitStore}: its limiters answer synchronously. */
export interface LocalRateLimitStore extends RateLimitStore {
  limiter(policy: RateLimitPolicy): LocalRateLimiter;
}

/**
 * A store keeping every policy's buckets in this process: each node counts on its own.
 *
 * @example const store = memoryRateLimitStore(); const perKey = store.limiter({ name: "api", capacity: 600, refillPerSecond: 10 });
 */
export function memoryRateLimitStore(options: Pick<TokenBucketOptions, "now" | "maxKeys"> = {}): LocalRateLimitStore {
  return {
    kind: "memory",
    limiter: (policy) =>
      createTokenBucketLimiter({ ...options, capacity: policy.capacity, refillPerSecond: policy.refillPerSecond }),
    close: async () => {},
  };
}

/**
 * A policy's `RateLimit-Policy` member (draft-ietf-httpapi-ratelimit-headers): its name, quota
 * `q` (the capacity) and window `w` (the seconds a drained bucket takes to refill).
 *
 * @example policyField({ name: "api", capacity: 600, refillPerSecond: 10 }); // '"api";q=600;w=60'
 */
export function policyField(policy: RateLimitPolicy): string {
  return `"${policy.name}";q=${policy.capacity};w=${Math.max(1, Math.round(policy.capacity / policy.refillPerSecond))}`;
}

/**
 * A result's `RateLimit` member: the policy's name, the tokens remaining `r` and the seconds
 * until the bucket is full again `t`.
 *
 * @example limitField("api", { allowed: true, limit: 600, remaining: 599, resetSeconds: 1, retryAfterSeconds: 0 }); // '"api";r=599;t=1'
 */
export function limitField(name: string, result: RateLimitResult): string {
  return `"${name}";r=${result.remaining};t=${result.resetSeconds}`;
}

/**
 * The response headers for one policy's `result`: `RateLimit-Policy` and `RateLimit` as in the
 * IETF RateLimit header fields draft, and `Retry-After` (RFC 9110) on a refusal.
 *
 * @example
 * rateLimitHeaders({ name: "auth", capacity: 60, refillPerSecond: 1 }, refused);
 * // { "ratelimit-policy": '"auth";q=60;w=60', ratelimit: '"auth";r=0;t=60', "retry-after": "1" }
 */
export function rateLimitHeaders(policy: RateLimitPolicy, result: RateLimitResult): Record<string, string> {
  const headers: Record<string, string> = {
    "ratelimit-policy": policyField(policy),
    ratelimit: limitField(policy.name, result),
  };
  if (!result.allowed) headers["retry-after"] = String(result.retryAfterSeconds);
  return headers;
}
