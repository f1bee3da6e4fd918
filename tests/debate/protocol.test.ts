/**
 * The debate protocol, consensus rules, ELO arithmetic and receipts, in process: an in-process
 * agent directory stands in for the models, an array for the event log.
 */
import { describe, expect, test } from "bun:test";
import { agreement, decideConsensus, extractAnswer, parseVote } from "../../actors/debate/consensus.ts";
import { eloUpdate, expectedScore, rating } from "../../actors/debate/elo.ts";
import { chainLink, GENESIS_HASH } from "../../actors/debate/event-log.ts";
import { critiqueTargets, DebateInterrupted, resumeStateFrom, runProtocol } from "../../actors/debate/protocol.ts";
import { buildReceipt, loadOrCreateReceiptKey, signReceipt, verifyReceipt } from "../../actors/debate/receipt.ts";
import type { DebateEventEnvelope, Seat } from "../../actors/debate/types.ts";
import { tempDir } from "../support/server.ts";
import { debateConfig, inProcessAgents, recorder } from "./in-process-agents.ts";

const config = debateConfig;

const seat = (agent: string, answer: string, failed = false): Seat => ({
  agent,
  answer,
  text: "",
  failed,
  failure: null,
});

describe("answers and votes", () => {
  test("the ANSWER line is the answer; without one, the last line", () => {
    expect(extractAnswer("because\n**Answer:** Adopt it gradually")).toBe("Adopt it gradually");
    expect(extractAnswer("first\nsecond line\n\n")).toBe("second line");
  });

  test("votes are read tolerantly and an unreadable vote is an abstention", () => {
    const names = ["demo:alice", "demo:bob"];
    expect(parseVote("VOTE: demo:bob\nCONFIDENCE: 0.7", names)).toMatchObject({ choice: "demo:bob", confidence: 0.7 });
    expect(parseVote("**Vote:** bob\nConfidence: 80%", names)).toMatchObject({ choice: "demo:bob", confidence: 0.8 });
    expect(parseVote("I like both equally.", names)).toMatchObject({ choice: null, confidence: 0 });
    expect(parseVote("VOTE: demo:zed", names).choice).toBeNull();
  });

  test("majority, supermajority, unanimous and confidence-weighted decide over answer clusters", () => {
    const seats = [seat("a", "yes"), seat("b", "Yes."), seat("c", "no")];
    const votes = [
      { voter: "a", choice: "a", confidence: 0.9, reason: "" },
      { voter: "b", choice: "b", confidence: 0.9, reason: "" },
      { voter: "c", choice: "c", confidence: 1, reason: "" },
    ];
    const majority = decideConsensus("majority", seats, votes);
    expect(majority).toMatchObject({ reached: true, answer: "yes", winner: "a", supporters: ["a", "b"] });
    expect(majority.support).toBeCloseTo(2 / 3, 3);
    expect(decideConsensus("supermajority", seats, votes).reached).toBe(true);
    expect(decideConsensus("unanimous", seats, votes).reached).toBe(false);
    const weighted = decideConsensus("confidence_weighted", seats, votes);
    expect(weighted.support).toBeCloseTo(1.8 / 2.8, 3);
    expect(decideConsensus("majority", seats, [{ voter: "a", choice: null, confidence: 0, reason: "" }]).reached).toBe(
      false,
    );
    expect(agreement(seats)).toBeCloseTo(0.6667, 3);
  });

  test("topologies choose whom each seat critiques", () => {
    expect([...critiqueTargets("ring", ["a", "b", "c"])]).toEqual([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a"]],
    ]);
    expect([...critiqueTargets("star", ["a", "b", "c"])]).toEqual([
      ["a", ["b", "c"]],
      ["b", ["a"]],
      ["c", ["a"]],
    ]);
    expect(critiqueTargets("all_to_all", ["a", "b", "c"]).get("b")).toEqual(["a", "c"]);
  });
});

