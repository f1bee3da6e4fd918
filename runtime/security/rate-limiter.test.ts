import { describe, expect, test } from "bun:test";
import { SimulatedClock } from "../actor/clock.ts";
import {
  createTokenBucketLimiter,
  memoryRateLimitStore,
  policyField,
  rateLimitHeaders,
  type TokenBucketOptions,
} from "./rate-limiter.ts";

function setup(options: Partial<TokenBucketOptions> = {}) {
  const clock = new SimulatedClock(1_000_000);
  const limiter = createTokenBucketLimiter({ capacity: 5, refillPerSecond: 1, now: () => clock.now(), ...options });
  return { clock, limiter };
}

describe("token bucket", () => {
  test("a burst up to the capacity is allowed, then refused until a token refills", () => {
    const { clock, limiter } = setup();
    const burst = Array.from({ length: 5 }, () => limiter.take("ip:a"));
    expect(burst.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 4],
      [true, 3],
      [true, 2],
      [true, 1],
      [true, 0],
    ]);
    expect(limiter.take("ip:a")).toEqual({
      allowed: false,
      limit: 5,
      remaining: 0,
      resetSeconds: 5,
      retryAfterSeconds: 1,
    });
    clock.advance(999);
    expect(limiter.take("ip:a").allowed).toBe(false);
    clock.advance(1);
    expect(limiter.take("ip:a")).toMatchObject({ allowed: true, remaining: 0 });
  });

  test("a refused request takes nothing: waiting out Retry-After is enough", () => {
    const { clock, limiter } = setup({ capacity: 2, refillPerSecond: 0.5 });
    limiter.take("k");
    limiter.take("k");
    for (let i = 0; i < 10; i++) expect(limiter.take("k").allowed).toBe(false);
    const refused = limiter.take("k");
    expect(refused.retryAfterSeconds).toBe(2);
    clock.advance(refused.retryAfterSeconds * 1000);
    expect(limiter.take("k").allowed).toBe(true);
  });

  test("the sustained rate is the refill rate: 100 s at 10 requests/s lets about 100 + burst through", () => {
    const { clock, limiter } = setup({ capacity: 5, refillPerSecond: 1 });
    let allowed = 0;
    for (let i = 0; i < 1000; i++) {
      if (limiter.take("k").allowed) allowed++;
      clock.advance(100);
    }
    expect(allowed).toBe(5 + 100 - 1);
  });

  test("refill stops at the capacity", () => {
    const { clock, limiter } = setup();
    limiter.take("k");
    clock.advance(3_600_000);
    expect(limiter.take("k").remaining).toBe(4);
  });

  test("a cost takes several tokens; a cost above what is left is refused with its own Retry-After", () => {
    const { limiter } = setup({ capacity: 10, refillPerSecond: 2 });
    expect(limiter.take("k", 7)).toMatchObject({ allowed: true, remaining: 3, resetSeconds: 4 });
    expect(limiter.take("k", 5)).toMatchObject({ allowed: false, remaining: 3, retryAfterSeconds: 1 });
    expect(limiter.take("k", 0)).toMatchObject({ allowed: true, remaining: 3 });
  });

  test("a cost that could never be allowed, or is not a number, is a programming error", () => {
    const { limiter } = setup();
    expect(() => limiter.take("k", 6)).toThrow(/between 0 and the capacity 5/);
    expect(() => limiter.take("k", -1)).toThrow(RangeError);
    expect(() => limiter.take("k", Number.NaN)).toThrow(RangeError);
  });

  test("keys are independent", () => {
    const { limiter } = setup({ capacity: 1 });
    expect(limiter.take("a").allowed).toBe(true);
    expect(limiter.take("a").allowed).toBe(false);
    expect(limiter.take("b").allowed).toBe(true);
  });

  test("a clock that steps backwards adds no tokens", () => {
    let t = 10_000;
    const limiter = createTokenBucketLimiter({ capacity: 1, refillPerSecond: 1, now: () => t });
    limiter.take("k");
    t = 0;
    expect(limiter.take("k").allowed).toBe(false);
  });

  test("options are checked", () => {
    expect(() => createTokenBucketLimiter({ capacity: 0, refillPerSecond: 1 })).toThrow(/capacity/);
    expect(() => createTokenBucketLimiter({ capacity: 1, refillPerSecond: 0 })).toThrow(/refillPerSecond/);
    expect(() => createTokenBucketLimiter({ capacity: 1, refillPerSecond: 1, maxKeys: 0 })).toThrow(/maxKeys/);
  });
});

