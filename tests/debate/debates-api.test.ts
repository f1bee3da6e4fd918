/**
 * Debates through the real server with the simulated demo agents: creation and its 422s, a whole
 * debate, the event log, WebSocket replay + live with no gap and no duplicate, lists, filters,
 * cursors, exports, cancel, receipts verified (and tamper detected) by the CLI, the leaderboard
 * and the metrics; last, that every log line the server printed about a debate carries its id.
 * One server for the file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";

let server: TestServer;
const json = (body: unknown) => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

async function createDebate(body: Record<string, unknown>): Promise<string> {
  const res = await server.fetch(`/api/debates`, json(body));
  expect(res.status).toBe(201);
  const created = (await res.json()) as { debate_id: string; status: string; ws_topic: string };
  expect(created.status).toBe("running");
  expect(created.ws_topic).toBe(`debate:${created.debate_id}`);
  return created.debate_id;
}

async function waitFinished(id: string, timeoutMs = 25_000): Promise<Record<string, unknown>> {
  const socket = await server.socket(server.ws);
  socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
  await socket.next((m) => m.type === "receipt_generated" && m.debate_id === id, timeoutMs);
  socket.ws.close();
  return (await (await server.fetch(`/api/debates/${id}`)).json()) as Record<string, unknown>;
}

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "1" } });
});
afterAll(async () => {
  await server.stop();
});

describe("POST /api/debates validation", () => {
  /** [case, body, the field named, what its rule says] */
  const cases: [string, Record<string, unknown>, string, string][] = [
    ["empty question", { question: "   " }, "body.question", "must be a non-empty question"],
    [
      "unknown agent",
      { question: "Q?", agents: ["demo:alice", "nosuch:model"] },
      "body.agents.1",
      'unknown agent: "nosuch:model"',
    ],
    ["rounds out of range", { question: "Q?", rounds: 13 }, "body.rounds", "must be at most 12 (was 13)"],
    ["one agent", { question: "Q?", agents: ["demo:alice"] }, "body.agents", "must be at least length 2 (was 1)"],
    [
      "eleven agents",
      { question: "Q?", agents: Array.from({ length: 11 }, (_, i) => `demo:a${i}`) },
      "body.agents",
      "must be at most length 10 (was 11)",
    ],
    ["bad consensus", { question: "Q?", consensus: "loudest" }, "body.consensus", '"majority"'],
  ];
  for (const [name, body, field, rule] of cases) {
    test(`${name} is a 422 naming ${field} and its rule`, async () => {
      const res = await server.fetch(`/api/debates`, json(body));
      expect(res.status).toBe(422);
      const err = (await res.json()) as {
        error: string;
        message: string;
        request_id: string;
        details: { field: string; rule: string }[];
      };
      expect(err.error).toBe("validation_failed");
      expect(err.request_id).toBe(res.headers.get("x-request-id") as string);
      const detail = err.details.find((d) => d.field === field);
      expect(detail?.rule).toContain(rule);
      // The message leads with the field and its rule, so it reads alone.
      expect(err.message).toContain(`${field}: ${detail?.rule}`);
    });
  }
  test("an unknown debate is 404, a malformed id 422", async () => {
    expect((await server.fetch(`/api/debates/d-0000`)).status).toBe(404);
    expect((await server.fetch(`/api/debates/not-an-id`)).status).toBe(422);
  });
});

type Rankings = { agents: { name: string; elo: number; debates: number; wins: number; losses: number }[] };
type LoggedEvent = {
  seq: number;
  type: string;
  round: number | null;
  agent: string | null;
  data: Record<string, unknown>;
};

/** An answer as the protocol reads it from a turn: the last `ANSWER:` line. */
const answerOf = (text: string) => [...text.matchAll(/^ANSWER:\s*(.+)$/gm)].at(-1)?.[1]?.trim() ?? null;

/** Share of the agents holding the most common answer, rounded as the server rounds it. */
function agreementOf(answers: (string | null)[]) {
  const counts = new Map<string | null, number>();
  for (const a of answers) counts.set(a, (counts.get(a) ?? 0) + 1);
  const top = Math.max(...counts.values());
  return { top, share: Math.round((top / answers.length) * 1e4) / 1e4 };
}

