/**
 * Edges of the debates API a newcomer walking the README hit: an agent whose provider has no key
 * is refused at POST (not accepted, then failed), a duplicate seat names its twin, a body that is
 * not an object is named as the body, `last_seq` past the end of a log is the log's end, and
 * `aragora receipt verify` names the fields the digests do not cover when they are altered, and
 * says INVALID with a reason (never a stack trace) for a document that is not a well-formed receipt.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";

let server: TestServer;
const post = (body: unknown) =>
  server.fetch(`/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
type ErrorBody = { error: string; message: string; details?: { field: string; rule: string }[] };

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });
});
afterAll(async () => {
  await server.stop();
});

describe("POST /api/debates refuses what could not run", () => {
  test("an agent whose provider has no API key: 422 naming the seat, the variable to set and the organisation's own key", async () => {
    const res = await post({ question: "Q?", agents: ["demo:alice", "anthropic:claude-sonnet-4-5"] });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.details?.[0]?.field).toBe("body.agents.1");
    expect(body.details?.[0]?.rule).toContain("set ANTHROPIC_API_KEY on the server");
    expect(body.details?.[0]?.rule).toContain("PUT /api/org/provider-keys/anthropic");
    const list = (await (await server.fetch(`/api/debates?status=running`)).json()) as { debates: unknown[] };
    expect(list.debates).toEqual([]);
  });

  test("a default agent whose provider has no API key: 422, not a debate that fails", async () => {
    const other = await startTestServer({
      env: { ARAGORA_DEFAULT_AGENTS: "demo:alice,anthropic:claude-sonnet-4-5" },
    });
    try {
      const res = await other.fetch(`/api/debates`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question: "Q?" }),
      });
      expect(res.status).toBe(422);
      const body = (await res.json()) as ErrorBody;
      expect(body.details?.[0]?.field).toBe("body.agents");
      expect(body.details?.[0]?.rule).toContain("set ANTHROPIC_API_KEY on the server");
      expect(body.details?.[0]?.rule).toContain("PUT /api/org/provider-keys/anthropic); or name the agents");
    } finally {
      await other.stop();
    }
  });

  test("a second seat for the same agent names the first", async () => {
    const res = await post({ question: "Q?", agents: ["demo:alice", "demo:bob", "demo:alice"] });
    expect(res.status).toBe(422);
    const body = (await res.json()) as ErrorBody;
    expect(body.details?.[0]?.field).toBe("body.agents.2");
    expect(body.details?.[0]?.rule).toContain("already at body.agents.0");
  });

  test("a body that is not an object is named as the body", async () => {
    for (const bad of [null, 42, "question"]) {
      const res = await post(bad);
      expect(res.status).toBe(422);
      const body = (await res.json()) as ErrorBody;
      expect(body.details?.map((d) => d.field)).toEqual(["body"]);
    }
  });
});

describe("a finished debate", () => {
  let id: string;
  let doc: { receipt: Record<string, unknown>; events: { debate_id: string }[] };
  beforeAll(async () => {
    const res = await post({ question: "Should the library open on Sundays?", rounds: 1 });
    expect(res.status).toBe(201);
    id = ((await res.json()) as { debate_id: string }).debate_id;
    const socket = await server.socket(server.ws);
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await socket.next((m) => m.type === "receipt_generated" && m.debate_id === id, 20_000);
    socket.ws.close();
    doc = (await (await server.fetch(`/api/debates/${id}/receipt`)).json()) as typeof doc;
  });

  test("events past the end of its log: none, and last_seq is the log's end", async () => {
    const record = (await (await server.fetch(`/api/debates/${id}`)).json()) as { last_seq: number };
    expect(record.last_seq).toBeGreaterThan(5);
    const events = async (since: number) =>
      (await (await server.fetch(`/api/debates/${id}/events?since_seq=${since}`)).json()) as {
        events: { seq: number }[];
        last_seq: number;
      };
    expect(await events(record.last_seq + 1000)).toMatchObject({ events: [], last_seq: record.last_seq });
    expect(await events(record.last_seq)).toMatchObject({ events: [], last_seq: record.last_seq });
    const tail = await events(record.last_seq - 2);
    expect(tail.events.map((e) => e.seq)).toEqual([record.last_seq - 1, record.last_seq]);
    expect(tail.last_seq).toBe(record.last_seq);
  });

  test("receipt verify names an altered debate_id, issued_at or key_id", async () => {
    const dir = tempDir();
    const key = (await (await server.fetch(`/api/receipts/public-key`)).json()) as { public_key: string };
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, key.public_key);
    const verify = async (name: string, change: (d: typeof doc) => void) => {
      const copy = structuredClone(doc);
      change(copy);
      writeFileSync(join(dir, name), JSON.stringify(copy));
      return runCli(["receipt", "verify", join(dir, name), "--public-key", keyFile]);
    };
    const otherId = `${id.slice(0, -1)}${id.endsWith("0") ? "1" : "0"}`;
    // Four processes on four files, run side by side.
    const [debateId, issued, keyId, shifted] = await Promise.all([
      verify("id.json", (d) => {
        d.receipt.debate_id = otherId;
      }),
      verify("issued.json", (d) => {
        d.receipt.issued_at = "2020-01-01 00:00";
      }),
      verify("key-id.json", (d) => {
        d.receipt.key_id = "0123456789abcdef";
      }),
      // A timestamp that is still well formed: only the signature can tell, and the report says where to look.
      verify("shifted.json", (d) => {
        d.receipt.issued_at = new Date(Date.parse(d.receipt.issued_at as string) + 1000).toISOString();
      }),
    ]);
    expect(debateId.code).toBe(1);
    expect(debateId.stdout).toContain(`field "debate_id" was altered: the receipt's events belong to ${id}`);
    expect(issued.code).toBe(1);
    expect(issued.stdout).toContain('field "issued_at" was altered');
    expect(keyId.code).toBe(1);
    expect(keyId.stdout).toContain('field "key_id" was altered');
    expect(shifted.code).toBe(1);
    expect(shifted.stdout).toContain("every field matches its digest");
    expect(shifted.stdout).toContain("issued_at");
  });

  test("receipt verify says INVALID, with the reason, for a malformed receipt: never a stack trace", async () => {
    const dir = tempDir();
    const text = JSON.stringify(doc);
    const question = JSON.stringify(doc.receipt.question);
    const budget = /"maxCostUsd":(null|[0-9.]+)/;
    expect(text).toMatch(budget);
    // Each is what a forger or a broken copy could hand an auditor; the reason names where it is wrong.
    const cases: [string, string, string][] = [
      ["surrogate.json", text.replace(question, '"\\ud800"'), "document.receipt.question must be well-formed Unicode"],
      ["infinite.json", text.replace(budget, '"maxCostUsd":1e309'), "maxCostUsd must be a finite number"],
      [
        "chain-null.json",
        patch((d) => ((d.receipt.hash_chain as { events: unknown[] }).events[0] = null)),
        "receipt.hash_chain.events.0 must be an object",
      ],
      ["events-null.json", patch((d) => ((d.events as unknown[])[0] = null)), "events[0] must be an object"],
      ["signature.json", patch((d) => ((d as Record<string, unknown>).signature = 12)), "signature must be a string"],
      [
        "key.json",
        patch((d) => ((d as Record<string, unknown>).public_key = { pem: 1 })),
        "public_key must be a string",
      ],
      ["receipt.json", patch((d) => ((d as Record<string, unknown>).receipt = [1, 2])), "receipt must be an object"],
      [
        "deep.json",
        `{"receipt":{"question":${"[".repeat(100_000)}${"]".repeat(100_000)}},"signature":"x"}`,
        "deeper than 32 levels",
      ],
    ];
    // Each case is its own process on its own file: four at a time, checked in order.
    for (const [name, body] of cases) writeFileSync(join(dir, name), body);
    const outs = await sideBySide(cases, 4, ([name]) => runCli(["receipt", "verify", join(dir, name)]));
    for (const [i, [name, , reason]] of cases.entries()) {
      const out = outs[i] as Awaited<ReturnType<typeof runCli>>;
      expect({ name, code: out.code }).toEqual({ name, code: 1 });
      expect(out.stdout).toContain("INVALID");
      expect(out.stdout).toContain(reason);
      expect(out.stderr).not.toMatch(/\n\s+at |\^|Error:/);
    }
  });

  /** The receipt as JSON text after `change`. */
  function patch(change: (d: typeof doc) => void): string {
    const copy = structuredClone(doc);
    change(copy);
    return JSON.stringify(copy);
  }
});

/** `run` over `items`, at most `limit` at once; the results in `items`' order. */
async function sideBySide<T, R>(items: readonly T[], limit: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await run(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