describe("bounded memory", () => {
  test("a full bucket is not kept; refilled buckets are dropped as other keys arrive", () => {
    const { clock, limiter } = setup();
    limiter.take("k", 0);
    expect(limiter.size).toBe(0);
    for (let i = 0; i < 50; i++) limiter.take(`old:${i}`);
    expect(limiter.size).toBe(50);
    clock.advance(1000); // one token back: every bucket is full again
    // Each take drops up to two full buckets from the least recently used end.
    for (let i = 0; i < 10; i++) limiter.take(`new:${i}`);
    expect(limiter.size).toBe(50 - 2 * 10 + 10);
    for (let i = 10; i < 30; i++) limiter.take(`new:${i}`);
    expect(limiter.size).toBe(30);
    expect(limiter.nearest(100).every((u) => u.key.startsWith("new:"))).toBe(true);
  });

  test("never more than maxKeys buckets; the least recently used goes first", () => {
    const { limiter } = setup({ maxKeys: 100 });
    limiter.take("victim");
    let hotAllowed = limiter.take("hot").allowed ? 1 : 0;
    for (let i = 0; i < 1000; i++) {
      limiter.take(`flood:${i}`);
      if (i % 50 === 0 && limiter.take("hot").allowed) hotAllowed++;
    }
    expect(limiter.size).toBe(100);
    // Kept all along (no time passes, so no refill): it got its 5 tokens and no fresh bucket.
    expect(hotAllowed).toBe(5);
    const kept = new Set(limiter.nearest(1000).map((u) => u.key));
    expect(kept.has("hot")).toBe(true);
    expect(kept.has("victim")).toBe(false);
  });
});

describe("nearest", () => {
  test("the keys with least allowance left, lowest first, at the current time", () => {
    const { clock, limiter } = setup();
    limiter.take("a", 1);
    limiter.take("b", 5);
    limiter.take("c", 3);
    expect(limiter.nearest(2)).toEqual([
      { key: "b", remaining: 0, limit: 5 },
      { key: "c", remaining: 2, limit: 5 },
    ]);
    clock.advance(2000);
    expect(limiter.nearest(10).map((u) => [u.key, u.remaining])).toEqual([
      ["b", 2],
      ["c", 4],
      ["a", 5],
    ]);
    expect(limiter.nearest(0)).toEqual([]);
  });
});

describe("rateLimitHeaders", () => {
  test("RateLimit-Policy and RateLimit on every answer; Retry-After only on a refusal", () => {
    const { limiter } = setup({ capacity: 1 });
    const policy = { name: "auth", capacity: 1, refillPerSecond: 1 };
    expect(rateLimitHeaders(policy, limiter.take("k"))).toEqual({
      "ratelimit-policy": '"auth";q=1;w=1',
      ratelimit: '"auth";r=0;t=1',
    });
    expect(rateLimitHeaders(policy, limiter.take("k"))).toEqual({
      "ratelimit-policy": '"auth";q=1;w=1',
      ratelimit: '"auth";r=0;t=1',
      "retry-after": "1",
    });
  });

  test("the window is the time a drained bucket takes to refill", () => {
    expect(policyField({ name: "api", capacity: 600, refillPerSecond: 10 })).toBe('"api";q=600;w=60');
    expect(policyField({ name: "api", capacity: 5, refillPerSecond: 50 })).toBe('"api";q=5;w=1');
  });
});

describe("memoryRateLimitStore", () => {
  test("one independent limiter per policy", () => {
    const store = memoryRateLimitStore();
    const a = store.limiter({ name: "a", capacity: 1, refillPerSecond: 1 });
    const b = store.limiter({ name: "b", capacity: 1, refillPerSecond: 1 });
    expect(a.take("k").allowed).toBe(true);
    expect(a.take("k").allowed).toBe(false);
    expect(b.take("k").allowed).toBe(true);
    expect(store.kind).toBe("memory");
  });
});
