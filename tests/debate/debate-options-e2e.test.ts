/**
 * Every per-debate option of POST /api/debates, proven through the public interface of a real
 * server process: the debate is started over HTTP, then read back with GET /api/debates/:id and
 * GET /api/debates/:id/events. Seats are agents on the fake provider server (OpenAI wire), each
 * with a model of its own, so its replies (answers, votes, confidences, latency, usage) are
 * scripted turn by turn and debates can run side by side. Options: topology, consensus method,
 * early stop, turn / round / debate timeouts, token and cost budgets, and the roles. One server
 * for the file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeProvider, type FakeReply, type RecordedRequest, startFakeProvider } from "../fake-provider/index.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { createDebate, ofType, type WireEvent } from "./debate-client.ts";

interface ConsensusView {
  method: string;
  reached: boolean;
  answer: string | null;
  winner: string | null;
  supporters: string[];
  support: number;
  votes: { voter: string; choice: string | null; confidence: number }[];
  synthesis?: string;
}

interface RecordView {
  debate_id: string;
  status: string;
  stop_reason: string | null;
  error: string | null;
  config: Record<string, unknown>;
  consensus: ConsensusView | null;
  summary: {
    agreement: { round: number; agreement: number }[];
    agents: Record<string, { turns: number; cost_usd: number; usage: { input_tokens: number; output_tokens: number } }>;
    totals: { tokens: number; cost_usd: number };
    failed_seats: Record<string, string>;
    rounds_completed: number;
    final_answers: Record<string, string>;
  } | null;
}

let fake: FakeProvider;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeProvider();
  server = await startTestServer({
    env: { ...fake.env(), ARAGORA_AGENT_RETRY_BASE_MS: "5", ARAGORA_BREAKER_FAILURES: "1000" },
  });
});
afterAll(async () => {
  await server.stop();
  await fake.stop();
});

const LETTERS = "abcdefghij";
/** `count` seats on the fake's OpenAI wire, named after the test so their scripts are their own. */
const seatsFor = (tag: string, count = 3) => Array.from({ length: count }, (_, i) => `openai:${tag}-${LETTERS[i]}`);
const modelOf = (agent: string) => agent.slice(agent.indexOf(":") + 1);

/** Queue one seat's replies, in the order the protocol calls it (proposal, critique, revision, vote, ...). */
function script(agent: string, ...turns: (string | FakeReply)[]): void {
  fake.script(
    { provider: "openai", model: modelOf(agent) },
    ...turns.map((t) => (typeof t === "string" ? { text: t } : t)),
  );
}
const proposal = (agent: string, answer: string) => `${agent} reasons about it.\nANSWER: ${answer}`;
const critique = (agent: string) => `${agent} finds gaps in the other answers.`;
const vote = (choice: string, confidence = 0.9) =>
  `${choice} is the strongest.\nVOTE: ${choice}\nCONFIDENCE: ${confidence}`;

/** Requests the fake received for one seat, oldest first. */
const requestsOf = (agent: string) =>
  fake.requests.filter((r) => r.provider === "openai" && r.model === modelOf(agent));
/** A request's system and user text. */
function messagesOf(r: RecordedRequest): { system: string; user: string } {
  const messages = (r.body.messages ?? []) as { role: string; content: string | { type: string; text?: string }[] }[];
  const text = (role: string) =>
    messages
      .filter((m) => m.role === role)
      .map((m) => (typeof m.content === "string" ? m.content : m.content.map((p) => p.text ?? "").join("")))
      .join("\n");
  return { system: text("system"), user: text("user") };
}
const requestWith = (agent: string, marker: string) =>
  requestsOf(agent).find((r) => messagesOf(r).user.includes(marker));

/**
 * POST the debate, poll GET /api/debates/:id until it is no longer running, then read its whole
 * log with GET /api/debates/:id/events (checked gap-free from seq 1).
 */
async function runDebate(body: Record<string, unknown>, timeoutMs = 15_000) {
  const id = await createDebate(server, body);
  const deadline = Date.now() + timeoutMs;
  let record: RecordView;
  for (;;) {
    record = (await (await server.fetch(`/api/debates/${id}`)).json()) as RecordView;
    if (record.status !== "running") break;
    if (Date.now() > deadline) throw new Error(`debate ${id} still running after ${timeoutMs} ms`);
    await Bun.sleep(20);
  }
  const res = await server.fetch(`/api/debates/${id}/events`);
  expect(res.status).toBe(200);
  const { events } = (await res.json()) as { events: WireEvent[] };
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  expect(events[0]?.type).toBe("debate_start");
  expect(ofType(events, "debate_end")).toHaveLength(1);
  return { id, record, events };
}

