import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import pkg from "../../package.json" with { type: "json" };
import { startTestServer, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

describe("health", () => {
  test("GET /api/health reports healthy, the package version and uptime in seconds", async () => {
    const res = await server.fetch(`/api/health`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({ status: "healthy", version: pkg.version, uptime: expect.any(Number) });
    expect(body.uptime as number).toBeGreaterThanOrEqual(0);
  });

  test("GET /api/health/ws counts connected clients", async () => {
    const before = (await (await server.fetch(`/api/health/ws`)).json()) as { clients: number };
    expect(before).toMatchObject({ status: "healthy" });
    expect(typeof before.clients).toBe("number");
    const ws = new WebSocket(server.ws, { headers: server.authHeaders });
    await new Promise((r) => (ws.onopen = r));
    const during = (await (await server.fetch(`/api/health/ws`)).json()) as { clients: number };
    expect(during.clients).toBe(before.clients + 1);
    ws.close();
  });
});

describe("GET /api/metrics", () => {
  test("serves Prometheus text with process defaults, websocket gauge and HTTP histogram", async () => {
    await server.fetch(`/api/health`);
    const res = await server.fetch(`/api/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    expect(text).toContain("# TYPE process_cpu_user_seconds_total counter");
    expect(text).toContain("# TYPE aragora_websocket_connections gauge");
    // Left out on purpose: collecting it walks the whole heap on every scrape under Bun.
    expect(text.includes("nodejs_heap_space_size")).toBe(false);
    expect(text).toMatch(/aragora_http_request_duration_seconds_bucket\{[^}]*route="\/api\/health"[^}]*status="200"/);
  });

  test("/metrics, where the runbook and Prometheus' default metrics_path look, serves the same exposition", async () => {
    const res = await server.fetch(`/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    expect(await res.text()).toContain("# TYPE aragora_websocket_connections gauge");
  });

  test("unknown routes are counted under one label, not one series per path", async () => {
    await server.fetch(`/api/does-not-exist-${crypto.randomUUID()}`);
    const text = await (await server.fetch(`/api/metrics`)).text();
    const series = text.split("\n").filter((l) => l.startsWith("aragora_http_request_duration_seconds_count"));
    expect(series.some((l) => /\{method="GET",route="unmatched",status="404"\} \d+$/.test(l))).toBe(true);
    expect(text.includes("does-not-exist")).toBe(false);
  });
});

describe("OpenAPI and Swagger UI", () => {
  test("/swagger/json is OpenAPI 3.1 and every route has a summary, a tag and a response schema", async () => {
    const res = await server.fetch(`/swagger/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as {
      openapi: string;
      info: { version: string };
      paths: Record<string, Record<string, { summary?: string; tags?: string[]; responses?: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toStartWith("3.1");
    expect(doc.info.version).toBe(pkg.version);
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([m, op]) => ({ path, m, op })),
    );
    expect(operations.map((o) => o.path)).toEqual(
      expect.arrayContaining([
        "/api/health",
        "/api/health/ws",
        "/api/ws/stats",
        "/api/metrics",
        "/api/admin/log-level",
      ]),
    );
    for (const { path, m, op } of operations) {
      expect({ path, m, summary: typeof op.summary }).toEqual({ path, m, summary: "string" });
      expect(op.tags?.length ?? 0).toBeGreaterThan(0);
      expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0);
    }
    const put = doc.paths["/api/admin/log-level"]?.put as {
      requestBody?: { content?: Record<string, { schema?: unknown }> };
    };
    expect(JSON.stringify(put.requestBody)).toContain("WARNING");
  });

  test("/swagger loads its assets from this server, not a CDN", async () => {
    const html = await (await server.fetch(`/swagger`)).text();
    expect(html).toContain("/swagger/assets/swagger-ui-bundle.js");
    expect(html).not.toMatch(/https?:\/\/(unpkg|cdn|jsdelivr)/);
    const js = await server.fetch(`/swagger/assets/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(100_000);
    const css = await server.fetch(`/swagger/assets/swagger-ui.css`);
    expect(css.status).toBe(200);
    expect((await server.fetch(`/swagger/assets/..%2Fpackage.json`)).status).toBe(404);
  });
});

describe("X-Request-ID", () => {
  test("a valid id is honoured, echoed and bound to the request's log line", async () => {
    const id = `test-${crypto.randomUUID()}`;
    const res = await server.fetch(`/api/ws/stats`, { headers: { "X-Request-ID": id } });
    expect(res.headers.get("x-request-id")).toBe(id);
    const line = await server.waitForLog((l) => l.request_id === id && l.msg === "request");
    expect(line).toMatchObject({
      method: "GET",
      path: "/api/ws/stats",
      route: "/api/ws/stats",
      status: 200,
      level: "INFO",
    });
  });

  test("probe routes (health, metrics) log at DEBUG so load balancers do not drown the log", async () => {
    const id = `probe-${crypto.randomUUID()}`;
    await server.fetch(`/api/health`, { headers: { "X-Request-ID": id } });
    const line = await server.waitForLog((l) => l.request_id === id && l.msg === "request");
    expect(line).toMatchObject({ path: "/api/health", status: 200, level: "DEBUG" });
  });

  test("a missing or malformed id is replaced by a generated one", async () => {
    const none = await server.fetch(`/api/health`);
    expect(none.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await server.fetch(`/api/health`, { headers: { "X-Request-ID": "has spaces and {braces}" } });
    const generated = bad.headers.get("x-request-id");
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    await server.waitForLog((l) => l.request_id === generated);
  });

  test("error responses carry the id in the header and the body", async () => {
    const id = `err-${crypto.randomUUID()}`;
    const res = await server.fetch(`/api/nope`, { headers: { "X-Request-ID": id } });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-request-id")).toBe(id);
    expect(await res.json()).toEqual({ error: "not_found", message: "no route GET /api/nope", request_id: id });
    const line = await server.waitForLog((l) => l.request_id === id && l.msg === "request");
    expect(line.status).toBe(404);
  });
});