describe("ELO", () => {
  test("1500 start, K=32, pairwise against the ratings before the debate", () => {
    expect(expectedScore(1500, 1500)).toBe(0.5);
    const next = eloUpdate({}, ["a"], ["b", "c"]);
    expect(next.a).toEqual({ elo: 1532, debates: 1, wins: 1, losses: 0 });
    // b and c each lose 16 to a and draw each other at equal ratings.
    expect(next.b).toEqual({ elo: 1484, debates: 1, wins: 0, losses: 1 });
    const uneven = eloUpdate({ a: { ...rating(1600) }, b: rating(1400) }, ["b"], ["a"]);
    const gain = 32 * (1 - 1 / (1 + 10 ** ((1600 - 1400) / 400)));
    expect(uneven.b?.elo).toBeCloseTo(1400 + gain, 2);
    expect(uneven.a?.elo).toBeCloseTo(1600 - gain, 2);
    expect((uneven.a?.elo ?? 0) + (uneven.b?.elo ?? 0)).toBeCloseTo(3000, 6);
  });
});

describe("protocol", () => {
  test("proposals, critique and revision rounds, votes, consensus, with the round-0 baseline", async () => {
    const agents = inProcessAgents({ answers: { "t:a": "yes", "t:b": "yes", "t:c": (r) => (r === 0 ? "no" : "yes") } });
    const rec = recorder();
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config({ convergenceThreshold: 1 }),
      agents,
      emit: rec.emit,
      signal: new AbortController().signal,
    });
    expect(outcome.status).toBe("completed");
    expect(outcome.baseline?.answer).toBe("yes");
    expect(outcome.summary.agreement[0]?.agreement).toBeCloseTo(0.6667, 3);
    // Everyone agrees after round 1, before the last round: early stop.
    expect(outcome.stopReason).toBe("converged");
    expect(outcome.summary.roundsCompleted).toBe(1);
    expect(outcome.consensus).toMatchObject({ reached: true, answer: "yes" });
    expect(rec.types()[0]).toBe("debate_start");
    expect(rec.types().at(-1)).toBe("debate_end");
    expect(rec.types().filter((t) => t === "critique")).toHaveLength(3);
    expect(rec.events.some((e) => e.type === "token")).toBe(true);
    expect(outcome.summary.agents["t:a"]?.usage.inputTokens).toBeGreaterThan(0);
  });

  test("a budget stops the rounds and decides from the current answers", async () => {
    const agents = inProcessAgents({ tokensPerTurn: 100 });
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config({ rounds: 5, budget: { maxTokens: 700, maxCostUsd: null } }),
      agents,
      emit: recorder().emit,
      signal: new AbortController().signal,
    });
    // 600 tokens after the proposals, 1200 after round 1's critiques: stopped before its revisions.
    expect(outcome.stopReason).toBe("budget_exhausted");
    expect(outcome.summary.roundsCompleted).toBe(0);
    expect(agents.calls.filter((c) => c.round === 1).map((c) => c.role)).toEqual(["critic", "critic", "critic"]);
    expect(outcome.consensus?.method).toBe("answers");
    expect(agents.calls.some((c) => c.role === "voter")).toBe(false);
  });

  test("a failing seat is marked failed and the debate carries on with two", async () => {
    const rec = recorder();
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config(),
      agents: inProcessAgents({ failFrom: { "t:c": 1 }, answers: { "t:a": "x", "t:b": "x", "t:c": "y" } }),
      emit: rec.emit,
      signal: new AbortController().signal,
    });
    expect(outcome.status).toBe("completed");
    expect(outcome.summary.failedSeats["t:c"]).toContain("provider_error");
    expect(rec.events.filter((e) => e.type === "agent_error")).toHaveLength(1);
    expect(Object.keys(outcome.summary.finalAnswers)).toEqual(["t:a", "t:b"]);
  });

  test("with fewer than two seats left the debate fails with the reason", async () => {
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config(),
      agents: inProcessAgents({ failFrom: { "t:b": 0, "t:c": 1 } }),
      emit: recorder().emit,
      signal: new AbortController().signal,
    });
    expect(outcome.status).toBe("failed");
    expect(outcome.stopReason).toBe("agents_failed");
    expect(outcome.error).toStartWith("only 1 agent(s) left (t:a); failed: t:b (provider_error: ");
    expect(outcome.error).toContain("; t:c (provider_error: ");
  });

  test("resuming from a partial log re-runs only what was not recorded and emits nothing twice", async () => {
    const full = recorder();
    await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config({ rounds: 2 }),
      agents: inProcessAgents(),
      emit: full.emit,
      signal: new AbortController().signal,
    });
    // Cut the log in the middle of round 1's revisions, as a crash would.
    const cut = full.events.findIndex((e) => e.type === "turn_start" && e.round === 1 && e.data.phase === "revision");
    const prefix = full.events.slice(0, cut + 2);
    const agents = inProcessAgents();
    const rest = recorder();
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config({ rounds: 2 }),
      agents,
      emit: rest.emit,
      signal: new AbortController().signal,
      resume: resumeStateFrom(prefix),
    });
    expect(outcome.status).toBe("completed");
    expect(agents.calls.some((c) => c.round === 0)).toBe(false);
    const structural = (es: DebateEventEnvelope[]) =>
      es
        .filter((e) => e.type !== "token" && !(e.type === "turn_start" && e.data.restarted))
        .map((e) => `${e.type}|${e.round}|${e.agent}|${"phase" in e.data ? e.data.phase : ""}`);
    const combined = [...structural(prefix), ...structural(rest.events)];
    expect(new Set(combined).size).toBe(combined.length);
    expect(combined.filter((k) => k.startsWith("debate_end"))).toHaveLength(1);
    expect(rest.events.some((e) => e.type === "turn_start" && e.data.restarted === true)).toBe(true);
  });

  test("cancel interrupts the protocol", async () => {
    const controller = new AbortController();
    controller.abort(new Error("cancelled"));
    const run = runProtocol({
      debateId: "d-t",
      question: "Q?",
      config: config(),
      agents: inProcessAgents(),
      emit: recorder().emit,
      signal: controller.signal,
    });
    await expect(run).rejects.toBeInstanceOf(DebateInterrupted);
  });
});