const turnStarts = (events: WireEvent[], phase: string) =>
  events.filter((e) => e.type === "turn_start" && e.data.phase === phase);
const rolesIn = (events: WireEvent[], phase: string) =>
  Object.fromEntries(turnStarts(events, phase).map((e) => [e.agent, e.data.role]));

describe("topology", () => {
  test("all_to_all, ring and star change whom each seat critiques, in the events and in the prompts", async () => {
    const answers = ["plan alpha", "plan beta", "plan gamma"];
    const run = (topology: string) => {
      const seats = seatsFor(`topo-${topology}`);
      seats.forEach((s, i) => {
        script(
          s,
          proposal(s, answers[i] as string),
          critique(s),
          proposal(s, answers[i] as string),
          vote(seats[0] as string),
        );
      });
      return runDebate({ question: `Which plan (${topology})?`, agents: seats, rounds: 1, topology }).then((r) => ({
        ...r,
        seats,
      }));
    };
    const [all, ring, star] = await Promise.all([run("all_to_all"), run("ring"), run("star")]);
    const expected = (seats: string[], of: Record<string, number[]>) =>
      Object.fromEntries(seats.map((s, i) => [s, (of[LETTERS[i] as string] ?? []).map((j) => seats[j])]));
    const cases: [typeof all, Record<string, number[]>][] = [
      [all, { a: [1, 2], b: [0, 2], c: [0, 1] }],
      [ring, { a: [1], b: [2], c: [0] }],
      [star, { a: [1, 2], b: [0], c: [0] }],
    ];
    for (const [run, of] of cases) {
      const { record, events, seats } = run;
      const topology = record.config.topology as string;
      expect(record.status, topology).toBe("completed");
      const want = expected(seats, of);
      // The critique events say whom each seat critiqued ...
      const targets = Object.fromEntries(ofType(events, "critique").map((e) => [e.agent, e.data.targets]));
      expect(targets, topology).toEqual(want);
      for (const seat of seats) {
        // ... the seat was shown exactly those answers ...
        const shown = [
          ...messagesOf(requestWith(seat, "Round 1 critique.") as RecordedRequest).user.matchAll(/^### (\S+)$/gm),
        ];
        expect(
          shown.map((m) => m[1]),
          `${topology}: ${seat} critiques`,
        ).toEqual(want[seat] as string[]);
        // ... and each revision received the critiques aimed at its seat, from those critics only.
        const critics = seats.filter((c) => (want[c] as string[]).includes(seat));
        const received = [
          ...messagesOf(requestWith(seat, "Round 1 revision.") as RecordedRequest).user.matchAll(/^### from (\S+)$/gm),
        ];
        expect(received.map((m) => m[1]).sort(), `${topology}: critiques received by ${seat}`).toEqual(critics.sort());
      }
    }
  }, 20_000);
});

describe("consensus methods", () => {
  /** A one-round debate: seat i answers answers[i] and votes for seat votes[i][0] with confidence votes[i][1]. */
  const decide = (
    tag: string,
    consensus: string,
    answers: string[],
    votes: [number, number][],
    extra: Record<string, unknown> = {},
  ) => {
    const seats = seatsFor(tag, answers.length);
    seats.forEach((s, i) => {
      const [choice, confidence] = votes[i] as [number, number];
      script(
        s,
        proposal(s, answers[i] as string),
        critique(s),
        proposal(s, answers[i] as string),
        vote(seats[choice] as string, confidence),
        `Synthesis by ${s}: the agreed plan, stated plainly.\nANSWER: ${answers[i]}`,
      );
    });
    const roles = extra.synthesiser ? { synthesiser: seats[0] } : undefined;
    return runDebate({
      question: `Decide (${tag})?`,
      agents: seats,
      rounds: 1,
      consensus,
      ...(roles ? { roles } : {}),
    }).then((r) => ({ ...r, seats, consensus: r.record.consensus as ConsensusView }));
  };
  const TWO_TO_ONE = ["plan alpha", "plan alpha", "plan gamma"];
  const DISSENT: [number, number][] = [
    [0, 0.9],
    [0, 0.9],
    [2, 0.9],
  ];

  test("one dissenting vote: majority and supermajority (2/3) reach consensus, unanimous does not", async () => {
    const [majority, supermajority, unanimous, allAgree] = await Promise.all([
      decide("c-maj", "majority", TWO_TO_ONE, DISSENT, { synthesiser: true }),
      decide("c-super", "supermajority", TWO_TO_ONE, DISSENT),
      decide("c-unan", "unanimous", TWO_TO_ONE, DISSENT, { synthesiser: true }),
      decide("c-unan-all", "unanimous", TWO_TO_ONE, [
        [0, 0.9],
        [0, 0.9],
        [0, 0.9],
      ]),
    ]);
    for (const r of [majority, supermajority, unanimous, allAgree]) {
      expect(r.record.status).toBe("completed");
      expect(r.consensus.votes).toHaveLength(3);
      const event = ofType(r.events, "consensus")[0]?.data;
      expect(event).toMatchObject({ method: r.record.config.consensus, reached: r.consensus.reached });
    }
    expect(majority.consensus).toMatchObject({ method: "majority", reached: true, answer: "plan alpha" });
    expect(majority.consensus.support).toBeCloseTo(2 / 3, 3);
    expect(majority.consensus.supporters).toEqual(majority.seats.slice(0, 2));
    expect(supermajority.consensus).toMatchObject({ method: "supermajority", reached: true, answer: "plan alpha" });
    // Not reached: answer and winner still name the leading answer; nobody is a supporter.
    expect(unanimous.consensus).toMatchObject({
      method: "unanimous",
      reached: false,
      answer: "plan alpha",
      winner: unanimous.seats[0],
      supporters: [],
    });
    expect(allAgree.consensus).toMatchObject({ method: "unanimous", reached: true, answer: "plan alpha" });
    // The synthesiser speaks only when a consensus was reached.
    expect(turnStarts(majority.events, "synthesis").map((e) => e.agent)).toEqual([majority.seats[0] as string]);
    expect(turnStarts(unanimous.events, "synthesis")).toEqual([]);
    expect(unanimous.consensus.synthesis).toBeUndefined();
    expect(requestsOf(unanimous.seats[0] as string)).toHaveLength(4);
  }, 20_000);

  test("supermajority needs two thirds: 3 of 5 is a majority but not a supermajority", async () => {
    const answers = ["plan alpha", "plan alpha", "plan alpha", "plan gamma", "plan gamma"];
    const own: [number, number][] = answers.map((_, i) => [i, 0.8]);
    const [majority, supermajority] = await Promise.all([
      decide("c5-maj", "majority", answers, own),
      decide("c5-super", "supermajority", answers, own),
    ]);
    for (const r of [majority, supermajority]) {
      expect(r.record.status).toBe("completed");
      expect(r.consensus.votes).toHaveLength(5);
      expect(r.consensus.support).toBeCloseTo(0.6, 4);
    }
    expect(majority.consensus).toMatchObject({ reached: true, answer: "plan alpha" });
    expect(supermajority.consensus).toMatchObject({ reached: false, supporters: [] });
  }, 20_000);

  test("confidence_weighted: a confident minority outweighs a hesitant majority that wins a plain majority", async () => {
    const votes: [number, number][] = [
      [0, 0.2],
      [1, 0.2],
      [2, 0.9],
    ];
    const [weighted, majority] = await Promise.all([
      decide("c-conf", "confidence_weighted", TWO_TO_ONE, votes),
      decide("c-conf-maj", "majority", TWO_TO_ONE, votes),
    ]);
    expect(weighted.consensus.votes.map((v) => v.confidence)).toEqual([0.2, 0.2, 0.9]);
    expect(weighted.consensus).toMatchObject({
      method: "confidence_weighted",
      reached: true,
      answer: "plan gamma",
      winner: weighted.seats[2],
    });
    expect(weighted.consensus.support).toBeCloseTo(0.9 / 1.3, 3);
    expect(majority.consensus).toMatchObject({ reached: true, answer: "plan alpha", winner: majority.seats[0] });
  }, 20_000);

  test("judge: only the judge seat votes, as judge, and its single vote decides against the majority answer", async () => {
    const seats = seatsFor("c-judge");
    const [a, b, c] = seats as [string, string, string];
    script(a, proposal(a, "plan alpha"), critique(a), proposal(a, "plan alpha"), vote(a));
    script(b, proposal(b, "plan alpha"), critique(b), proposal(b, "plan alpha"), vote(a));
    script(c, proposal(c, "plan gamma"), critique(c), proposal(c, "plan gamma"), vote(c, 0.7));
    const { record, events } = await runDebate({
      question: "Who judges?",
      agents: seats,
      rounds: 1,
      consensus: "judge",
      roles: { judge: c },
    });
    expect(record.status).toBe("completed");
    expect(record.config.roles).toMatchObject({ judge: c });
    const votes = ofType(events, "vote");
    expect(votes).toHaveLength(1);
    expect(votes[0]).toMatchObject({ agent: c, data: { phase: "judge", choice: c, confidence: 0.7 } });
    expect(turnStarts(events, "judge").map((e) => [e.agent, e.data.role])).toEqual([[c, "judge"]]);
    expect(ofType(events, "round_start").at(-1)?.data.phase).toBe("judge");
    expect(record.consensus).toMatchObject({ method: "judge", reached: true, answer: "plan gamma", winner: c });
    expect(record.consensus?.votes.map((v) => v.voter)).toEqual([c]);
    // The other seats were never asked to vote; the judge got the judge's instructions.
    expect(requestsOf(a)).toHaveLength(3);
    expect(requestsOf(b)).toHaveLength(3);
    expect(messagesOf(requestsOf(c)[3] as RecordedRequest).system).toContain("impartial judge");
  }, 20_000);

  test("winner names the answer by its first seat: not the seat with the most votes, nor its first proposer", async () => {
    // The README Quick start case: a and c end on one answer, two votes name c and one names a.
    // c proposed it in round 0 and a adopted it in round 1; b holds out.
    const seats = seatsFor("c-winner");
    const [a, b, c] = seats as [string, string, string];
    script(a, proposal(a, "plan beta"), critique(a), proposal(a, "plan alpha"), vote(c, 0.8));
    script(b, proposal(b, "plan gamma"), critique(b), proposal(b, "plan gamma"), vote(c, 0.8));
    script(c, proposal(c, "plan alpha"), critique(c), proposal(c, "plan alpha"), vote(a, 0.8));
    const { record, events } = await runDebate({ question: "Who wins?", agents: seats, rounds: 1 });
    expect(record.status).toBe("completed");
    expect(ofType(events, "vote").map((e) => [e.agent, e.data.choice])).toEqual(
      expect.arrayContaining([
        [a, c],
        [b, c],
        [c, a],
      ]),
    );
    // Every vote counts for "plan alpha"; the first seat holding it (a) names it, though c has
    // two of the votes and proposed it first.
    const decided = {
      method: "majority",
      reached: true,
      answer: "plan alpha",
      winner: a,
      supporters: [a, c],
      support: 1,
    };
    expect(record.consensus).toMatchObject(decided);
    expect(ofType(events, "consensus")[0]?.data).toMatchObject(decided);
    expect(record.summary?.final_answers).toEqual({ [a]: "plan alpha", [b]: "plan gamma", [c]: "plan alpha" });
  }, 20_000);
});

describe("early stop", () => {
  test("answers that converge end the rounds early with stop reason converged; the threshold is the request's", async () => {
    const split = (tag: string, threshold?: number) => {
      const seats = seatsFor(tag);
      const [a, b, c] = seats as [string, string, string];
      // c starts apart (agreement 2/3) and is persuaded in round 1 (agreement 1). A seat's replies
      // are taken in turn order, so a debate that stops at round 0 goes from proposal to vote.
      const rounds = (s: string, revised: string) => (threshold ? [] : [critique(s), proposal(s, revised)]);
      script(a, proposal(a, "plan alpha"), ...rounds(a, "plan alpha"), vote(a));
      script(b, proposal(b, "plan alpha"), ...rounds(b, "plan alpha"), vote(a));
      script(c, proposal(c, "plan gamma"), ...rounds(c, "plan alpha"), vote(a));
      return runDebate({
        question: `Converge (${tag})?`,
        agents: seats,
        rounds: 3,
        ...(threshold ? { convergence_threshold: threshold } : {}),
      });
    };
    const [full, loose] = await Promise.all([split("stop-1"), split("stop-06", 0.6)]);

    // Threshold 1 (the default): two thirds is not enough at round 0; everyone agrees after round 1 of 3.
    expect(full.record).toMatchObject({ status: "completed", stop_reason: "converged" });
    expect(full.record.summary?.rounds_completed).toBe(1);
    expect(full.record.summary?.agreement).toEqual([
      { round: 0, agreement: 0.6667 },
      { round: 1, agreement: 1 },
    ]);
    expect(ofType(full.events, "round_start").map((e) => [e.round, e.data.phase])).toEqual([
      [0, "proposal"],
      [1, "critique"],
      [2, "vote"],
    ]);
    expect(ofType(full.events, "debate_end")[0]?.data).toMatchObject({ stop_reason: "converged", rounds_completed: 1 });
    expect(full.record.consensus).toMatchObject({ reached: true, answer: "plan alpha" });

    // Threshold 0.6: the round-0 agreement of two thirds already stops it; no critique round runs.
    expect(loose.record).toMatchObject({ status: "completed", stop_reason: "converged" });
    expect(loose.record.summary?.rounds_completed).toBe(0);
    expect(ofType(loose.events, "critique")).toEqual([]);
    expect(ofType(loose.events, "round_start").map((e) => e.data.phase)).toEqual(["proposal", "vote"]);
    expect(loose.record.consensus).toMatchObject({ reached: true, answer: "plan alpha" });
  }, 20_000);
});

describe("budgets", () => {
  test("a token budget stops the rounds with budget_exhausted; no vote round is run", async () => {
    const seats = seatsFor("budget-tokens");
    const usage = { input: 100, output: 100 };
    seats.forEach((s, i) => {
      const answer = ["plan alpha", "plan beta", "plan gamma"][i] as string;
      const turns = [proposal(s, answer), critique(s), proposal(s, answer), critique(s), proposal(s, answer), vote(s)];
      script(s, ...turns.map((text) => ({ text, usage })));
    });
    // 600 tokens after round 0 (under 1000), 1200 after round 1's critiques: the budget is checked
    // after every phase, so round 1 stops before its revisions.
    const { record, events } = await runDebate({
      question: "How far does the budget go?",
      agents: seats,
      rounds: 3,
      budget: { max_tokens: 1000 },
    });
    expect(record).toMatchObject({ status: "completed", stop_reason: "budget_exhausted" });
    expect(record.summary?.totals.tokens).toBe(1200);
    expect(record.summary?.rounds_completed).toBe(0);
    expect(ofType(events, "round_start").map((e) => e.round)).toEqual([0, 1]);
    expect(ofType(events, "critique").map((e) => e.round)).toEqual([1, 1, 1]);
    expect(ofType(events, "turn_start").filter((e) => e.data.phase === "revision")).toEqual([]);
    expect(ofType(events, "vote")).toEqual([]);
    expect(record.consensus?.method).toBe("answers");
    for (const s of seats) expect(requestsOf(s)).toHaveLength(2);
    expect(ofType(events, "debate_end")[0]?.data).toMatchObject({ stop_reason: "budget_exhausted" });
  }, 20_000);

  test("a cost budget (price table) stops the rounds with budget_exhausted", async () => {
    // openai:gpt-4.1 costs $2 / $8 per million input / output tokens: $0.01 per turn of 1000 + 1000.
    const priced = "openai:gpt-4.1";
    const [b, c] = seatsFor("budget-cost").slice(1) as [string, string];
    const seats = [priced, b, c];
    const usage = { input: 1000, output: 1000 };
    seats.forEach((s, i) => {
      const answer = ["plan alpha", "plan beta", "plan gamma"][i] as string;
      const turns = [proposal(s, answer), critique(s), proposal(s, answer), critique(s), proposal(s, answer), vote(s)];
      script(s, ...turns.map((text) => ({ text, usage: s === priced ? usage : { input: 1, output: 1 } })));
    });
    // $0.01 after round 0 and $0.02 after round 1's critiques (under $0.025), $0.03 after its revisions.
    const { record, events } = await runDebate({
      question: "How far does the money go?",
      agents: seats,
      rounds: 3,
      budget: { max_cost_usd: 0.025 },
    });
    expect(record).toMatchObject({ status: "completed", stop_reason: "budget_exhausted" });
    expect(record.summary?.agents[priced]?.cost_usd).toBeCloseTo(0.03, 6);
    expect(record.summary?.totals.cost_usd).toBeCloseTo(0.03, 6);
    // Far under any token limit: it was the cost that stopped it.
    expect(record.summary?.totals.tokens).toBeLessThan(7000);
    expect(record.summary?.rounds_completed).toBe(1);
    expect(ofType(events, "turn_end", priced)[0]?.data.cost).toMatchObject({ usd: 0.01, estimated: false });
    expect(ofType(events, "vote")).toEqual([]);
    expect(requestsOf(priced)).toHaveLength(3);
  }, 20_000);
});

describe("timeouts", () => {
  test("a turn timeout fails that seat with kind timeout; the debate carries on", async () => {
    const seats = seatsFor("t-turn");
    const [a, b, c] = seats as [string, string, string];
    script(a, proposal(a, "plan alpha"), critique(a), proposal(a, "plan alpha"), vote(a));
    script(b, proposal(b, "plan beta"), critique(b), proposal(b, "plan beta"), vote(a));
    script(c, { text: proposal(c, "plan gamma"), delayMs: 3000 });
    const { record, events } = await runDebate({
      question: "Who is too slow?",
      agents: seats,
      rounds: 1,
      timeouts: { turn_s: 0.3 },
    });
    expect(record.status).toBe("completed");
    const errors = ofType(events, "agent_error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      agent: c,
      round: 0,
      data: { phase: "proposal", kind: "timeout", message: "the turn timed out", seat_failed: true },
    });
    expect(record.summary?.failed_seats[c]).toBe("timeout: the turn timed out");
    expect(Object.keys(record.summary?.final_answers ?? {})).toEqual([a, b]);
    expect(record.consensus?.votes.map((v) => v.voter)).toEqual([a, b]);
  }, 20_000);

  test("a round timeout is reported as one: the slow seat fails with kind round_timeout", async () => {
    const seats = seatsFor("t-round-one");
    const [a, b, c] = seats as [string, string, string];
    script(a, proposal(a, "plan alpha"), critique(a), proposal(a, "plan alpha"), vote(a));
    script(b, proposal(b, "plan beta"), critique(b), proposal(b, "plan beta"), vote(a));
    script(c, { text: proposal(c, "plan gamma"), delayMs: 3000 });
    // The turn may take 10 s, but the round only 0.4 s.
    const { record, events } = await runDebate({
      question: "Which round is too slow?",
      agents: seats,
      rounds: 1,
      timeouts: { turn_s: 10, round_s: 0.4 },
    });
    expect(record.status).toBe("completed");
    const errors = ofType(events, "agent_error");
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({
      agent: c,
      round: 0,
      data: { phase: "proposal", kind: "round_timeout", seat_failed: true },
    });
    expect(String(errors[0]?.data.message)).toBe("the round timed out: round 0 exceeded its 400 ms timeout");
    expect(record.summary?.failed_seats[c]).toStartWith("round_timeout: the round timed out");
    expect(record.consensus?.votes.map((v) => v.voter)).toEqual([a, b]);
  }, 20_000);

  test("a round in which every turn times out ends the debate with stop reason round_timeout", async () => {
    const seats = seatsFor("t-round-all");
    for (const s of seats) script(s, { text: proposal(s, "plan alpha"), delayMs: 3000 });
    const { record, events } = await runDebate({
      question: "Is anyone fast enough?",
      agents: seats,
      rounds: 1,
      timeouts: { turn_s: 10, round_s: 0.4 },
    });
    expect(record).toMatchObject({ status: "failed", stop_reason: "round_timeout" });
    expect(record.error).toStartWith("the round timed out: round 0 exceeded its 400 ms timeout; only 0 agent(s) left");
    const errors = ofType(events, "agent_error");
    expect(errors.map((e) => e.agent).sort()).toEqual([...seats].sort());
    for (const e of errors) expect(e.data).toMatchObject({ kind: "round_timeout", phase: "proposal" });
    expect(ofType(events, "debate_end")[0]?.data).toMatchObject({ status: "failed", stop_reason: "round_timeout" });
    expect(Object.keys(record.summary?.failed_seats ?? {}).sort()).toEqual([...seats].sort());
  }, 20_000);

  test("the per-debate timeout ends the debate with stop reason debate_timeout", async () => {
    const seats = seatsFor("t-debate");
    // Ten tokens 200 ms apart: each proposal needs 2 s; the debate has 0.5 s.
    for (const s of seats)
      script(s, { text: proposal(s, "one two three four five six seven eight"), tokenDelayMs: 200 });
    const { record, events } = await runDebate({
      question: "Can it finish in time?",
      agents: seats,
      rounds: 1,
      timeouts: { debate_s: 0.5 },
    });
    expect(record).toMatchObject({ status: "failed", stop_reason: "debate_timeout" });
    expect(record.error).toBe("the debate exceeded its 500 ms timeout");
    // Cut mid-proposal: no turn finished and no seat was blamed for it.
    expect(ofType(events, "turn_end")).toEqual([]);
    expect(ofType(events, "agent_error")).toEqual([]);
    expect(ofType(events, "token").length).toBeGreaterThan(0);
    expect(ofType(events, "debate_end")[0]?.data).toMatchObject({ status: "failed", stop_reason: "debate_timeout" });
  }, 20_000);
});

describe("roles", () => {
  test("proposer, critic, devil's advocate, voter and synthesiser take their turns where the protocol puts them", async () => {
    const seats = seatsFor("roles");
    const [a, b, c] = seats as [string, string, string];
    const synthesis = `Synthesis by ${c}: adopt plan alpha, in stages.\nANSWER: plan alpha`;
    script(a, proposal(a, "plan alpha"), critique(a), proposal(a, "plan alpha"), vote(a));
    script(b, proposal(b, "plan alpha"), `${b} argues against everyone.`, proposal(b, "plan alpha"), vote(a));
    script(c, proposal(c, "plan gamma"), critique(c), proposal(c, "plan gamma"), vote(a), synthesis);
    const { record, events } = await runDebate({
      question: "Who plays which part?",
      agents: seats,
      rounds: 1,
      roles: { devils_advocate: b, synthesiser: c },
    });
    expect(record.status).toBe("completed");
    expect(record.config.roles).toEqual({ judge: null, devils_advocate: b, synthesiser: c });

    expect(rolesIn(events, "proposal")).toEqual({ [a]: "proposer", [b]: "proposer", [c]: "proposer" });
    expect(rolesIn(events, "critique")).toEqual({ [a]: "critic", [b]: "devils_advocate", [c]: "critic" });
    expect(rolesIn(events, "revision")).toEqual({ [a]: "proposer", [b]: "proposer", [c]: "proposer" });
    expect(rolesIn(events, "vote")).toEqual({ [a]: "voter", [b]: "voter", [c]: "voter" });
    expect(Object.fromEntries(ofType(events, "critique").map((e) => [e.agent, e.data.role]))).toEqual({
      [a]: "critic",
      [b]: "devils_advocate",
      [c]: "critic",
    });
    // The devil's advocate was told to argue against; the critics to critique.
    const critiqueOf = (s: string) => messagesOf(requestWith(s, "Round 1 critique.") as RecordedRequest);
    expect(critiqueOf(b).system).toContain("devil's advocate");
    expect(critiqueOf(b).user).toContain("Argue against these answers");
    expect(critiqueOf(a).system).toContain("rigorous critic");
    expect(critiqueOf(a).user).not.toContain("Argue against");

    // The synthesiser writes last: after the votes, before the consensus, which carries its text.
    const [synth] = turnStarts(events, "synthesis");
    expect(synth).toMatchObject({ agent: c, round: 2, data: { role: "synthesiser" } });
    const consensus = ofType(events, "consensus")[0] as WireEvent;
    const lastVote = ofType(events, "vote").at(-1) as WireEvent;
    expect(lastVote.seq).toBeLessThan((synth as WireEvent).seq);
    expect((synth as WireEvent).seq).toBeLessThan(consensus.seq);
    expect(consensus.data).toMatchObject({ reached: true, answer: "plan alpha", synthesis });
    expect(record.consensus?.synthesis).toBe(synthesis);
    const asked = messagesOf(requestsOf(c)[4] as RecordedRequest);
    expect(asked.system).toContain("synthesiser");
    expect(asked.user).toContain("Agreed answer: plan alpha");
  }, 20_000);
});
