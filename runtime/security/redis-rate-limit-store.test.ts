import { afterAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { redisAvailable, TEST_REDIS_URL } from "../../tests/support/services.ts";
import { createTokenBucketLimiter, type RateLimitStore } from "./rate-limiter.ts";
import { redisRateLimitStore } from "./redis-rate-limit-store.ts";

const available = await redisAvailable();
const prefix = `aragora-test:${crypto.randomUUID()}:`;
const clients: Redis[] = [];

function store(options: { maxKeys?: number; onError?: (err: unknown) => void } = {}): RateLimitStore {
  const redis = new Redis(TEST_REDIS_URL, { maxRetriesPerRequest: 1 });
  clients.push(redis);
  return redisRateLimitStore({ redis, prefix, ...options });
}

afterAll(async () => {
  if (!available) return;
  const cleaner = new Redis(TEST_REDIS_URL);
  const keys = await cleaner.keys(`${prefix}*`);
  if (keys.length > 0) await cleaner.del(...keys);
  await cleaner.quit();
  for (const c of clients) c.disconnect();
});

describe.skipIf(!available)("Redis rate limit store", () => {
  test("a burst up to the capacity, then refusals with Retry-After, as the in-process bucket answers", async () => {
    const limiter = store().limiter({ name: "burst", capacity: 3, refillPerSecond: 0.5 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await limiter.take("k"));
    expect(results.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
      [false, 0],
    ]);
    expect(results[3]).toMatchObject({ limit: 3, retryAfterSeconds: 2, resetSeconds: 6 });
    const local = createTokenBucketLimiter({ capacity: 3, refillPerSecond: 0.5 });
    for (let i = 0; i < 3; i++) local.take("k");
    expect(local.take("k")).toEqual({ ...(results[3] as object), remaining: 0 } as never);
  });

  test("two clients (two nodes) share one budget", async () => {
    const policy = { name: "shared", capacity: 4, refillPerSecond: 0.1 };
    const a = store().limiter(policy);
    const b = store().limiter(policy);
    const answers = await Promise.all([a.take("u|1"), b.take("u|1"), a.take("u|1"), b.take("u|1"), a.take("u|1")]);
    expect(answers.filter((r) => r.allowed).length).toBe(4);
    expect((await b.take("u|1")).allowed).toBe(false);
    // Another key has its own bucket.
    expect((await b.take("u|2")).allowed).toBe(true);
  });

  test("the bucket refills with time", async () => {
    const limiter = store().limiter({ name: "refill", capacity: 1, refillPerSecond: 20 });
    expect((await limiter.take("k")).allowed).toBe(true);
    const refused = await limiter.take("k");
    expect(refused.allowed).toBe(false);
    await Bun.sleep(60);
    expect((await limiter.take("k")).allowed).toBe(true);
  });

  test("nearest lists the emptiest buckets first; full buckets are not kept", async () => {
    const limiter = store().limiter({ name: "nearest", capacity: 10, refillPerSecond: 0.01 });
    await limiter.take("a", 2);
    await limiter.take("b", 9);
    await limiter.take("c", 5);
    await limiter.take("d", 0);
    expect(await limiter.nearest(2)).toEqual([
      { key: "b", remaining: 1, limit: 10 },
      { key: "c", remaining: 5, limit: 10 },
    ]);
    expect((await limiter.nearest(10)).map((u) => u.key)).toEqual(["b", "c", "a"]);
  });

  test("at most maxKeys buckets; the fullest go first", async () => {
    const limiter = store({ maxKeys: 3 }).limiter({ name: "bounded", capacity: 10, refillPerSecond: 0.01 });
    await limiter.take("drained", 9);
    for (let i = 0; i < 5; i++) await limiter.take(`light:${i}`, 1);
    const kept = await limiter.nearest(10);
    expect(kept.length).toBe(3);
    expect(kept[0]).toEqual({ key: "drained", remaining: 1, limit: 10 });
  });

  test("when Redis does not answer, takes fall back to this process's buckets", async () => {
    const errors: unknown[] = [];
    const redis = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    redis.on("error", () => {});
    clients.push(redis);
    const limiter = redisRateLimitStore({ redis, prefix, onError: (e) => errors.push(e) }).limiter({
      name: "down",
      capacity: 2,
      refillPerSecond: 0.01,
    });
    const answers = [await limiter.take("k"), await limiter.take("k"), await limiter.take("k")];
    expect(answers.map((r) => r.allowed)).toEqual([true, true, false]);
    expect(errors.length).toBe(3);
    expect(await limiter.nearest(5)).toEqual([{ key: "k", remaining: 0, limit: 2 }]);
    expect(errors.length).toBe(4);
  });
});
