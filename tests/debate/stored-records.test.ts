/**
 * Records stored before the body gate a debate whose metadata nests 40,000
 * levels, as earlier versions accepted, no longer makes its record, its export or the list export
 * fail for everyone; that one record withholds its metadata and says why. And an export that does
 * break off mid-stream is logged as failed and ends so the client can tell: no clean end of body.
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";

const dataDir = tempDir();
let server: TestServer;
let deep: string;
let plain: string;

const start = () => startTestServer({ dataDir, env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });

/** Edit core.db while no server has it open (the tests' stand-in for data an earlier version stored). */
function withDatabase(edit: (db: Database) => void) {
  const db = new Database(join(dataDir, "core.db"));
  try {
    edit(db);
  } finally {
    db.close();
  }
}

async function finishedDebate(question: string): Promise<string> {
  const res = await server.fetch(`/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ question, rounds: 1, metadata: { note: "x" } }),
  });
  expect(res.status).toBe(201);
  const { debate_id } = (await res.json()) as { debate_id: string };
  for (let i = 0; i < 400; i++) {
    const record = (await (await server.fetch(`/api/debates/${debate_id}`)).json()) as { status: string };
    if (record.status !== "running") return debate_id;
    await Bun.sleep(50);
  }
  throw new Error(`${debate_id} did not finish`);
}

beforeAll(async () => {
  server = await start();
  deep = await finishedDebate("Deep metadata?");
  plain = await finishedDebate("Plain metadata?");
  expect(await server.stop()).toBe(0);
  // 40,000 levels, about 240 KB: what POST /api/debates accepted before metadata had limits.
  const metadata = `${'{"a":'.repeat(40_000)}1${"}".repeat(40_000)}`;
  withDatabase((db) => db.run("UPDATE debates SET metadata = ? WHERE id = ?", [metadata, deep]));
  server = await start();
});
afterAll(async () => {
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("the record with too-deep stored metadata reads, and says its metadata is withheld", async () => {
  const res = await server.fetch(`/api/debates/${deep}`);
  expect(res.status).toBe(200);
  const record = (await res.json()) as Record<string, unknown>;
  expect(record.question).toBe("Deep metadata?");
  expect(record.metadata).toBeNull();
  expect(String(record.metadata_error)).toContain("deeper than 32 levels");
  const other = (await (await server.fetch(`/api/debates/${plain}`)).json()) as Record<string, unknown>;
  expect(other.metadata).toEqual({ note: "x" });
  expect(other.metadata_error).toBeUndefined();
});

test("its own export and the list export answer whole, every record in them", async () => {
  const single = await server.fetch(`/api/debates/${deep}/export?format=json`);
  expect(single.status).toBe(200);
  const exported = (await single.json()) as { debate: { metadata: unknown }; events: unknown[] };
  expect(exported.debate.metadata).toBeNull();
  expect(exported.events.length).toBeGreaterThan(5);
  for (const format of ["json", "jsonl", "csv", "md"]) {
    const res = await server.fetch(`/api/debates/export?format=${format}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect({ format, deep: text.includes(deep), plain: text.includes(plain) }).toEqual({
      format,
      deep: true,
      plain: true,
    });
  }
  const list = (await (await server.fetch(`/api/debates/export?format=json`)).json()) as {
    debates: { debate_id: string; metadata: unknown }[];
  };
  expect(list.debates.map((d) => d.debate_id).sort()).toEqual([deep, plain].sort());
});

test("an export that breaks off mid-stream: the client sees a cut-off body, the log says it failed", async () => {
  await server.stop();
  // 300 more debates (a page is 200) and, oldest of all, one whose stored configuration is not JSON:
  // the first page goes out, then reading the second fails.
  withDatabase((db) => {
    const insert = db.prepare(
      "INSERT INTO debates (id, user_id, org_id, workspace_id, question, config, metadata, status, stop_reason, error, consensus, baseline, summary, last_seq, elo_applied, created_at, updated_at, finished_at) SELECT ?, user_id, org_id, workspace_id, question, config, metadata, status, stop_reason, error, consensus, baseline, summary, last_seq, elo_applied, created_at - ?, updated_at, finished_at FROM debates WHERE id = ?",
    );
    db.transaction(() => {
      for (let i = 1; i <= 300; i++) insert.run(`d-copy-${String(i).padStart(3, "0")}`, i * 1000, plain);
    })();
    db.run("UPDATE debates SET config = '{not json' WHERE id = 'd-copy-300'");
  });
  server = await start();
  const res = await server.fetch(`/api/debates/export?format=json`);
  expect(res.status).toBe(200);
  const requestId = res.headers.get("x-request-id");
  let received = "";
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  const failure = await (async () => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return undefined;
      received += decoder.decode(value, { stream: true });
    }
  })().catch((err: unknown) => err);
  expect(failure).toBeInstanceOf(Error);
  // How much of the first page the client reads before the reset arrives depends on scheduling (a
  // reset may discard what it had not read yet); what it must never see is a clean end. The bytes
  // that went out are checked on the server's side below.
  expect(received.endsWith("]}")).toBe(false);

  const line = await server.waitForLog((l) => l.request_id === requestId && l.stream !== undefined);
  expect(line).toMatchObject({
    level: "ERROR",
    route: "/api/debates/export",
    status: 200,
    stream: "failed",
  });
  expect(line.msg).toContain("failed mid-stream");
  expect(Number(line.bytes)).toBeGreaterThan(1000);
  expect(server.logs().some((l) => l.request_id === requestId && l.msg === "request")).toBe(false);
  const metrics = await (await server.fetch(`/api/metrics`)).text();
  expect(metrics).toContain('aragora_http_stream_failures_total{route="/api/debates/export"} 1');

  // A whole export is logged once, with its size, when its last byte is out.
  const whole = await server.fetch(`/api/debates/export?format=csv&since=2000-01-01&status=failed`);
  const wholeId = whole.headers.get("x-request-id");
  await whole.text();
  expect(
    await server.waitForLog((l) => l.request_id === wholeId && l.msg === "request" && l.stream === "completed"),
  ).toMatchObject({ level: "INFO", status: 200 });
});
