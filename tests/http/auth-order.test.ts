/**
 * Authentication comes first: every route the OpenAPI document marks with a security requirement
 * (every route but the public ones), asked without a token (or with a wrong one) and with a bad
 * body, bad query and bad path parameters, answers 401 (403 on /api/admin while the admin API is
 * off) and says nothing about the body or the schema: never a 400, 413, 415 or 422. A path that
 * does not exist answers the same 401, so a caller without credentials learns nothing of the
 * routes. Spellings of a protected path that the router could match do not slip past the check.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isPublicRoute } from "../../runtime/http/public-routes.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

const TOKEN = "test-admin-token-0123456789";
let server: TestServer;
let operations: Operation[];

interface Operation {
  method: string;
  path: string;
  secured: boolean;
  hasBody: boolean;
  query: string[];
}

/** Every operation of the served OpenAPI document. */
async function operationsOf(api: string): Promise<Operation[]> {
  const doc = (await (await fetch(`${api}/swagger/json`)).json()) as {
    paths: Record<
      string,
      Record<string, { security?: unknown[]; requestBody?: unknown; parameters?: { name: string; in: string }[] }>
    >;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      secured: (op.security?.length ?? 0) > 0,
      hasBody: op.requestBody !== undefined,
      query: (op.parameters ?? []).filter((p) => p.in === "query").map((p) => p.name),
    })),
  );
}

/** The operation's URL with every path parameter and query parameter given a value no schema accepts. */
function badUrl(api: string, op: Operation): string {
  const path = op.path.replace(/\{[^}]+\}/g, "%00..%2Fnot-an-id");
  const query = op.query.map((q) => `${q}=LOUD%00`).join("&");
  return `${api}${path}${query ? `?${query}` : ""}`;
}

/** Bodies that would each get a 4xx of their own from the gate or the schema. */
const BAD_BODIES: [string, Record<string, string>][] = [
  ['{"level":"LOUD","zzz":1,"playbook":{"name":"/etc/passwd"}}', { "content-type": "application/json" }],
  ['{"level": ', { "content-type": "application/json" }],
  [`${"[".repeat(10_000)}${"]".repeat(10_000)}`, { "content-type": "application/json" }],
  ['{"level":"\\ud800"}', { "content-type": "application/json" }],
  ['{"level":"DEBUG"}', { "content-type": "text/plain" }],
  ["x".repeat(2_000_000), { "content-type": "application/json" }],
];

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN } });
  operations = await operationsOf(server.api);
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

test("the document marks every route but the public ones as secured", () => {
  const secured = operations.filter((o) => o.secured);
  expect(secured.length).toBeGreaterThanOrEqual(25);
  for (const op of operations) {
    expect({ route: `${op.method} ${op.path}`, secured: op.secured }).toEqual({
      route: `${op.method} ${op.path}`,
      secured: !isPublicRoute(op.method, op.path.replace(/\{([^}]+)\}/g, ":$1")),
    });
  }
});

describe("every secured route refuses a caller without the token before looking at anything else", () => {
  const cases: [string, Record<string, string>][] = [
    ["no token", {}],
    ["a wrong token", { authorization: "Bearer wrong-token-0123456789abc" }],
    ["another scheme", { authorization: `Basic ${btoa(`admin:${TOKEN}`)}` }],
  ];
  for (const [name, auth] of cases) {
    test(`${name}: 401 with WWW-Authenticate on every route, whatever the body, query and path`, async () => {
      const secured = operations.filter((o) => o.secured);
      for (const op of secured) {
        const bodies = op.hasBody || op.method !== "GET" ? BAD_BODIES : [[undefined, {}] as const];
        for (const [body, headers] of bodies) {
          const res = await fetch(badUrl(server.api, op), {
            method: op.method,
            headers: { ...headers, ...auth },
            body,
          });
          const text = await res.text();
          expect({ route: `${op.method} ${op.path}`, status: res.status }).toEqual({
            route: `${op.method} ${op.path}`,
            status: 401,
          });
          expect(res.headers.get("www-authenticate")).toContain("Bearer");
          const error = JSON.parse(text) as { error: string; details?: unknown };
          expect(error.error).toBe("unauthorized");
          expect(error.details).toBeUndefined();
        }
      }
    });
    test(`${name}: a path that does not exist answers the same 401, whatever the method`, async () => {
      for (const [method, path] of [
        ["GET", "/api/nope"],
        ["POST", "/api/admin/nope"],
        ["DELETE", "/api/debates"],
        ["GET", "/nothing/here"],
        ["PUT", "/api/health/nope"],
      ] as const) {
        const res = await fetch(`${server.api}${path}`, { method, headers: auth });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 });
        expect(((await res.json()) as { error: string }).error).toBe("unauthorized");
      }
      expect((await server.fetch("/api/nope")).status).toBe(404);
    });
  }

  test("with the token, the same bad input reaches the checks (so the walk above tested the guard)", async () => {
    const res = await fetch(`${server.api}/api/admin/log-level`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: `Bearer ${TOKEN}` },
      body: '{"level":"LOUD"}',
    });
    expect(res.status).toBe(422);
    const query = await fetch(`${server.api}/api/ops/runs?limit=LOUD`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(query.status).toBe(422);
  });
});

test("spellings of a protected path never reach its handler without the token", async () => {
  const spellings = [
    "/api/admin/log-level/",
    "/api/admin//log-level",
    "/api/admin/./log-level",
    "/api/debates/../admin/log-level",
    "/api/%61dmin/log-level",
    "/api/admin/%6Cog-level",
    "/API/admin/log-level",
    "//api/admin/log-level",
    "/api/admin/log-level?x=/api/health",
    "/api/ops/runs/",
    "/api/ops/../ops/runs",
  ];
  for (const path of spellings) {
    const res = await fetch(`${server.api}${path}`, {
      method: path.includes("log-level") ? "PUT" : "GET",
      headers: { "content-type": "application/json" },
      body: path.includes("log-level") ? '{"level":"ERROR"}' : undefined,
    });
    expect({ path, status: res.status }).toEqual({ path, status: res.status === 404 ? 404 : 401 });
  }
  // Whatever happened above, the level was never changed.
  const level = await fetch(`${server.api}/api/admin/log-level`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(await level.json()).toEqual({ level: "DEBUG" });
});

test("with the admin API off, the admin routes answer 403 before anything else; the others still 401", async () => {
  const off = await startTestServer({ operatorToken: null });
  try {
    for (const op of (await operationsOf(off.api)).filter((o) => o.secured)) {
      const res = await fetch(badUrl(off.api, op), {
        method: op.method,
        headers: { "content-type": "application/json" },
        body: op.method === "GET" ? undefined : '{"level":"LOUD"}',
      });
      expect({ route: `${op.method} ${op.path}`, status: res.status }).toEqual({
        route: `${op.method} ${op.path}`,
        status: op.path.startsWith("/api/admin/") ? 403 : 401,
      });
    }
  } finally {
    await off.stop();
  }
});