describe("a whole demo debate", () => {
  let id: string;
  let record: Record<string, unknown>;
  /** The leaderboard right after this debate, the first to finish on this server. */
  let firstRankings: Rankings;

  beforeAll(async () => {
    id = await createDebate({
      question: "Should cities ban cars from their centres?",
      agents: ["demo:alice", "demo:bob", "demo:carol"],
      rounds: 2,
      metadata: { source: "test" },
    });
    // Subscribe while it runs: the replay and the live stream must join without a gap.
    const socket = await server.socket(server.ws);
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    const last = await socket.next((m) => m.type === "receipt_generated", 25_000);
    const events = [...socket.messages.filter((m) => m.debate_id === id && typeof m.seq === "number"), last];
    (globalThis as Record<string, unknown>).__wsEvents = events;
    socket.ws.close();
    record = (await (await server.fetch(`/api/debates/${id}`)).json()) as Record<string, unknown>;
    firstRankings = (await (await server.fetch(`/api/leaderboard/rankings`)).json()) as Rankings;
  });

  test("it completes with a consensus, a baseline, agreement per round and usage per agent", () => {
    expect(record.status).toBe("completed");
    expect(record.metadata).toEqual({ source: "test" });
    expect(record.agents).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
    const consensus = record.consensus as { method: string; answer: string | null; votes: unknown[] };
    expect(consensus.method).toBe("majority");
    expect(consensus.votes.length).toBe(3);
    const summary = record.summary as { agreement: { round: number }[]; agents: Record<string, { turns: number }> };
    expect(summary.agreement[0]?.round).toBe(0);
    expect(summary.agents["demo:bob"]?.turns).toBeGreaterThan(0);
    // Made by the operator's token, in the operator's default organisation: the first one.
    expect(record.user_id).toBe("operator");
    expect(record.org_id).toMatch(/^o-[0-9a-f-]{36}$/);
  });

  test("the round-0 baseline and each round's agreement match the answers the agents gave", async () => {
    const { events } = (await (await server.fetch(`/api/debates/${id}/events`)).json()) as {
      events: LoggedEvent[];
    };
    const agents = record.agents as string[];
    /** Each agent's answer in a round: its proposal in round 0, its revision after each critique round. */
    const answersIn = (round: number) =>
      agents.map((agent) => {
        const phase = round === 0 ? "proposal" : "revision";
        const turn = events.find(
          (e) => e.type === "turn_end" && e.round === round && e.agent === agent && e.data.phase === phase,
        );
        return answerOf(String(turn?.data.text ?? ""));
      });
    const round0 = answersIn(0);
    expect(round0.every((a) => a !== null)).toBe(true);
    const baseline = record.baseline as { answer: string; support: number; answers: Record<string, string> };
    expect(baseline.answers).toEqual(Object.fromEntries(agents.map((a, i) => [a, round0[i] as string])));
    const { top, share } = agreementOf(round0);
    expect(baseline.support).toBe(share);
    expect(round0.filter((a) => a === baseline.answer)).toHaveLength(top);

    const summary = record.summary as { agreement: { round: number; agreement: number }[]; rounds_completed: number };
    expect(summary.rounds_completed).toBe(2);
    expect(summary.agreement).toEqual(
      [0, 1, 2].map((round) => ({ round, agreement: agreementOf(answersIn(round)).share })),
    );
    // The closing events say the same.
    const consensus = events.find((e) => e.type === "consensus");
    expect(consensus?.data.baseline_answer).toBe(baseline.answer);
    expect(events.find((e) => e.type === "debate_end")?.data.agreement).toEqual(summary.agreement);
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
    const log = (await (await server.fetch(`/api/debates/${id}/events`)).json()) as {
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
    const tail = (await (await server.fetch(`/api/debates/${id}/events?since_seq=${log.last_seq - 2}`)).json()) as {
      events: { seq: number }[];
    };
    expect(tail.events.map((e) => e.seq)).toEqual([log.last_seq - 1, log.last_seq]);
    expect(Object.keys(log.events[0] as object)).toEqual(["type", "debate_id", "seq", "ts", "round", "agent", "data"]);
    expect(server.logs().some((l) => l.debate_id === id && l.msg === "debate finished")).toBe(true);
  });

  test("a replay from since_seq, a second subscription and live events share one connection", async () => {
    const socket = await server.socket(server.ws);
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
    const doc = (await (await server.fetch(`/api/debates/${id}/receipt`)).json()) as {
      receipt: Record<string, unknown>;
      events: { seq: number; type: string; data: Record<string, unknown> }[];
    };
    const key = (await (await server.fetch(`/api/receipts/public-key`)).json()) as { public_key: string };
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
    // The demo agents are deterministic: this question always ends with a consensus two of the
    // three agents hold, so the first debate decides wins and losses.
    const consensus = record.consensus as { reached: boolean; supporters: string[] };
    expect(consensus.reached).toBe(true);
    const agents = record.agents as string[];
    const winners = consensus.supporters;
    const losers = agents.filter((a) => !winners.includes(a));
    expect(winners.length).toBeGreaterThan(0);
    expect(losers.length).toBeGreaterThan(0);
    // From 1500 each, K=32: a winner gains 16 per loser, a loser drops 16 per winner, peers draw.
    const expected = [
      ...winners.map((name) => ({ name, elo: 1500 + 16 * losers.length, debates: 1, wins: 1, losses: 0 })),
      ...losers.map((name) => ({ name, elo: 1500 - 16 * winners.length, debates: 1, wins: 0, losses: 1 })),
    ];
    expect([...firstRankings.agents].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
    expect(firstRankings.agents.map((a) => a.elo)).toEqual(expected.map((a) => a.elo).sort((a, b) => b - a));

    // Later debates keep the ranking sorted and the total rating constant.
    const body = (await (await server.fetch(`/api/leaderboard/rankings`)).json()) as Rankings;
    const elos = body.agents.map((a) => a.elo);
    expect(elos).toEqual([...elos].sort((a, b) => b - a));
    expect(elos.reduce((a, b) => a + b, 0)).toBeCloseTo(1500 * body.agents.length, 1);
  });
});

type Listed = { debate_id: string; created_at: string; agents: string[] };
const list = async (query: string) =>
  ((await (await server.fetch(`/api/debates?${query}`)).json()) as { debates: Listed[] }).debates;
const exported = async (query: string) =>
  ((await (await server.fetch(`/api/debates/export?format=json&${query}`)).json()) as { debates: Listed[] }).debates;

/** RFC 4180 rows (quoted fields may hold commas, quotes and line breaks). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

describe("lists, filters, cursors and exports", () => {
  let a: string;
  let b: string;

  test("list pages with a cursor and filters by status, agent and since", async () => {
    a = await createDebate({ question: "First listed?", agents: ["demo:alice", "demo:bob"], rounds: 1 });
    // Created a few milliseconds apart, so a `since` between them splits them.
    await Bun.sleep(5);
    b = await createDebate({ question: "Second listed?", agents: ["demo:carol", "demo:bob"], rounds: 1 });
    await waitFinished(a);
    await waitFinished(b);
    const first = (await (await server.fetch(`/api/debates?limit=1`)).json()) as {
      debates: { debate_id: string }[];
      next_cursor: string | null;
    };
    expect(first.debates.map((d) => d.debate_id)).toEqual([b]);
    expect(first.next_cursor).not.toBeNull();
    const next = (await (await server.fetch(`/api/debates?limit=1&cursor=${first.next_cursor}`)).json()) as {
      debates: { debate_id: string }[];
    };
    expect(next.debates.map((d) => d.debate_id)).toEqual([a]);
    const byAgent = (await (await server.fetch(`/api/debates?agent=demo:carol&status=completed`)).json()) as {
      debates: { debate_id: string; agents: string[] }[];
    };
    expect(byAgent.debates.map((d) => d.debate_id)).toContain(b);
    expect(byAgent.debates.map((d) => d.debate_id)).not.toContain(a);
    const future = (await (await server.fetch(`/api/debates?since=2999-01-01`)).json()) as { debates: unknown[] };
    expect(future.debates).toEqual([]);
    // A past `since` keeps the debates created at or after it, newest first, and drops the older ones.
    const [listedB, listedA] = await list("limit=2");
    expect([listedB?.debate_id, listedA?.debate_id]).toEqual([b, a]);
    const createdB = listedB?.created_at as string;
    expect(Date.parse(createdB)).toBeGreaterThan(Date.parse(listedA?.created_at as string));
    expect((await list(`since=${createdB}`)).map((d) => d.debate_id)).toEqual([b]);
    const sinceA = await list(`since=${listedA?.created_at}`);
    expect(sinceA.map((d) => d.debate_id)).toEqual([b, a]);
    expect((await list("since=2000-01-01T00:00:00Z")).length).toBeGreaterThan(sinceA.length);
    expect((await server.fetch(`/api/debates?status=bogus`)).status).toBe(422);
    expect((await server.fetch(`/api/debates?cursor=zzz`)).status).toBe(422);
  });

  test("exports stream json, jsonl, csv and md; /api/debates/export is not an id", async () => {
    const all = (await (await server.fetch(`/api/debates/export?format=json`)).json()) as {
      debates: { debate_id: string }[];
    };
    expect(all.debates.length).toBeGreaterThanOrEqual(3);
    const jsonl = await (await server.fetch(`/api/debates/export?format=jsonl&status=completed`)).text();
    const lines = jsonl
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { status: string });
    expect(lines.every((l) => l.status === "completed")).toBe(true);
    const csv = await server.fetch(`/api/debates/export?format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect((await csv.text()).split("\r\n")[0]).toStartWith("debate_id,created_at");
    const md = await (await server.fetch(`/api/debates/export?format=md`)).text();
    expect(md).toStartWith("# Debates export");
    expect((await server.fetch(`/api/debates/export?format=xml`)).status).toBe(422);
    const one = all.debates[0]?.debate_id as string;
    const single = (await (await server.fetch(`/api/debates/${one}/export?format=json`)).json()) as {
      debate: { debate_id: string };
      events: unknown[];
    };
    expect(single.debate.debate_id).toBe(one);
    expect(single.events.length).toBeGreaterThan(0);
    expect(await (await server.fetch(`/api/debates/${one}/export?format=md`)).text()).toContain("## Round 0");
  });

  test("the export takes the list's agent and since filters", async () => {
    const all = await exported("");
    const withCarol = await exported("agent=demo:carol");
    expect(withCarol.map((d) => d.debate_id)).toContain(b);
    expect(withCarol.map((d) => d.debate_id)).not.toContain(a);
    expect(withCarol.every((d) => d.agents.includes("demo:carol"))).toBe(true);
    expect(withCarol.length).toBeLessThan(all.length);
    const withBob = await exported("agent=demo:bob&status=completed");
    expect(withBob.map((d) => d.debate_id)).toEqual(expect.arrayContaining([a, b]));
    const createdB = all.find((d) => d.debate_id === b)?.created_at as string;
    const since = await exported(`since=${createdB}`);
    expect(since.map((d) => d.debate_id)).toContain(b);
    expect(since.map((d) => d.debate_id)).not.toContain(a);
    expect(since.every((d) => Date.parse(d.created_at) >= Date.parse(createdB))).toBe(true);
    expect(await exported("since=2999-01-01")).toEqual([]);
    // The other formats filter alike: one jsonl line per debate of the json export.
    const jsonl = await (await server.fetch(`/api/debates/export?format=jsonl&agent=demo:carol`)).text();
    const lines = jsonl.trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as Listed).debate_id)).toEqual(withCarol.map((d) => d.debate_id));
    expect((await server.fetch(`/api/debates/export?since=yesterday`)).status).toBe(422);
  });

  test("one debate exports as jsonl (its event log) and csv (one row per event but tokens)", async () => {
    const { events } = (await (await server.fetch(`/api/debates/${b}/events`)).json()) as {
      events: LoggedEvent[];
    };
    const jsonl = await server.fetch(`/api/debates/${b}/export?format=jsonl`);
    expect(jsonl.headers.get("content-type")).toContain("application/x-ndjson");
    expect(jsonl.headers.get("content-disposition")).toBe(`attachment; filename="${b}.jsonl"`);
    const text = await jsonl.text();
    expect(text.endsWith("\n")).toBe(true);
    expect(
      text
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l)),
    ).toEqual(events);

    const csv = await server.fetch(`/api/debates/${b}/export?format=csv`);
    expect(csv.headers.get("content-type")).toContain("text/csv");
    expect(csv.headers.get("content-disposition")).toBe(`attachment; filename="${b}.csv"`);
    const [head, ...rows] = parseCsv(await csv.text());
    expect(head).toEqual(["seq", "ts", "type", "round", "agent", "phase", "text"]);
    const kept = events.filter((e) => e.type !== "token");
    expect(rows).toHaveLength(kept.length);
    rows.forEach((row, i) => {
      const e = kept[i] as LoggedEvent & { ts: string };
      expect(row).toEqual([
        String(e.seq),
        e.ts,
        e.type,
        e.round === null ? "" : String(e.round),
        e.agent ?? "",
        String(e.data.phase ?? ""),
        String(e.data.text ?? e.data.answer ?? ""),
      ]);
    });
    // Turn texts hold line breaks and quotes: the quoting kept them intact.
    expect(rows.some((r) => (r[6] as string).includes("\n"))).toBe(true);
    expect((await server.fetch(`/api/debates/${b}/export?format=xml`)).status).toBe(422);
  });
});

describe("cancel and metrics", () => {
  test("cancel ends a running debate as cancelled; a finished one is 409", async () => {
    const id = await createDebate({ question: "Will this be cancelled?", rounds: 12 });
    const res = await server.fetch(`/api/debates/${id}/cancel`, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ debate_id: id, status: "cancelled" });
    const events = (await (await server.fetch(`/api/debates/${id}/events`)).json()) as {
      events: { type: string; data: { status?: string } }[];
    };
    const end = events.events.find((e) => e.type === "debate_end");
    expect(end?.data.status).toBe("cancelled");
    expect((await server.fetch(`/api/debates/${id}/cancel`, { method: "POST" })).status).toBe(409);
  });

  test("the debate metrics are exposed", async () => {
    const text = await (await server.fetch(`/api/metrics`)).text();
    expect(text).toMatch(/^aragora_debates_total \d+/m);
    expect(text).toMatch(/^aragora_debates_completed [1-9]/m);
    expect(text).toMatch(/^aragora_debates_failed \d+/m);
  });
});

describe("logs", () => {
  test("every log line that mentions a debate id carries it in debate_id or debate_ids", () => {
    const lines = server.logs();
    const idShape = /\bd-[0-9a-z][0-9a-z-]{3,63}/g;
    const missing: string[] = [];
    let mentioning = 0;
    for (const line of lines) {
      const ids = new Set(JSON.stringify(line).match(idShape) ?? []);
      if (ids.size > 0) mentioning++;
      const carried = new Set([line.debate_id, ...((line.debate_ids as unknown[] | undefined) ?? [])]);
      for (const id of ids) if (!carried.has(id)) missing.push(`${id} in ${JSON.stringify(line).slice(0, 300)}`);
    }
    expect(missing).toEqual([]);
    expect(mentioning).toBeGreaterThan(50);
    // The request lines in particular: POST names the debate it created, /api/debates/:id/* their :id.
    const requests = lines.filter((l) => l.msg === "request");
    const created = requests.filter((l) => l.method === "POST" && l.path === "/api/debates" && l.status === 201);
    expect(created.length).toBeGreaterThanOrEqual(5);
    expect(created.every((l) => typeof l.debate_id === "string" && (l.debate_id as string).startsWith("d-"))).toBe(
      true,
    );
    const about = requests.filter((l) => String(l.path).startsWith("/api/debates/d-"));
    expect(about.length).toBeGreaterThan(5);
    for (const l of about) expect(String(l.path)).toStartWith(`/api/debates/${l.debate_id}`);
    const refused = requests.filter((l) => l.method === "POST" && l.path === "/api/debates" && l.status === 422);
    expect(refused.length).toBeGreaterThanOrEqual(6);
    expect(refused.every((l) => l.debate_id === undefined)).toBe(true);
  });
});
