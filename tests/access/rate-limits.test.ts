/**
 * Rate limits through real servers: a burst past an API key's bucket gets 429 with Retry-After
 * and the RateLimit fields, and goes through again once the bucket refills; one key's exhaustion
 * leaves another key (and a service key's spoofed X-User-ID) where they were; the ways in under
 * /api/auth/ are limited per client address whatever the account; X-Forwarded-For picks the
 * address only from a trusted proxy; with Redis two server processes share one budget; and
 * GET /api/system/rate-limits shows the callers nearest their limits, to the operator only.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import type { TestServer } from "../support/server.ts";
import { redisAvailable, TEST_REDIS_URL } from "../support/services.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  startAccessServer,
  usersCli,
} from "./support.ts";

interface CreatedKey {
  id: string;
  key: string;
  prefix: string;
  last_four: string;
}

interface RateLimitsBody {
  store: string;
  policies: { name: string; enabled: boolean; limit: number | null; window_s: number | null }[];
  nearest: {
    policy: string;
    caller: { kind: string; key_id?: string; key_hint?: string; org_id?: string; user_id?: string; ip?: string };
    remaining: number;
    limit: number;
  }[];
}

const servers: TestServer[] = [];
const start = async (env: Record<string, string>) => {
  const server = await startAccessServer({ env });
  servers.push(server);
  return server;
};

afterAll(async () => {
  const leaked = servers.flatMap((s) => noSecretsLogged(s, seenSecrets));
  await Promise.all(servers.map((s) => s.stop()));
  expect(leaked).toEqual([]);
});

/** An account made with `aragora users create` (no HTTP request, so no address budget spent). */
async function account(server: TestServer, role = "member"): Promise<{ email: string; id: string }> {
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const made = await usersCli(server, ["create", "--email", email, "--role", role], `${PASSWORD}\n`);
  if (made.code !== 0) throw new Error(`users create failed: ${made.stderr}`);
  return { email, id: made.stdout.trim() };
}

/** A refresh with a token that does not exist: a cheap request to a way in (401), no backoff involved. */
const bogusRefresh = (server: TestServer, headers: Record<string, string> = {}) =>
  call(server, "POST", "/api/auth/refresh", { body: { refresh_token: "ara_rt_not-a-real-token" }, headers });

const rateLimits = (server: TestServer, token?: string) =>
  call<RateLimitsBody>(server, "GET", "/api/system/rate-limits?limit=50", {
    token: token ?? (server.operatorToken as string),
  });

