import { describe, expect, test } from "bun:test";
import type { StoredEvent } from "./debate-store.ts";
import type { DebateSummaryData } from "./types.ts";
import { type DebateUsage, usageFromEvents, usageFromSummary, usageReport } from "./usage.ts";

const usage = (input: number, output: number, estimated = false) => ({
  inputTokens: input,
  outputTokens: output,
  cacheReadTokens: 1,
  cacheWriteTokens: 2,
  reasoningTokens: 3,
  estimated,
});

function turnEnd(seq: number, round: number, agent: string, phase: string, input: number, usd: number): StoredEvent {
  const envelope = {
    type: "turn_end",
    debate_id: "d-1",
    seq,
    round,
    agent,
    data: { phase, usage: usage(input, 10), cost: { usd, source: "price_table@1", estimated: false } },
  };
  return { debateId: "d-1", seq, type: "turn_end", round, agent, ts: 0, hash: "", payload: JSON.stringify(envelope) };
}

describe("usage of one debate", () => {
  test("from its summary: per agent as recorded", () => {
    const summary = {
      agents: {
        "a:x": { turns: 3, usage: usage(100, 50), costUsd: 0.25, costEstimated: false, latencyMs: 1 },
        "b:y": { turns: 2, usage: usage(10, 5, true), costUsd: 0, costEstimated: false, latencyMs: 1 },
      },
    } as unknown as DebateSummaryData;
    expect(usageFromSummary(summary)).toEqual({
      "a:x": {
        turns: 3,
        inputTokens: 100,
        outputTokens: 50,
        cacheReadTokens: 1,
        cacheWriteTokens: 2,
        reasoningTokens: 3,
        costUsd: 0.25,
        estimated: false,
      },
      "b:y": {
        turns: 2,
        inputTokens: 10,
        outputTokens: 5,
        cacheReadTokens: 1,
        cacheWriteTokens: 2,
        reasoningTokens: 3,
        costUsd: 0,
        estimated: true,
      },
    });
  });

  test("from its log: each turn_end once, other events ignored", () => {
    const other: StoredEvent = { ...turnEnd(3, 0, "a:x", "proposal", 1, 1), type: "token" };
    const events = [
      turnEnd(1, 0, "a:x", "proposal", 100, 0.1),
      turnEnd(2, 0, "b:y", "proposal", 200, 0.2),
      other,
      // The same turn again (a log read twice must not count it twice).
      turnEnd(4, 0, "a:x", "proposal", 100, 0.1),
      turnEnd(5, 1, "a:x", "critique", 50, 0.05),
    ];
    const got = usageFromEvents(events);
    expect(got["a:x"]).toMatchObject({ turns: 2, inputTokens: 150, outputTokens: 20, reasoningTokens: 6 });
    expect(got["a:x"]?.costUsd).toBeCloseTo(0.15, 9);
    expect(got["b:y"]).toMatchObject({ turns: 1, inputTokens: 200, costUsd: 0.2 });
    expect(usageFromEvents([])).toEqual({});
  });
});

describe("the report", () => {
  const agent = (input: number, output: number, costUsd: number, estimated = false) => ({
    turns: 2,
    inputTokens: input,
    outputTokens: output,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: 0,
    costUsd,
    estimated,
  });
  const debates: DebateUsage[] = [
    {
      id: "d-1",
      userId: "u-a",
      createdAt: new Date("2026-05-01T23:59:59Z"),
      running: false,
      agents: { x: agent(10, 5, 0.1), y: agent(1, 1, 0.2) },
    },
    {
      id: "d-2",
      userId: "u-b",
      createdAt: new Date("2026-05-02T00:00:00Z"),
      running: true,
      agents: { x: agent(20, 10, 0.3, true) },
    },
    { id: "d-3", userId: "u-a", createdAt: new Date("2026-05-02T10:00:00Z"), running: false, agents: {} },
  ];

  test("totals, per UTC day oldest first, per user and per agent costliest first", () => {
    const r = usageReport(debates);
    expect(r.totals).toEqual({
      debates: 3,
      running: 1,
      input_tokens: 31,
      output_tokens: 16,
      cache_read_tokens: 0,
      cache_write_tokens: 0,
      reasoning_tokens: 0,
      tokens: 47,
      cost_usd: 0.6,
      estimated: true,
    });
    expect(r.by_day.map((d) => [d.date, d.debates, d.tokens, d.cost_usd])).toEqual([
      ["2026-05-01", 1, 17, 0.3],
      ["2026-05-02", 2, 30, 0.3],
    ]);
    // A tie in cost is broken by name.
    expect(r.by_user.map((u) => [u.user_id, u.debates, u.tokens, u.cost_usd])).toEqual([
      ["u-a", 2, 17, 0.3],
      ["u-b", 1, 30, 0.3],
    ]);
    expect(r.by_agent.map((a) => [a.agent, a.debates, a.turns, a.tokens, a.cost_usd, a.estimated])).toEqual([
      ["x", 2, 4, 45, 0.4, true],
      ["y", 1, 2, 2, 0.2, false],
    ]);
  });

  test("nothing to report is zeros, not an error", () => {
    expect(usageReport([])).toMatchObject({
      totals: { debates: 0, cost_usd: 0 },
      by_day: [],
      by_user: [],
      by_agent: [],
    });
  });
});
