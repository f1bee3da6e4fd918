/**
 * Hostile JSON at the edge every body passes the shell's gate before it is parsed
 * or validated. Deep nesting is refused fast (400) on every route that takes a body, public or not,
 * while /api/health keeps answering; a body that is not application/json is 415 (a cross-site form
 * cannot create a debate); lone surrogates, NUL and non-finite numbers are 422 naming the field;
 * unknown fields are 422 naming them; metadata has limits; WebSocket messages get the same rules; a URL
 * holding a NUL or bytes that are not UTF-8 is 400 before routing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestServer, type TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable } from "../support/services.ts";

const TOKEN = "test-admin-token-0123456789";
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN, ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

type ErrorBody = { error: string; message: string; details?: { field: string; rule: string }[] };
const JSON_TYPE = { "content-type": "application/json" };
const ADMIN = { ...JSON_TYPE, authorization: `Bearer ${TOKEN}` };

function send(path: string, body: RequestInit["body"], headers: Record<string, string> = JSON_TYPE, method = "POST") {
  return server.fetch(`${path}`, { method, headers, body });
}
const createDebate = (body: RequestInit["body"], headers?: Record<string, string>) =>
  send("/api/debates", body, headers);

/** `[[[...]]]`, 50,000 levels: 100 KB, well under the size limit. */
const DEEP = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;

describe("deep nesting is refused before anything walks it", () => {
  const routes: [string, string, Record<string, string>][] = [
    ["POST", "/api/debates", JSON_TYPE],
    ["PUT", "/api/admin/log-level", ADMIN],
    ["POST", "/api/ops/runs", ADMIN],
    ["POST", "/api/ops/runs/r-20260101-0123abcd/resume", ADMIN],
    ["POST", "/api/ops/runs/r-20260101-0123abcd/steps/go/approve", ADMIN],
    ["POST", "/api/admin/schedulers/backup/run", ADMIN],
  ];
  for (const [method, path, headers] of routes) {
    test(`${method} ${path}: 400 body_too_deep within a second`, async () => {
      const started = performance.now();
      const res = await send(path, DEEP, headers, method);
      const ms = performance.now() - started;
      expect(res.status).toBe(400);
      expect(((await res.json()) as ErrorBody).error).toBe("body_too_deep");
      expect(ms).toBeLessThan(1000);
    });
  }

  test("object nesting just past the limit is refused; at the limit the schema decides", async () => {
    const nest = (levels: number) => `${'{"a":'.repeat(levels - 1)}{}${"}".repeat(levels - 1)}`;
    expect((await createDebate(`{"question":"q","metadata":${nest(32)}}`)).status).toBe(400);
    const atLimit = await createDebate(`{"question":"q","metadata":${nest(31)}}`);
    expect(atLimit.status).toBe(422);
    expect(((await atLimit.json()) as ErrorBody).details?.[0]?.field).toBe("body.metadata");
  });

  test("a chunked body (no Content-Length) is scanned the same way", async () => {
    const stream = new ReadableStream({
      start(c) {
        c.enqueue(new TextEncoder().encode(DEEP));
        c.close();
      },
    });
    const res = await createDebate(stream);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toBe("body_too_deep");
  });

  test("/api/health answers throughout a stream of deep bodies", async () => {
    let stop = false;
    const attack = (async () => {
      let sent = 0;
      while (!stop) {
        await Promise.all(Array.from({ length: 4 }, () => createDebate(DEEP).then((r) => r.arrayBuffer())));
        sent += 4;
      }
      return sent;
    })();
    const waits: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const res = await server.fetch(`/api/health`);
      waits.push(performance.now() - started);
      expect(res.status).toBe(200);
      await Bun.sleep(25);
    }
    stop = true;
    expect(await attack).toBeGreaterThan(0);
    expect(Math.max(...waits)).toBeLessThan(1000);
  });
});