describe("receipts", () => {
  test("a signed receipt verifies; tampering is named by field, by event and by signature", () => {
    const dir = tempDir();
    const key = loadOrCreateReceiptKey(dir);
    expect(loadOrCreateReceiptKey(dir).keyId).toBe(key.keyId);
    const events = [1, 2, 3].map((seq) => ({
      type: "token",
      debate_id: "d-t",
      seq,
      ts: "2026-11-28T00:00:00.000Z",
      round: 0,
      agent: "t:a",
      data: { text: `t${seq}` },
    }));
    const payloads = events.map((e) => JSON.stringify(e));
    const doc = signReceipt(
      buildReceipt({
        debateId: "d-t",
        question: "Q?",
        configuration: config(),
        participants: ["t:a", "t:b"],
        consensus: { answer: "yes" },
        baseline: { answer: "no" },
        outcome: { status: "completed", stop_reason: "rounds_completed" },
        payloads,
        issuedAt: new Date(),
      }),
      key,
    );
    const withEvents = { ...doc, events: events as DebateEventEnvelope[] };
    expect(verifyReceipt(structuredClone(withEvents), key.publicKeyPem)).toMatchObject({ ok: true, events: 3 });
    let head = GENESIS_HASH;
    for (const p of payloads) head = chainLink(head, p).hash;
    expect((doc.receipt.hash_chain as { head: string }).head).toBe(head);

    const field = structuredClone(withEvents);
    (field.receipt.baseline as { answer: string }).answer = "yes";
    expect(verifyReceipt(field, key.publicKeyPem).problems.join("\n")).toContain('field "baseline" was altered');

    const event = structuredClone(withEvents);
    ((event.events[1] as DebateEventEnvelope).data as { text: string }).text = "forged";
    expect(verifyReceipt(event, key.publicKeyPem).problems.join("\n")).toContain("event seq 2 (token) was altered");

    const signature = structuredClone(withEvents);
    signature.signature = Buffer.alloc(64).toString("base64");
    const bad = verifyReceipt(signature, key.publicKeyPem);
    expect(bad.ok).toBe(false);
    // Only the signature is bad: every field still matches its digest, and the report says so.
    expect(bad.problems).toEqual([
      expect.stringContaining("signature is not valid"),
      expect.stringContaining("every field matches its digest"),
    ]);

    const other = loadOrCreateReceiptKey(tempDir());
    expect(verifyReceipt(structuredClone(withEvents), other.publicKeyPem).ok).toBe(false);
  });
});
