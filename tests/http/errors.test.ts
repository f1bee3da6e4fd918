import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";

const TOKEN = "test-admin-token-0123456789";
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      ARAGORA_API_TOKEN: TOKEN,
      ARAGORA_MAX_BODY_BYTES: "1024",
      ARAGORA_ALLOWED_ORIGINS: "https://console.example.com,http://localhost:3000",
    },
  });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

function put(body: string, headers: Record<string, string> = auth) {
  return fetch(`${server.api}/api/admin/log-level`, { method: "PUT", headers, body });
}

describe("error mapper", () => {
  test("unknown route: 404 JSON naming method and path", async () => {
    const res = await server.fetch(`/api/unknown/thing`, { method: "DELETE" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ error: "not_found", message: "no route DELETE /api/unknown/thing" });
  });

  test("malformed JSON: 400 without parser internals", async () => {
    const res = await put('{"level": ');
    expect(res.status).toBe(400);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe("malformed_body");
    expect(JSON.stringify(body)).not.toMatch(/at .*\.(ts|js):\d+|SyntaxError|stack/);
  });

  test("validation failure: 422 naming the field and the rule", async () => {
    const res = await put(JSON.stringify({ level: "LOUD" }));
    expect(res.status).toBe(422);
    const body = (await res.json()) as { error: string; details: { field: string; rule: string }[]; message: string };
    expect(body.error).toBe("validation_failed");
    expect(body.details).toEqual([{ field: "body.level", rule: expect.stringContaining('"DEBUG"') }]);
    expect(body.details[0]?.rule).toContain('(was "LOUD")');
    expect(body.message).toContain("body.level");
  });

  test("missing required field: 422 naming it", async () => {
    const res = await put(JSON.stringify({}));
    expect(res.status).toBe(422);
    const body = (await res.json()) as { details: { field: string; rule: string }[] };
    expect(body.details[0]).toMatchObject({ field: "body.level", rule: expect.stringContaining("must be") });
  });

  test("body over ARAGORA_MAX_BODY_BYTES: 413 JSON", async () => {
    const res = await put(JSON.stringify({ level: "INFO", padding: "x".repeat(2000) }));
    expect(res.status).toBe(413);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe("payload_too_large");
    expect(String(body.message)).toContain("1024");
  });
});

test("chunked body (no Content-Length) over the limit: 413 JSON; under it: accepted", async () => {
  const stream = (text: string) =>
    new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(text));
        c.close();
      },
    });
  const send = (text: string) =>
    fetch(`${server.api}/api/admin/log-level`, {
      method: "PUT",
      headers: auth,
      body: stream(text),
      duplex: "half",
    } as RequestInit);
  const big = await send(JSON.stringify({ level: "INFO", padding: "x".repeat(3000) }));
  expect(big.status).toBe(413);
  expect(((await big.json()) as Record<string, unknown>).error).toBe("payload_too_large");
  const small = await send(JSON.stringify({ level: "DEBUG" }));
  expect(small.status).toBe(200);
});

describe("admin API auth", () => {
  test("no credentials: 401 with WWW-Authenticate", async () => {
    const res = await fetch(`${server.api}/api/admin/log-level`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toContain("Bearer");
    expect(((await res.json()) as Record<string, unknown>).error).toBe("unauthorized");
  });

  test("wrong token: 401; right token: the level round-trips", async () => {
    const wrong = await fetch(`${server.api}/api/admin/log-level`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
    expect((await put(JSON.stringify({ level: "WARNING" }))).status).toBe(200);
    const now = await fetch(`${server.api}/api/admin/log-level`, { headers: auth });
    expect(await now.json()).toEqual({ level: "WARNING" });
    expect((await put(JSON.stringify({ level: "DEBUG" }))).status).toBe(200);
  });

  test("identity is never taken from a header alone: X-User-Roles admin without a token is refused", async () => {
    const res = await fetch(`${server.api}/api/admin/log-level`, {
      headers: { "X-User-ID": "u1", "X-User-Roles": "admin" },
    });
    expect(res.status).toBe(401);
  });

  test("the token is never written to the logs", async () => {
    await fetch(`${server.api}/api/admin/log-level`, { headers: auth });
    await Bun.sleep(50);
    expect(JSON.stringify(server.logs())).not.toContain(TOKEN);
  });
});

describe("CORS", () => {
  test("an allowed origin is echoed exactly, with Vary: Origin", async () => {
    const res = await server.fetch(`/api/health`, { headers: { origin: "https://console.example.com" } });
    expect(res.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    expect(res.headers.get("vary")).toContain("Origin");
  });

  test("another origin gets no allow header", async () => {
    const res = await server.fetch(`/api/health`, { headers: { origin: "https://evil.example.com" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("vary")).toContain("Origin");
  });

  test("preflight: allowed origin 204 with methods; denied origin 403", async () => {
    const ok = await fetch(`${server.api}/api/admin/log-level`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3000", "access-control-request-method": "PUT" },
    });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://localhost:3000");
    expect(ok.headers.get("access-control-allow-methods")).toContain("PUT");
    const denied = await fetch(`${server.api}/api/admin/log-level`, {
      method: "OPTIONS",
      headers: { origin: "http://localhost:3001", "access-control-request-method": "PUT" },
    });
    expect(denied.status).toBe(403);
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });
});

test("the admin API is off without ARAGORA_API_TOKEN", async () => {
  const other = await startTestServer({ operatorToken: null });
  try {
    const res = await fetch(`${other.api}/api/admin/log-level`, {
      headers: { authorization: "Bearer anything-at-all-here" },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as Record<string, unknown>).error).toBe("admin_disabled");
  } finally {
    expect(await other.stop()).toBe(0);
  }
});

describe("GET /api/admin/actors", () => {
  test("shows the supervised tree with mailbox depth and restart counts, and dead letters", async () => {
    const res = await fetch(`${server.api}/api/admin/actors?limit=5`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      tree: { path: string; children: { path: string; kind: string; mailboxDepth: number; restarts: number }[] };
      dead_letters: { total: number; recent: unknown[] };
    };
    expect(body.tree.path).toBe("/system");
    expect(body.tree.children).toContainEqual(
      expect.objectContaining({ path: "/system/node-heartbeat", kind: "node_heartbeat", mailboxDepth: 0, restarts: 0 }),
    );
    expect(body.dead_letters.total).toBeGreaterThanOrEqual(0);
    expect(Array.isArray(body.dead_letters.recent)).toBe(true);
  });

  test("a bad limit is a 422 naming query.limit", async () => {
    const res = await fetch(`${server.api}/api/admin/actors?limit=0`, { headers: auth });
    expect(res.status).toBe(422);
    const body = (await res.json()) as { details: { field: string }[] };
    expect(body.details[0]?.field).toBe("query.limit");
  });

  test("requires the admin token", async () => {
    expect((await fetch(`${server.api}/api/admin/actors`)).status).toBe(401);
  });
});