describe("a playbook document nested deep is one problem at its position, found before the YAML parser", () => {
  const step = (withValue: string) =>
    `name: deep\nsteps:\n  - id: a\n    action: sleep\n    with: ${withValue}\n    timeout: 1s\n`;
  const block = (levels: number) =>
    `name: deep\nsteps:\n  - id: a\n    action: sleep\n    with:\n${Array.from({ length: levels }, (_, i) => `${" ".repeat(6 + i)}k:`).join("\n")} 1\n    timeout: 1s\n`;
  const cases: [string, string, string][] = [
    ["flow sequences, 5,000 levels", step(`${"[".repeat(5_000)}1${"]".repeat(5_000)}`), "deep.yml:5:"],
    ["flow maps, 20,000 levels", step(`${"{a: ".repeat(20_000)}1${"}".repeat(20_000)}`), "deep.yml:5:"],
    ["unclosed brackets", step("[".repeat(30_000)), "deep.yml:5:"],
    ["block maps, 200 levels", block(200), "deep.yml:"],
  ];
  test.each(cases)("%s: 422 in under a second, one diagnostic", async (_, source, where) => {
    const started = performance.now();
    const res = await send("/api/ops/runs", JSON.stringify({ playbook: { source, file: "deep.yml" } }), ADMIN);
    const text = await res.text();
    expect(performance.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(422);
    const body = JSON.parse(text) as ErrorBody;
    expect(body.error).toBe("invalid_playbook");
    expect(body.details).toHaveLength(1);
    expect(body.details?.[0]?.field).toStartWith(where);
    expect(body.details?.[0]?.rule).toBe("the document nests collections deeper than 32 levels");
    expect(text).not.toContain("call stack");
  });

  test("aliases with no anchor, inside their own anchor, or expanding without end: 422 at their position", async () => {
    let bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (let i = 1; i < 9; i++)
      bomb += `a${i}: &a${i} [${Array(10)
        .fill(`*a${i - 1}`)
        .join(", ")}]\n`;
    const cases: [string, string, string][] = [
      [step("*nowhere"), "alias.yml:5:11", "alias *nowhere has no anchor &nowhere before it"],
      [step("&w {duration: 1ms, self: *w}"), "alias.yml:5:36", "alias *w is inside the collection &w names"],
      [`${bomb}name: bomb\nsteps: *a8\n`, "alias.yml:2:", "resource exhaustion"],
    ];
    for (const [source, where, rule] of cases) {
      const res = await send("/api/ops/runs", JSON.stringify({ playbook: { source, file: "alias.yml" } }), ADMIN);
      expect(res.status).toBe(422);
      const body = (await res.json()) as ErrorBody;
      expect(body.details?.[0]?.field).toStartWith(where);
      expect(body.details?.[0]?.rule).toContain(rule);
    }
  });

  test("a document with thousands of syntax errors: the first 20 and a count, not a megabyte of them", async () => {
    const source = step(`${"[".repeat(30)}${"x: [\n".repeat(3_000)}`);
    const res = await send("/api/ops/runs", JSON.stringify({ playbook: { source, file: "broken.yml" } }), ADMIN);
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.details?.length).toBeLessThanOrEqual(21);
    expect(JSON.stringify(body).length).toBeLessThan(20_000);
  });
});

describe("only application/json bodies", () => {
  test("text/plain, a form, multipart or no Content-Type: 415, and no debate is created", async () => {
    const before = ((await (await server.fetch(`/api/debates?limit=200`)).json()) as { debates: unknown[] }).debates
      .length;
    const body = JSON.stringify({ question: "Created by a cross-site form?" });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const res = await createDebate(body, { "content-type": type });
      expect({ type, status: res.status }).toEqual({ type, status: 415 });
      const error = (await res.json()) as ErrorBody;
      expect(error.error).toBe("unsupported_media_type");
      expect(error.message).toContain("application/json");
    }
    const bare = await server.fetch(`/api/debates`, { method: "POST", body: new Blob([body]) });
    expect(bare.status).toBe(415);
    const after = ((await (await server.fetch(`/api/debates?limit=200`)).json()) as { debates: unknown[] }).debates
      .length;
    expect(after).toBe(before);
  });

  test("a form posted to a route without a body (cancel) is refused too; a bare POST is not", async () => {
    const form = await send("/api/debates/d-0/cancel", "", { "content-type": "application/x-www-form-urlencoded" });
    expect(form.status).toBe(415);
    const bare = await server.fetch(`/api/debates/d-0/cancel`, { method: "POST" });
    expect(bare.status).toBe(404);
  });

  test("application/json with a charset parameter is JSON", async () => {
    const res = await createDebate(JSON.stringify({ question: "Charset?", rounds: 1 }), {
      "content-type": "application/json; charset=utf-8",
    });
    expect(res.status).toBe(201);
  });
});

