/**
 * Debates through the real server with the simulated demo agents: creation and its 422s, a whole
 * debate, the event log, WebSocket replay + live with no gap and no duplicate, lists, filters,
 * cursors, exports, cancel, receipts verified (and tamper detected) by the CLI, the leaderboard
 * and the metrics. One server for the file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { openSocket, runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";

let server: TestServer;
const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function createDebate(body: Record<string, unknown>): Promise<string> {
  const res = await fetch(`${server.api}/api/debates`, json(body));
  expect(res.status).toBe(201);
  const created = (await res.json()) as { debate_id: string; status: string; ws_topic: string };
  expect(created.status).toBe("running");
  expect(created.ws_topic).toBe(`debate:${created.debate_id}`);
  return created.debate_id;
}

async function waitFinished(id: string, timeoutMs = 25_000): Promise<Record<string, unknown>> {
  const socket = await openSocket(server.ws);
  socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
  await socket.next((m) => m.type === "receipt_generated" && m.debate_id === id, timeoutMs);
  socket.ws.close();
  return (await (await fetch(`${server.api}/api/debates/${id}`)).json()) as Record<string, unknown>;
}

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "1" } });
});
afterAll(async () => {
  await server.stop();
});

describe("POST /api/debates validation", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["empty question", { question: "   " }, "body.question"],
    ["unknown agent", { question: "Q?", agents: ["demo:alice", "nosuch:model"] }, "body.agents.1"],
    ["rounds out of range", { question: "Q?", rounds: 13 }, "body.rounds"],
    ["one agent", { question: "Q?", agents: ["demo:alice"] }, "body.agents"],
    ["eleven agents", { question: "Q?", agents: Array.from({ length: 11 }, (_, i) => `demo:a${i}`) }, "body.agents"],
    ["bad consensus", { question: "Q?", consensus: "loudest" }, "body.consensus"],
  ];
  for (const [name, body, field] of cases) {
    test(`${name} is a 422 naming ${field}`, async () => {
      const res = await fetch(`${server.api}/api/debates`, json(body));
      expect(res.status).toBe(422);
      const err = (await res.json()) as { error: string; message: string; details: { field: string }[] };
      expect(err.error).toBe("validation_failed");
      expect(err.details.map((d) => d.field)).toContain(field);
      if (name === "unknown agent") expect(err.message).toContain("nosuch:model");
    });
  }
  test("an unknown debate is 404, a malformed id 422", async () => {
    expect((await fetch(`${server.api}/api/debates/d-0000`)).status).toBe(404);
    expect((await fetch(`${server.api}/api/debates/not-an-id`)).status).toBe(422);
  });
});

describe("a whole demo debate", () => {
  let id: string;
  let record: Record<string, unknown>;

  beforeAll(async () => {
    id = await createDebate({
      question: "Should cities ban cars from their centres?",
      agents: ["demo:alice", "demo:bob", "demo:carol"],
      rounds: 2,
      metadata: { source: "test" },
    });
    // Subscribe while it runs: the replay and the live stream must join without a gap.
    const socket = await openSocket(server.ws);
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    const last = await socket.next((m) => m.type === "receipt_generated", 25_000);
    const events = [...socket.messages.filter((m) => m.debate_id === id && typeof m.seq === "number"), last];
    (globalThis as Record<string, unknown>).__wsEvents = events;
    socket.ws.close();
    record = (await (await fetch(`${server.api}/api/debates/${id}`)).json()) as Record<string, unknown>;
  });

  test("it completes with a consensus, a baseline, agreement per round and usage per agent", () => {
    expect(record.status).toBe("completed");
    expect(record.metadata).toEqual({ source: "test" });
    expect(record.agents).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
    const consensus = record.consensus as { method: string; answer: string | null; votes: unknown[] };
    expect(consensus.method).toBe("majority");
    expect(consensus.votes.length).toBe(3);
    expect(record.baseline).toMatchObject({ answers: expect.any(Object) });
    const summary = record.summary as { agreement: { round: number }[]; agents: Record<string, { turns: number }> };
    expect(summary.agreement[0]?.round).toBe(0);
    expect(summary.agents["demo:bob"]?.turns).toBeGreaterThan(0);
  });

  test("the WebSocket delivered every event once, in seq order, from 1", () => {
    const events = (globalThis as Record<string, unknown>).__wsEvents as { seq: number; type: string }[];
    expect(events.length).toBeGreaterThan(10);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events[0]?.type).toBe("debate_start");
    const types = new Set(events.map((e) => e.type));
    for (const t of ["round_start", "turn_start", "token", "turn_end", "critique", "vote", "consensus", "debate_end"]) {
      expect(types.has(t)).toBe(true);
    }
  });

  test("the event log equals what was streamed; since_seq pages it", async () => {
    const log = (await (await fetch(`${server.api}/api/debates/${id}/events`)).json()) as {
      events: {
        seq: number;
        type: string;
        debate_id: string;
        ts: string;
        round: unknown;
        agent: unknown;
        data: unknown;
      }[];
      last_seq: number;
    };
    const streamed = (globalThis as Record<string, unknown>).__wsEvents as unknown[];
    expect(log.events).toEqual(streamed as typeof log.events);
    expect(log.last_seq).toBe(log.events.length);
    const tail = (await (
      await fetch(`${server.api}/api/debates/${id}/events?since_seq=${log.last_seq - 2}`)
    ).json()) as {
      events: { seq: number }[];
    };
    expect(tail.events.map((e) => e.seq)).toEqual([log.last_seq - 1, log.last_seq]);
    expect(Object.keys(log.events[0] as object)).toEqual(["type", "debate_id", "seq", "ts", "round", "agent", "data"]);
    expect(server.logs().some((l) => l.debate_id === id && l.msg === "debate finished")).toBe(true);
  });

  test("a replay from since_seq, a second subscription and live events share one connection", async () => {
    const socket = await openSocket(server.ws);
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 5 }));
    const second = await createDebate({ question: "Is remote work here to stay?", rounds: 1 });
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: second, since_seq: 0 }));
    await socket.next((m) => m.type === "receipt_generated" && m.debate_id === second, 25_000);
    const old = socket.messages
      .filter((m) => m.debate_id === id && typeof m.seq === "number")
      .map((m) => m.seq as number);
    expect(old[0]).toBe(6);
    expect(old).toEqual(old.map((_, i) => i + 6));
    const live = socket.messages
      .filter((m) => m.debate_id === second && typeof m.seq === "number")
      .map((m) => m.seq as number);
    expect(live).toEqual(live.map((_, i) => i + 1));
    socket.ws.send(JSON.stringify({ type: "unsubscribe", debate_id: second }));
    await socket.next((m) => m.type === "unsubscribed" && m.debate_id === second);
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: "d-nope" }));
    expect(await socket.next((m) => m.type === "error")).toMatchObject({ code: "not_found" });
    socket.ws.close();
  });

  test("the receipt verifies with the CLI, and tampering is named", async () => {
    const doc = (await (await fetch(`${server.api}/api/debates/${id}/receipt`)).json()) as {
      receipt: Record<string, unknown>;
      events: { seq: number; type: string; data: Record<string, unknown> }[];
    };
    const key = (await (await fetch(`${server.api}/api/receipts/public-key`)).json()) as { public_key: string };
    const dir = tempDir();
    const keyFile = join(dir, "key.pem");
    writeFileSync(keyFile, key.public_key);
    const good = join(dir, "good.json");
    writeFileSync(good, JSON.stringify(doc));
    const ok = await runCli(["receipt", "verify", good, "--public-key", keyFile]);
    expect(ok.stdout).toContain("valid");
    expect(ok.code).toBe(0);

    const event = structuredClone(doc);
    const turn = event.events.find((e) => e.type === "turn_end") as { seq: number; data: Record<string, unknown> };
    turn.data.text = "a forged argument";
    writeFileSync(join(dir, "event.json"), JSON.stringify(event));
    const badEvent = await runCli(["receipt", "verify", join(dir, "event.json"), "--public-key", keyFile]);
    expect(badEvent.code).toBe(1);
    expect(badEvent.stdout).toContain(`event seq ${turn.seq} (turn_end) was altered`);

    const field = structuredClone(doc);
    field.receipt.question = "Should cities ban bicycles?";
    writeFileSync(join(dir, "field.json"), JSON.stringify(field));
    const badField = await runCli(["receipt", "verify", join(dir, "field.json"), "--public-key", keyFile]);
    expect(badField.code).toBe(1);
    expect(badField.stdout).toContain('field "question" was altered');
    expect(badField.stdout).toContain("signature is not valid");
  });

  test("the leaderboard ranks the participants by ELO", async () => {
    const body = (await (await fetch(`${server.api}/api/leaderboard/rankings`)).json()) as {
      agents: { name: string; elo: number; debates: number; wins: number; losses: number }[];
    };
    const consensus = record.consensus as { reached: boolean };
    if (consensus.reached) {
      expect(body.agents.map((a) => a.name).sort()).toEqual(
        expect.arrayContaining(["demo:alice", "demo:bob", "demo:carol"]),
      );
      const elos = body.agents.map((a) => a.elo);
      expect(elos).toEqual([...elos].sort((a, b) => b - a));
      expect(elos.reduce((a, b) => a + b, 0)).toBeCloseTo(1500 * body.agents.length, 1);
    }
  });
});

describe("lists, filters, cursors and exports", () => {
  test("list pages with a cursor and filters by status and agent", async () => {
    const a = await createDebate({ question: "First listed?", agents: ["demo:alice", "demo:bob"], rounds: 1 });
    const b = await createDebate({ question: "Second listed?", agents: ["demo:carol", "demo:bob"], rounds: 1 });
    await waitFinished(a);
    await waitFinished(b);
    const first = (await (await fetch(`${server.api}/api/debates?limit=1`)).json()) as {
      debates: { debate_id: string }[];
      next_cursor: string | null;
    };
    expect(first.debates.map((d) => d.debate_id)).toEqual([b]);
    expect(first.next_cursor).not.toBeNull();
    const next = (await (await fetch(`${server.api}/api/debates?limit=1&cursor=${first.next_cursor}`)).json()) as {
      debates: { debate_id: string }[];
    };
    expect(next.debates.map((d) => d.debate_id)).toEqual([a]);
    const byAgent = (await (await fetch(`${server.api}/api/debates?agent=demo:carol&status=completed`)).json()) as {
      debates: { debate_id: string; agents: string[] }[];
    };
    expect(byAgent.debates.map((d) => d.debate_id)).toContain(b);
    expect(byAgent.debates.map((d) => d.debate_id)).not.toContain(a);
    const future = (await (await fetch(`${server.api}/api/debates?since=2999-01-01`)).json()) as { debates: unknown[] };
    expect(future.debates).toEqual([]);
    expect((await fetch(`${server.api}/api/debates?status=bogus`)).status).toBe(422);
    expect((await fetch(`${server.api}/api/debates?cursor=zzz`)).status).toBe(422);
  });

  test("exports stream json, jsonl, csv and md; /api/debates/export is not an id", async () => {
    const all = (await (await fetch(`${server.api}/api/debates/export?format=json`)).json()) as {
      debates: { debate_id: string }[];
    };
    expect(all.debates.length).toBeGreaterThanOrEqual(3);
    const jsonl = await (await fetch(`${server.api}/api/debates/export?format=jsonl&status=completed`)).text();
    const lines = jsonl
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string });
    expect(lines.every((l) => l.status === "completed")).toBe(true);
    const csv = await fetch(`${server.api}/api/debates/export?format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect((await csv.text()).split("\r\n")[0]).toStartWith("debate_id,created_at");
    const md = await (await fetch(`${server.api}/api/debates/export?format=md`)).text();
    expect(md).toStartWith("# Debates export");
    expect((await fetch(`${server.api}/api/debates/export?format=xml`)).status).toBe(422);
    const one = all.debates[0]?.debate_id as string;
    const single = (await (await fetch(`${server.api}/api/debates/${one}/export?format=json`)).json()) as {
      debate: { debate_id: string };
      events: unknown[];
    };
    expect(single.debate.debate_id).toBe(one);
    expect(single.events.length).toBeGreaterThan(0);
    expect(await (await fetch(`${server.api}/api/debates/${one}/export?format=md`)).text()).toContain("## Round 0");
  });
});

describe("cancel and metrics", () => {
  test("cancel ends a running debate as cancelled; a finished one is 409", async () => {
    const id = await createDebate({ question: "Will this be cancelled?", rounds: 12 });
    const res = await fetch(`${server.api}/api/debates/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ debate_id: id, status: "cancelled" });
    const events = (await (await fetch(`${server.api}/api/debates/${id}/events`)).json()) as {
      events: { type: string; data: { status?: string } }[];
    };
    const end = events.events.find((e) => e.type === "debate_end");
    expect(end?.data.status).toBe("cancelled");
    expect((await fetch(`${server.api}/api/debates/${id}/cancel`, { method: "POST" })).status).toBe(409);
  });

  test("the debate metrics are exposed", async () => {
    const text = await (await fetch(`${server.api}/api/metrics`)).text();
    expect(text).toMatch(/^aragora_debates_total \d+/m);
    expect(text).toMatch(/^aragora_debates_completed [1-9]/m);
    expect(text).toMatch(/^aragora_debates_failed \d+/m);
  });
});
