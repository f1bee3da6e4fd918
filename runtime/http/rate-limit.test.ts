import { describe, expect, test } from "bun:test";
import { SimulatedClock } from "../actor/clock.ts";
import { memoryRateLimitStore, type RateLimitStore } from "../security/rate-limiter.ts";
import { HttpError } from "./errors.ts";
import type { Principal } from "./principal.ts";
import { bucketOf, callerOf, policyOf, rateLimitGuard } from "./rate-limit.ts";

const user: Principal = {
  kind: "user",
  userId: "u-1",
  orgId: "o-1",
  workspaceId: "w-1",
  roles: ["member"],
  via: "bearer",
};
const key: Principal = {
  kind: "service",
  userId: "u-9",
  orgId: "o-1",
  workspaceId: "w-1",
  roles: ["admin"],
  keyId: "k-1",
  keyHint: "ara_live_ab12…wxyz",
  via: "api_key",
};
const operator: Principal = {
  kind: "operator",
  userId: null,
  orgId: "o-1",
  workspaceId: "w-1",
  roles: ["operator"],
  via: "operator_token",
};

const request = (path: string) => new Request(`http://localhost${path}`);

function setup(store?: RateLimitStore) {
  const clock = new SimulatedClock(1_000_000);
  const guard = rateLimitGuard({
    api: { name: "api", capacity: 2, refillPerSecond: 1 },
    auth: { name: "auth", capacity: 1, refillPerSecond: 0.5 },
    store: store ?? memoryRateLimitStore({ now: () => clock.now() }),
  });
  return { clock, guard };
}

describe("buckets", () => {
  test("a key's bucket is the key (whoever it acts for), a session's the user; the operator has none", () => {
    expect(bucketOf(user)).toBe("u|u-1");
    expect(bucketOf(key)).toBe("k|k-1|ara_live_ab12…wxyz|o-1");
    expect(bucketOf({ ...key, userId: "u-2" })).toBe(bucketOf(key));
    expect(bucketOf(operator)).toBeUndefined();
  });

  test("a bucket names its caller without a secret", () => {
    expect(callerOf("k|k-1|ara_live_ab12…wxyz|o-1")).toEqual({
      kind: "api_key",
      key_id: "k-1",
      key_hint: "ara_live_ab12…wxyz",
      org_id: "o-1",
    });
    expect(callerOf("u|u-1")).toEqual({ kind: "user", user_id: "u-1" });
    expect(callerOf("ip|2001:db8::1")).toEqual({ kind: "ip", ip: "2001:db8::1" });
  });

  test("a setting is a bucket of its requests, refilled over its seconds", () => {
    expect(policyOf("api", { requests: 600, perSeconds: 60 })).toEqual({
      name: "api",
      capacity: 600,
      refillPerSecond: 10,
    });
    expect(policyOf("api", null)).toBeUndefined();
  });
});

describe("the guard", () => {
  test("an authenticated route: the principal's bucket, its fields on the answer, a 429 past it", () => {
    const { clock, guard } = setup();
    expect(guard.check(request("/api/debates"), "GET", "/api/debates", user)).toEqual({
      "ratelimit-policy": '"api";q=2;w=2',
      ratelimit: '"api";r=1;t=1',
    });
    guard.check(request("/api/debates"), "GET", "/api/debates", user);
    const refused = guard.check(request("/api/debates"), "GET", "/api/debates", user);
    expect(refused).toBeInstanceOf(HttpError);
    expect(refused).toMatchObject({
      status: 429,
      code: "rate_limited",
      headers: { "retry-after": "1", ratelimit: '"api";r=0;t=2' },
    });
    expect((refused as HttpError).message).toMatch(/for this account \(2 per 2 s\); retry in 1 s/);
    expect(guard.check(request("/api/debates"), "GET", "/api/debates", key)).not.toBeInstanceOf(HttpError);
    clock.advance(1000);
    expect(guard.check(request("/api/debates"), "GET", "/api/debates", user)).not.toBeInstanceOf(HttpError);
  });

  test("public routes other than the ways in, and the operator, are not limited", () => {
    const { guard } = setup();
    expect(guard.check(request("/api/health"), "GET", "/api/health", undefined)).toBeUndefined();
    for (let i = 0; i < 5; i++)
      expect(guard.check(request("/api/debates"), "GET", "/api/debates", operator)).toBeUndefined();
  });

  test("the ways in: per address; a signed-in caller's writes there take from both buckets, its reads only from its own", () => {
    const { guard } = setup();
    const both = guard.check(request("/api/auth/ws-ticket"), "POST", "/api/auth/ws-ticket", user);
    expect(both).toEqual({
      "ratelimit-policy": '"auth";q=1;w=2, "api";q=2;w=2',
      ratelimit: '"auth";r=0;t=2, "api";r=1;t=1',
    });
    const me = guard.check(request("/api/auth/me"), "GET", "/api/auth/me", user);
    expect(me).toMatchObject({ ratelimit: '"api";r=0;t=2' });
    // The address is out: nothing more is taken from the user's bucket.
    const refused = guard.check(request("/api/auth/sign-in"), "POST", "/api/auth/sign-in", undefined);
    expect(refused).toMatchObject({ status: 429, headers: { "retry-after": "2" } });
    expect((refused as HttpError).message).toMatch(/to the sign-in routes from this address/);
  });

  test("a shared store answers asynchronously; the verdicts are the same", async () => {
    const local = memoryRateLimitStore();
    const shared: RateLimitStore = {
      kind: "redis",
      limiter: (policy) => {
        const inner = local.limiter(policy);
        return { take: async (k, c) => inner.take(k, c), nearest: async (n) => inner.nearest(n) };
      },
      close: async () => {},
    };
    const { guard } = setup(shared);
    const first = guard.check(request("/api/auth/password"), "POST", "/api/auth/password", user);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toMatchObject({ ratelimit: '"auth";r=0;t=2, "api";r=1;t=1' });
    expect(await guard.check(request("/api/debates"), "GET", "/api/debates", user)).toMatchObject({
      ratelimit: '"api";r=0;t=2',
    });
    expect(await guard.check(request("/api/debates"), "GET", "/api/debates", user)).toBeInstanceOf(HttpError);
    expect(guard.store).toBe("redis");
  });

  test("nearest: the emptiest buckets of both policies, as shares of their capacity", async () => {
    const { guard } = setup();
    guard.check(request("/api/debates"), "GET", "/api/debates", user);
    guard.check(request("/api/auth/sign-in"), "POST", "/api/auth/sign-in", undefined);
    expect(await guard.nearest(10)).toEqual([
      { policy: "auth", caller: { kind: "ip", ip: "unknown" }, remaining: 0, limit: 1 },
      { policy: "api", caller: { kind: "user", user_id: "u-1" }, remaining: 1, limit: 2 },
    ]);
    expect(await guard.nearest(1)).toHaveLength(1);
  });
});