describe("values that cannot be kept as sent: 422 naming the field", () => {
  const refused = async (body: string, field: string, rule: string) => {
    const res = await createDebate(body);
    const error = (await res.json()) as ErrorBody;
    expect({ status: res.status, error: error.error }).toEqual({ status: 422, error: "validation_failed" });
    expect(error.details).toContainEqual({ field, rule: expect.stringContaining(rule) });
    expect(error.message).toContain(field);
  };

  test("a lone surrogate, escaped or in a key", async () => {
    await refused('{"question":"\\ud800"}', "body.question", "lone surrogate (U+D800)");
    await refused('{"question":"ok \\udfff"}', "body.question", "well-formed Unicode");
    await refused('{"question":"q","metadata":{"\\ud83d":1}}', "body.metadata", "keys must be well-formed Unicode");
  });

  test("a non-finite number (1e309 parses to Infinity)", async () => {
    await refused('{"question":"q","budget":{"max_cost_usd":1e309}}', "body.budget.max_cost_usd", "finite number");
    await refused('{"question":"q","timeouts":{"turn_s":-1e400}}', "body.timeouts.turn_s", "finite number");
  });

  test("NUL characters", async () => {
    await refused('{"question":"before\\u0000after"}', "body.question", "NUL");
    await refused('{"question":"q","agents":["demo:alice","demo:bob\\u0000"]}', "body.agents.1", "NUL");
  });

  test("bytes that are not UTF-8: 400", async () => {
    const bytes = new Uint8Array([...new TextEncoder().encode('{"question":"'), 0xed, 0xa0, 0x80, 0x22, 0x7d]);
    const res = await createDebate(bytes);
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).message).toContain("UTF-8");
  });

  test("turn_s below 0.1 s, a metadata array, a since that is not a date", async () => {
    await refused('{"question":"q","timeouts":{"turn_s":1e-300}}', "body.timeouts.turn_s", "at least 0.1");
    await refused('{"question":"q","metadata":[1,2]}', "body.metadata", "not an array");
    for (const since of ["-1", "tomorrow", "2026-13-45"]) {
      const res = await server.fetch(`/api/debates?since=${since}`);
      expect(res.status).toBe(422);
      expect(((await res.json()) as ErrorBody).details?.[0]?.field).toBe("query.since");
    }
    expect((await server.fetch(`/api/debates?since=2026-01-31`)).status).toBe(200);
    expect((await server.fetch(`/api/debates?since=2026-01-31T12:00:00Z`)).status).toBe(200);
  });
});

describe("URLs: a NUL or bytes that are not UTF-8 are refused before routing (400 malformed_url)", () => {
  const cases: [string, string][] = [
    ["/api/debates?agent=%00", 'query parameter "agent" holds a NUL'],
    ["/api/debates?agent=a%00b&limit=5", 'query parameter "agent" holds a NUL'],
    ["/api/debates/export?agent=%ED%A0%80", 'query parameter "agent" is not valid percent-encoded UTF-8'],
    ["/api/debates?since=%zz", 'query parameter "since" is not valid percent-encoded UTF-8'],
    ["/api/debates/d-1%00", "the path holds a NUL"],
    ["/api/debates/%C0%AF", "the path is not valid percent-encoded UTF-8"],
  ];
  test.each(cases)("%s", async (path, message) => {
    const res = await server.fetch(`${path}`);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toBe("malformed_url");
    expect(body.message).toContain(message);
  });

  test("percent-encoded UTF-8 and a literal % (%25) still work", async () => {
    expect((await server.fetch(`/api/debates?agent=%F0%9F%98%80`)).status).toBe(200);
    expect((await server.fetch(`/api/debates?agent=50%25`)).status).toBe(200);
  });
});

describe.skipIf(!(await postgresAvailable()))("on PostgreSQL, which refuses NUL in any text", () => {
  test("a NUL in a query or path parameter is a 400, not a 500 (nor an export cut off)", async () => {
    const db = await createTempPostgresDatabase();
    const pg = await startTestServer({ env: { DATABASE_URL: db.url, ARAGORA_API_TOKEN: TOKEN } });
    try {
      for (const path of ["/api/debates?agent=%00", "/api/debates/export?agent=a%00b"]) {
        const res = await pg.fetch(`${path}`);
        expect({ path, status: res.status }).toEqual({ path, status: 400 });
      }
      const approve = await fetch(`${pg.api}/api/ops/runs/r-20260101-0123abcd/steps/%00/approve`, {
        method: "POST",
        headers: ADMIN,
        body: "{}",
      });
      expect(approve.status).toBe(400);
      const nul = await pg.fetch(`/api/debates`, {
        method: "POST",
        headers: JSON_TYPE,
        body: JSON.stringify({ question: "q", metadata: { k: "a\u0000b" } }),
      });
      expect(nul.status).toBe(422);
    } finally {
      await pg.stop();
      await db.drop();
    }
  });
});

