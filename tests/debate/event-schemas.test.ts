/**
 * Every event a debate emits matches its type's schema (schemas/debate-events.ts): the schemas
 * type `emit`, and clients read the WebSocket messages, the events endpoint and the receipts by
 * them. Checked over the protocol's paths (failed seats, judge and synthesiser, budget, cancel
 * mid-turn, resume after a crash) and over a real server's WebSocket and OpenAPI document.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type } from "arktype";
import { resumeStateFrom, runProtocol } from "../../actors/debate/protocol.ts";
import { DebateEventSchema, EVENT_TYPES } from "../../schemas/debate-events.ts";
import { DebateEventMessage } from "../../schemas/ws.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { createDebate, watchDebate } from "./debate-client.ts";
import { debateConfig, inProcessAgents, recorder } from "./in-process-agents.ts";

/** Each event that does not match its schema, with arktype's reason. */
function problems(events: readonly unknown[]): string[] {
  return events.flatMap((e) => {
    const out = DebateEventSchema(e);
    return out instanceof type.errors ? [`${JSON.stringify(e).slice(0, 200)}: ${out.summary}`] : [];
  });
}

describe("every emitted event matches its schema", () => {
  test("a debate with a failing seat, a judge and a synthesiser", async () => {
    const { events, emit } = recorder("d-s");
    await runProtocol({
      debateId: "d-s",
      question: "Which?",
      config: debateConfig({
        agents: ["t:a", "t:b", "t:c", "t:d"],
        consensus: "judge",
        roles: { judge: "t:a", devilsAdvocate: "t:b", synthesiser: "t:a" },
      }),
      agents: inProcessAgents({ failFrom: { "t:d": 1 }, answers: { "t:a": "yes", "t:b": "yes", "t:c": "yes" } }),
      emit,
      signal: new AbortController().signal,
    });
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      "debate_start",
      "round_start",
      "turn_start",
      "token",
      "turn_end",
      "critique",
      "vote",
      "consensus",
      "agent_error",
      "debate_end",
    ])
      expect(types.has(t as never)).toBe(true);
    expect(problems(events)).toEqual([]);
  });

  test("budget exhausted, cancelled mid-turn, and resumed after a crash", async () => {
    const budget = recorder("d-s");
    await runProtocol({
      debateId: "d-s",
      question: "Cheap?",
      config: debateConfig({ budget: { maxTokens: 1, maxCostUsd: null } }),
      agents: inProcessAgents(),
      emit: budget.emit,
      signal: new AbortController().signal,
    });
    expect(problems(budget.events)).toEqual([]);

    const cancelled = recorder("d-s");
    const cancel = new AbortController();
    const run = runProtocol({
      debateId: "d-s",
      question: "Slow?",
      config: debateConfig(),
      agents: inProcessAgents({ tokenDelayMs: 50 }),
      emit: cancelled.emit,
      signal: cancel.signal,
      interruptReason: () => "cancelled",
    });
    await Bun.sleep(30);
    cancel.abort(new Error("user asked"));
    await run.catch(() => undefined);
    expect(cancelled.events.some((e) => e.type === "turn_interrupted")).toBe(true);
    expect(problems(cancelled.events)).toEqual([]);

    // Resume from the cancelled prefix as if the process had crashed there: open turns close as crashed.
    const prefix = cancelled.events.filter((e) => e.type !== "turn_interrupted");
    const resumed = recorder("d-s");
    await runProtocol({
      debateId: "d-s",
      question: "Slow?",
      config: debateConfig(),
      agents: inProcessAgents(),
      emit: resumed.emit,
      signal: new AbortController().signal,
      resume: resumeStateFrom(prefix),
    });
    expect(resumed.events.some((e) => e.type === "turn_interrupted" && e.data.reason === "crashed")).toBe(true);
    expect(problems(resumed.events)).toEqual([]);
  });

  test("a schema refuses an event that breaks it (the check can fail)", () => {
    const bad = { type: "vote", debate_id: "d", seq: 1, ts: "t", round: 1, agent: "a", data: { phase: "vote" } };
    expect(problems([bad])).toHaveLength(1);
  });
});

describe("through a real server", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });
  });
  afterAll(() => server?.stop());

  test("the WebSocket's debate events and the receipt_generated event match DebateEventMessage", async () => {
    const id = await createDebate(server, { question: "Do the wire events match?", rounds: 1 });
    const { events } = await watchDebate(server, id);
    expect(events.length).toBeGreaterThan(10);
    expect(events.filter((e) => !DebateEventMessage.allows(e))).toEqual([]);
    expect(events.at(-1)?.type).toBe("receipt_generated");
  });

  test("the OpenAPI document describes each event type's data", async () => {
    const doc = await (await server.fetch(`/swagger/json`)).text();
    for (const t of EVENT_TYPES) expect(doc).toContain(`"${t}"`);
    // A field only the typed schemas name (the old one said only "data: object").
    expect(doc).toContain("first_token_ms");
  });
});