describe("per API key or user (ARAGORA_RATE_LIMIT_API=5/2)", () => {
  let server: TestServer;
  let owner: Session;
  let keyA: CreatedKey;
  let keyB: CreatedKey;
  let service: CreatedKey;

  beforeAll(async () => {
    server = await start({ ARAGORA_RATE_LIMIT_API: "5/2", ARAGORA_RATE_LIMIT_AUTH: "1000/60" });
    owner = await claimOwner(server);
    const make = async (body: Record<string, unknown>) => {
      const res = await call<CreatedKey>(server, "POST", "/api/auth/api-key", { token: owner.access_token, body });
      if (res.status !== 201) throw new Error(`api-key answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body;
    };
    // Three of the owner's five tokens.
    keyA = await make({ name: "a" });
    keyB = await make({ name: "b" });
    service = await make({ name: "svc", kind: "service" });
  });

  const burst = (key: string, n: number, headers: Record<string, string> = {}) =>
    Promise.all(Array.from({ length: n }, () => call(server, "GET", "/api/debates", { token: key, headers })));

  test("a burst past the bucket gets 429 with Retry-After and the RateLimit fields; the refill lets it through again", async () => {
    const answers = await burst(keyA.key, 8);
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok.length).toBe(5);
    expect(refused.length).toBe(3);
    expect(ok[0]?.headers.get("ratelimit-policy")).toBe('"api";q=5;w=2');
    expect(ok.map((a) => a.headers.get("ratelimit")).sort()).toEqual(
      ['"api";r=0;t=2', '"api";r=1;t=2', '"api";r=2;t=2', '"api";r=3;t=1', '"api";r=4;t=1'].sort(),
    );
    const no = refused[0] as (typeof refused)[number];
    expect(no.body).toMatchObject({ error: "rate_limited" });
    expect(String(no.body.message)).toMatch(/for this API key \(5 per 2 s\); retry in 1 s/);
    expect(no.headers.get("retry-after")).toBe("1");
    expect(no.headers.get("ratelimit-policy")).toBe('"api";q=5;w=2');
    expect(no.headers.get("ratelimit")).toMatch(/^"api";r=0;t=2$/);

    await Bun.sleep(Number(no.headers.get("retry-after")) * 1000);
    const again = await call(server, "GET", "/api/debates", { token: keyA.key });
    expect(again.status).toBe(200);
  });

  test("one key's exhaustion leaves another key's bucket, and the user's own, where they were", async () => {
    const drained = await burst(keyA.key, 8);
    expect(drained.some((a) => a.status === 429)).toBe(true);
    const other = await call(server, "GET", "/api/debates", { token: keyB.key });
    expect(other.status).toBe(200);
    expect(other.headers.get("ratelimit")).toBe('"api";r=4;t=1');
    const mine = await call(server, "GET", "/api/debates", { token: owner.access_token });
    expect(mine.status).toBe(200);
  });

  test("a service key acting for other users (X-User-ID) still spends its own bucket", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await account(server)).id);
    expect(ids.every((id) => id.startsWith("u-"))).toBe(true);
    const answers = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        call(server, "GET", "/api/debates", { token: service.key, headers: { "x-user-id": ids[i % 3] as string } }),
      ),
    );
    expect(answers.filter((a) => a.status === 200).length).toBe(5);
    expect(answers.filter((a) => a.status === 429).length).toBe(4);
  });

  test("the operator's token is not limited", async () => {
    const answers = await Promise.all(Array.from({ length: 12 }, () => server.fetch("/api/debates")));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(answers[0]?.headers.get("ratelimit")).toBeNull();
  });

  test("GET /api/system/rate-limits: the limits and the callers nearest them, without secrets, for the operator only", async () => {
    await burst(keyA.key, 8);
    await call(server, "GET", "/api/debates", { token: owner.access_token });
    const res = await rateLimits(server);
    expect(res.status).toBe(200);
    expect(res.body.store).toBe("memory");
    expect(res.body.policies).toEqual([
      { name: "api", per: "api_key_or_user", enabled: true, limit: 5, window_s: 2, env: "ARAGORA_RATE_LIMIT_API" },
      { name: "auth", per: "ip", enabled: true, limit: 1000, window_s: 60, env: "ARAGORA_RATE_LIMIT_AUTH" },
    ] as never);
    const first = res.body.nearest[0];
    expect(first).toMatchObject({ policy: "api", remaining: 0, limit: 5 });
    const keyRow = res.body.nearest.find((n) => n.caller.key_id === keyA.id);
    expect(keyRow?.caller).toEqual({
      kind: "api_key",
      key_id: keyA.id,
      key_hint: `${keyA.prefix}…${keyA.last_four}`,
      org_id: owner.organisation.id,
    });
    expect(res.body.nearest.some((n) => n.caller.kind === "user" && n.caller.user_id === owner.user.id)).toBe(true);
    const text = JSON.stringify(res.body);
    for (const k of [keyA, keyB, service]) expect(text.includes(k.key)).toBe(false);
    expect(text.includes(owner.access_token)).toBe(false);

    expect((await rateLimits(server, owner.access_token)).status).toBe(403);
    expect((await rateLimits(server, keyB.key)).status).toBe(403);
    const anonymous = await fetch(`${server.api}/api/system/rate-limits`);
    expect(anonymous.status).toBe(401);
  });
});

describe("per client address on the ways in (ARAGORA_RATE_LIMIT_AUTH=4/60)", () => {
  let server: TestServer;
  let emails: string[];
  let first: Session;

  beforeAll(async () => {
    // A proxy is configured, but the tests' peer (127.0.0.1) is not it.
    server = await start({ ARAGORA_RATE_LIMIT_AUTH: "4/60", ARAGORA_TRUSTED_PROXIES: "10.0.0.0/8" });
    emails = [];
    for (let i = 0; i < 5; i++) emails.push((await account(server)).email);
  });

  test("sign-ins for different accounts, with right passwords, share the address's budget", async () => {
    const answers = [];
    for (const email of emails.slice(0, 4)) {
      answers.push(await call<Session>(server, "POST", "/api/auth/sign-in", { body: { email, password: PASSWORD } }));
    }
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    first = (answers[0] as (typeof answers)[number]).body;
    expect(answers[0]?.headers.get("ratelimit-policy")).toBe('"auth";q=4;w=60');
    expect(answers[0]?.headers.get("ratelimit")).toMatch(/^"auth";r=3;t=1[45]$/);
    // The fifth account has never signed in, let alone failed: this is the address's limit, not the backoff.
    const fifth = await call(server, "POST", "/api/auth/sign-in", { body: { email: emails[4], password: PASSWORD } });
    expect(fifth.status).toBe(429);
    expect(fifth.body).toMatchObject({ error: "rate_limited" });
    expect(String(fifth.body.message)).toMatch(/to the sign-in routes from this address \(4 per 60 s\)/);
    expect(Number(fifth.headers.get("retry-after"))).toBeGreaterThanOrEqual(14);
    expect(fifth.headers.get("ratelimit")).toMatch(/^"auth";r=0;t=\d+$/);
    // Every way in under /api/auth/ is behind the same bucket.
    expect((await bogusRefresh(server)).status).toBe(429);
  });

  test("an X-Forwarded-For from a peer that is not a trusted proxy does not change the bucket", async () => {
    for (const forwarded of ["203.0.113.7", "198.51.100.1, 203.0.113.8", "10.0.0.1"]) {
      const res = await bogusRefresh(server, { "x-forwarded-for": forwarded });
      expect({ forwarded, status: res.status }).toEqual({ forwarded, status: 429 });
    }
    const view = await rateLimits(server);
    expect(view.body.nearest.filter((n) => n.policy === "auth").map((n) => n.caller)).toEqual([
      { kind: "ip", ip: "127.0.0.1" },
    ]);
  });

  test("a signed-in caller's reads, there and elsewhere, do not spend the address's budget", async () => {
    const me = await call(server, "GET", "/api/auth/me", { token: first.access_token });
    expect(me.status).toBe(200);
    expect(me.headers.get("ratelimit")).toMatch(/^"api";/);
    expect((await call(server, "GET", "/api/debates", { token: first.access_token })).status).toBe(200);
  });
});

describe("through a trusted proxy (ARAGORA_TRUSTED_PROXIES=127.0.0.1,::1)", () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await start({ ARAGORA_RATE_LIMIT_AUTH: "2/60", ARAGORA_TRUSTED_PROXIES: "127.0.0.1,::1" });
  });

  test("the client the proxy names has its own bucket; another client behind the same proxy is not affected", async () => {
    const client = { "x-forwarded-for": "198.51.100.20" };
    expect((await bogusRefresh(server, client)).status).toBe(401);
    expect((await bogusRefresh(server, client)).status).toBe(401);
    // A client's own X-Forwarded-For comes first; the proxy appends the address it saw.
    expect((await bogusRefresh(server, { "x-forwarded-for": "203.0.113.99, 198.51.100.20" })).status).toBe(429);
    expect((await bogusRefresh(server, { "x-forwarded-for": "198.51.100.21" })).status).toBe(401);
    const view = await rateLimits(server);
    expect(view.body.nearest[0]).toEqual({
      policy: "auth",
      caller: { kind: "ip", ip: "198.51.100.20" },
      remaining: 0,
      limit: 2,
    });
  });

  test("refused credentials on any route take from the address's budget; no credentials at all do not", async () => {
    const guess = (client: string) =>
      call(server, "GET", "/api/debates", {
        token: `ara_live_${"x".repeat(43)}`,
        headers: { "x-forwarded-for": client },
      });
    expect((await guess("198.51.100.50")).status).toBe(401);
    expect((await guess("198.51.100.50")).status).toBe(401);
    const limited = await guess("198.51.100.50");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
    expect((await guess("198.51.100.51")).status).toBe(401);
    // A forged access token is a guess too.
    const forged = (client: string) =>
      call(server, "GET", "/api/debates", {
        token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTEifQ.c2lnbmF0dXJl",
        headers: { "x-forwarded-for": client },
      });
    expect((await forged("198.51.100.51")).status).toBe(401);
    expect((await forged("198.51.100.51")).status).toBe(429);
    for (let i = 0; i < 3; i++) {
      const res = await call(server, "GET", "/api/debates", { headers: { "x-forwarded-for": "198.51.100.52" } });
      expect(res.status).toBe(401);
    }
  });

  test("IPv6 clients are counted by their /64: new addresses in one /64 do not buy a new budget", async () => {
    expect((await bogusRefresh(server, { "x-forwarded-for": "2001:db8:7:7::1" })).status).toBe(401);
    expect((await bogusRefresh(server, { "x-forwarded-for": "2001:db8:7:7::2" })).status).toBe(401);
    expect((await bogusRefresh(server, { "x-forwarded-for": "2001:db8:7:7:ffff:1:2:3" })).status).toBe(429);
    // The next /64 is another subscriber.
    expect((await bogusRefresh(server, { "x-forwarded-for": "2001:db8:7:8::1" })).status).toBe(401);
    const view = await rateLimits(server);
    expect(view.body.nearest).toContainEqual({
      policy: "auth",
      caller: { kind: "ip", ip: "2001:db8:7:7::/64" },
      remaining: 0,
      limit: 2,
    });
  });
});

const redis = await redisAvailable();

describe.skipIf(!redis)("shared by two server processes through Redis (ARAGORA_REDIS_URL)", () => {
  const prefix = `aragora-test-${crypto.randomUUID()}:`;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    const env = {
      ARAGORA_REDIS_URL: TEST_REDIS_URL,
      ARAGORA_REDIS_KEY_PREFIX: prefix,
      ARAGORA_RATE_LIMIT_AUTH: "4/60",
    };
    a = await start(env);
    b = await start(env);
  });

  afterAll(async () => {
    const client = new Redis(TEST_REDIS_URL);
    const keys = await client.keys(`${prefix}*`);
    if (keys.length > 0) await client.del(...keys);
    await client.quit();
  });

  test("one address gets one budget across both nodes", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await bogusRefresh(i % 2 === 0 ? a : b)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
    const view = await rateLimits(b);
    expect(view.body.store).toBe("redis");
    expect(view.body.nearest).toEqual([
      { policy: "auth", caller: { kind: "ip", ip: "127.0.0.1" }, remaining: 0, limit: 4 },
    ]);
  });
});