describe("unknown fields are named, not dropped", () => {
  test("at the top, nested, and __proto__", async () => {
    const res = await createDebate('{"question":"q","zzz":1,"budget":{"max_tokens":5,"cap":1},"__proto__":{"x":1}}');
    expect(res.status).toBe(422);
    const { details } = (await res.json()) as ErrorBody;
    expect(details).toContainEqual({ field: "body.zzz", rule: 'unknown key "zzz"' });
    expect(details).toContainEqual({ field: "body.budget.cap", rule: 'unknown key "cap"' });
    expect(details).toContainEqual({ field: "body.__proto__", rule: 'unknown key "__proto__"' });
  });

  test("on the admin and ops bodies too", async () => {
    const level = await send("/api/admin/log-level", '{"level":"INFO","persist":true}', ADMIN, "PUT");
    expect(level.status).toBe(422);
    expect(((await level.json()) as ErrorBody).details).toContainEqual({
      field: "body.persist",
      rule: 'unknown key "persist"',
    });
    const run = await send("/api/ops/runs", '{"playbook":{"name":"backup"},"dry_run":true,"force":1}', ADMIN);
    expect(run.status).toBe(422);
    expect(((await run.json()) as ErrorBody).details).toContainEqual({
      field: "body.force",
      rule: 'unknown key "force"',
    });
  });
});

describe("metadata has limits (depth 8, 256 keys, 16384 bytes) and comes back as sent", () => {
  const nested = (levels: number): unknown => (levels === 1 ? { leaf: "x" } : { next: nested(levels - 1) });

  test("within the limits: stored and read back unchanged", async () => {
    const metadata = { ticket: "OPS-12", deep: nested(7), tags: ["a", "b"], n: 1.5 };
    const res = await createDebate(JSON.stringify({ question: "Metadata?", rounds: 1, metadata }));
    expect(res.status).toBe(201);
    const { debate_id } = (await res.json()) as { debate_id: string };
    const record = (await (await server.fetch(`/api/debates/${debate_id}`)).json()) as Record<string, unknown>;
    expect(record.metadata).toEqual(metadata);
    expect(record.metadata_error).toBeUndefined();
  });

  test("past any limit: 422 naming body.metadata and the limit", async () => {
    const keys = Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`k${i}`, i]));
    const cases: [unknown, string][] = [
      [nested(9), "at most 8 levels"],
      [keys, "at most 256 keys"],
      [{ blob: "x".repeat(16_400) }, "at most 16384 bytes"],
    ];
    for (const [metadata, rule] of cases) {
      const res = await createDebate(JSON.stringify({ question: "q", metadata }));
      expect(res.status).toBe(422);
      expect(((await res.json()) as ErrorBody).details).toContainEqual({
        field: "body.metadata",
        rule: expect.stringContaining(rule),
      });
    }
  });
});

describe("WebSocket messages get the same rules", () => {
  test("deep nesting, a lone surrogate, a non-finite number: an error naming the field; the socket stays", async () => {
    for (const url of [server.ws, server.wsApi]) {
      const socket = await server.socket(url);
      const cases: [string, string][] = [
        [`{"type":"subscribe","debate_id":"d-1","x":${"[".repeat(20_000)}${"]".repeat(20_000)}}`, "message.x"],
        ['{"type":"subscribe","debate_id":"d-\\ud800"}', "message.debate_id: must be well-formed Unicode"],
        ['{"type":"subscribe","debate_id":"d-1","since_seq":1e999}', "message.since_seq: must be a finite number"],
      ];
      for (const [frame, reason] of cases) {
        socket.ws.send(frame);
        const error = await socket.next((m) => m.type === "error");
        expect(error.code).toBe("invalid_message");
        expect(String(error.message)).toContain(reason);
      }
      socket.ws.send(JSON.stringify({ type: "ping" }));
      expect((await socket.next((m) => m.type === "pong")).type).toBe("pong");
      expect(socket.isClosed()).toBe(false);
      socket.ws.close();
    }
  });
});
