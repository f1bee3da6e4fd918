/**
 * A {@link RateLimitStore} in Redis, so every node takes from the same buckets: a caller spreading
 * requests over several nodes gets the one budget, not one per node.
 *
 * Each policy is one sorted set: the member is the bucket's key, the score the time (ms, Redis'
 * own clock, so nodes' clocks need not agree) at which that bucket is full again. That single
 * number is the whole token bucket (the GCRA form): tokens now = capacity - (fullAt - now) x rate.
 * A take is one Lua script, atomic: read the score, refuse or move it forward, drop the buckets
 * already full (the same as no bucket), cap the set's size. Ordering the set by score orders the
 * buckets by how little they have left, which is what {@link RateLimiter.nearest} asks.
 *
 * When Redis does not answer (down, or slower than the client's command timeout), a take falls
 * back to an in-process limiter of the same policy (`fallback`): each node then limits on its own
 * until Redis answers again, which is better than refusing everyone or letting everyone through.
 * `nearest` then lists this node's own buckets.
 *
 * @example
 * const store = redisRateLimitStore({ redis: await connectRedis(url, log, "rate-limits"), onError });
 * const perKey = store.limiter({ name: "api", capacity: 600, refillPerSecond: 10 });
 * const result = await perKey.take("k|k-1");
 */
import type { Redis } from "ioredis";
import {
  memoryRateLimitStore,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitResult,
  type RateLimitStore,
  type RateLimitUsage,
} from "./rate-limiter.ts";

/**
 * KEYS[1] the policy's sorted set; ARGV member, cost, capacity, ms per token, most members.
 * Returns {allowed, tokens left (text: Redis would truncate a number), ms until full}.
 */
const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local msPerToken = tonumber(ARGV[4])
local fullAt = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1])) or now
if fullAt < now then fullAt = now end
local tokens = capacity - (fullAt - now) / msPerToken
local allowed = 0
if tokens + 1e-9 >= cost then
  allowed = 1
  tokens = tokens - cost
  fullAt = fullAt + cost * msPerToken
  if fullAt > now then redis.call('ZADD', KEYS[1], fullAt, ARGV[1]) end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[5])
if over > 0 then redis.call('ZPOPMIN', KEYS[1], over) end
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * msPerToken) + 1000)
return {allowed, tostring(tokens), tostring(fullAt - now)}
`;

/** KEYS[1] the policy's sorted set; ARGV n. Returns {now, member, fullAt, member, fullAt, ...}, emptiest first. */
const NEAREST = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local top = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', '(' .. now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
table.insert(top, 1, tostring(now))
return top
`;

type Scripts = Redis & {
  aragoraRateLimitTake(
    key: string,
    member: string,
    cost: number,
    capacity: number,
    msPerToken: number,
    maxKeys: number,
  ): Promise<[number, string, string]>;
  aragoraRateLimitNearest(key: string, n: number): Promise<string[]>;
};

/** Options of {@link redisRateLimitStore}. */
export interface RedisRateLimitOptions {
  /** A connected client (runtime/store/redis.ts); the store quits it on close. */
  redis: Redis;
  /** Prefix of the policies' keys; default `aragora:ratelimit:`. */
  prefix?: string;
  /** Most buckets kept per policy; default 100,000 (the fullest go first). */
  maxKeys?: number;
  /** Told of each command that failed (the take fell back to this process's own buckets). */
  onError?: (err: unknown) => void;
  /** Where takes go while Redis does not answer; default an in-process store. */
  fallback?: RateLimitStore;
}

/**
 * The shared store.
 *
 * @example const store = redisRateLimitStore({ redis });
 */
export function redisRateLimitStore(options: RedisRateLimitOptions): RateLimitStore {
  const redis = options.redis as Scripts;
  const prefix = options.prefix ?? "aragora:ratelimit:";
  const maxKeys = options.maxKeys ?? 100_000;
  const fallback = options.fallback ?? memoryRateLimitStore({ maxKeys });
  const onError = options.onError ?? (() => {});
  if (typeof redis.aragoraRateLimitTake !== "function") {
    // defineCommand sends EVALSHA and loads the script on NOSCRIPT.
    redis.defineCommand("aragoraRateLimitTake", { numberOfKeys: 1, lua: TAKE });
    redis.defineCommand("aragoraRateLimitNearest", { numberOfKeys: 1, lua: NEAREST });
  }

  return {
    kind: "redis",
    limiter(policy: RateLimitPolicy): RateLimiter {
      const { capacity, refillPerSecond } = policy;
      const msPerToken = 1000 / refillPerSecond;
      // The capacity and rate are part of the key: nodes configured differently keep apart.
      const key = `${prefix}${policy.name}:${capacity}:${refillPerSecond}`;
      const local = fallback.limiter(policy);
      const outcome = (cost: number, [allowed, left, msToFull]: [number, string, string]): RateLimitResult => {
        const tokens = Math.max(0, Number(left));
        return {
          allowed: allowed === 1,
          limit: capacity,
          remaining: Math.floor(tokens + 1e-9),
          resetSeconds: Math.ceil(Number(msToFull) / 1000 - 1e-9),
          retryAfterSeconds: allowed === 1 ? 0 : Math.ceil(((cost - tokens) * msPerToken) / 1000 - 1e-9),
        };
      };
      return {
        take(member, cost = 1) {
          if (!Number.isFinite(cost) || cost < 0 || cost > capacity) {
            throw new RangeError(`rate limit cost must be between 0 and the capacity ${capacity}, got ${cost}`);
          }
          return redis.aragoraRateLimitTake(key, member, cost, capacity, msPerToken, maxKeys).then(
            (reply) => outcome(cost, reply),
            (err: unknown) => {
              onError(err);
              return local.take(member, cost);
            },
          );
        },
        async nearest(n) {
          if (n <= 0) return [];
          let reply: string[];
          try {
            reply = await redis.aragoraRateLimitNearest(key, Math.floor(n));
          } catch (err) {
            // What this node decided on its own while Redis did not answer.
            onError(err);
            return local.nearest(n);
          }
          const now = Number(reply[0]);
          const usage: RateLimitUsage[] = [];
          for (let i = 1; i + 1 < reply.length; i += 2) {
            const tokens = capacity - (Number(reply[i + 1]) - now) / msPerToken;
            usage.push({ key: reply[i] as string, remaining: Math.max(0, Math.floor(tokens + 1e-9)), limit: capacity });
          }
          return usage;
        },
      };
    },
    async close() {
      await fallback.close();
      await options.redis.quit().catch(() => options.redis.disconnect());
    },
  };
}
