/**
 * The per-debate timeout counts running time only: a debate resumed after the server was down
 * longer than its timeout carries on with what it had left, and each incarnation records the
 * running time so far so the next resume counts from there.
 */
import { describe, expect, test } from "bun:test";
import { type Emit, resumeStateFrom, runProtocol } from "../../actors/debate/protocol.ts";
import type { DebateEventEnvelope } from "../../actors/debate/types.ts";
import { debateConfig, inProcessAgents } from "./in-process-agents.ts";

const HOUR = 3_600_000;
const config = debateConfig({ timeouts: { turnMs: 5000, roundMs: 10_000, debateMs: 60_000 } });

/** An event log whose timestamps say when each event was appended. */
function log() {
  const events: DebateEventEnvelope[] = [];
  let at = 0;
  const emit: Emit = (type, round, agent, data) => {
    events.push({
      type,
      debate_id: "d-t",
      seq: events.length + 1,
      ts: new Date(at || Date.now()).toISOString(),
      round,
      agent,
      data,
    } as DebateEventEnvelope);
  };
  return { events, emit, setClock: (ms: number) => (at = ms) };
}

describe("the per-debate timeout counts running time only", () => {
  test("running time is summed per incarnation; downtime is left out", () => {
    const t0 = Date.parse("2026-11-28T00:00:00Z");
    const e = (seq: number, at: number, data: Record<string, unknown> = {}): DebateEventEnvelope =>
      ({
        type: seq === 1 ? "debate_start" : "turn_start",
        debate_id: "d-t",
        seq,
        ts: new Date(at).toISOString(),
        round: seq === 1 ? null : 0,
        agent: seq === 1 ? null : `t:${seq}`,
        data,
      }) as DebateEventEnvelope;
    // 10 s of running, 2 h down, 5 s of running (the resumed incarnation's first event says 10 s).
    const events = [e(1, t0), e(2, t0 + 10_000), e(3, t0 + 10_000 + 2 * HOUR, { resumed_running_ms: 10_000 })];
    events.push(e(4, t0 + 15_000 + 2 * HOUR));
    expect(resumeStateFrom(events).runningMs).toBe(15_000);
    // A second crash and resume keeps adding only the running spans.
    events.push(e(5, t0 + 15_000 + 5 * HOUR, { resumed_running_ms: 15_000 }), e(6, t0 + 16_000 + 5 * HOUR));
    expect(resumeStateFrom(events).runningMs).toBe(16_000);
  });

  test("a debate started long before its timeout, interrupted, then resumed hours later, completes", async () => {
    const first = log();
    await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config,
      agents: inProcessAgents(),
      emit: first.emit,
      signal: new AbortController().signal,
    });
    // The log as a crash two hours ago would have left it: cut mid round 1, stamped 2 h in the past.
    const cut = first.events.findIndex((e) => e.type === "turn_start" && e.round === 1);
    const stale = first.events.slice(0, cut + 1).map((e) => ({
      ...e,
      ts: new Date(Date.parse(e.ts) - 2 * HOUR).toISOString(),
    }));
    const rest = log();
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config,
      agents: inProcessAgents(),
      emit: rest.emit,
      signal: new AbortController().signal,
      resume: resumeStateFrom(stale),
    });
    expect(outcome.status).toBe("completed");
    expect(outcome.stopReason).not.toBe("debate_timeout");
    // The resumed incarnation's first event carries the running time before it (well under a minute).
    const mark = rest.events[0]?.data.resumed_running_ms as number;
    expect(mark).toBeGreaterThanOrEqual(0);
    expect(mark).toBeLessThan(config.timeouts.debateMs);
    expect(rest.events.filter((e) => "resumed_running_ms" in e.data)).toHaveLength(1);
  });

  test("the remaining running time still bounds the resumed debate", async () => {
    const slow = inProcessAgents({ tokenDelayMs: 100 });
    const start = log();
    start.setClock(Date.parse("2026-11-28T00:00:00Z"));
    start.emit("debate_start", null, null, {
      question: "Q?",
      agents: config.agents,
      rounds: config.rounds,
      consensus: config.consensus,
      topology: config.topology,
    });
    // 59.9 s of the 60 s were used before the crash; the resumed debate times out almost at once.
    start.setClock(Date.parse("2026-11-28T00:00:59.900Z"));
    start.emit("round_start", 0, null, { phase: "proposal", agents: config.agents });
    const rest = log();
    const outcome = await runProtocol({
      debateId: "d-t",
      question: "Q?",
      config,
      agents: slow,
      emit: rest.emit,
      signal: new AbortController().signal,
      resume: resumeStateFrom(start.events),
    });
    expect(outcome.status).toBe("failed");
    expect(outcome.stopReason).toBe("debate_timeout");
    expect(rest.events.find((e) => e.type === "debate_end")?.data.stop_reason).toBe("debate_timeout");
  });
});

describe("deadlines run on the actor system's clock", () => {
  /** Agents that never answer: a turn ends only when its signal aborts. */
  const silent = {
    runTurn: (_agent: string, req: { signal: AbortSignal }) =>
      new Promise<never>((_, reject) => {
        req.signal.addEventListener("abort", () => reject(req.signal.reason), { once: true });
      }),
  };

  test("the debate's timeout fires when a simulated clock passes it, without sleeping", async () => {
    const { SimulatedClock } = await import("../../runtime/actor/clock.ts");
    const clock = new SimulatedClock();
    const { events, emit } = log();
    const outcome = runProtocol({
      debateId: "d-t",
      question: "Will the clock tell?",
      config: debateConfig({ timeouts: { turnMs: HOUR, roundMs: 2 * HOUR, debateMs: 30 * 60_000 } }),
      agents: silent as never,
      emit,
      signal: new AbortController().signal,
      clock,
    });
    let settled = false;
    void outcome.then(() => (settled = true));
    await Bun.sleep(20);
    // Real time passes; the simulated clock does not: every turn still waits.
    expect(settled).toBe(false);
    expect(events.filter((e) => e.type === "turn_start")).toHaveLength(3);
    clock.advance(30 * 60_000 - 1);
    await Bun.sleep(0);
    expect(settled).toBe(false);
    clock.advance(1);
    const ended = await outcome;
    expect(ended).toMatchObject({ status: "failed", stopReason: "debate_timeout" });
    const reasons = events.filter((e) => e.type === "turn_interrupted").map((e) => e.data.reason);
    expect(reasons).toEqual(["debate_timeout", "debate_timeout", "debate_timeout"]);
    expect(events.at(-1)?.type).toBe("debate_end");
  });

  test("a turn's timeout fails its seat when the simulated clock passes it", async () => {
    const { SimulatedClock } = await import("../../runtime/actor/clock.ts");
    const clock = new SimulatedClock();
    const { events, emit } = log();
    const outcome = runProtocol({
      debateId: "d-t",
      question: "Will the turn time out?",
      config: debateConfig({ timeouts: { turnMs: 1000, roundMs: HOUR, debateMs: 2 * HOUR } }),
      agents: silent as never,
      emit,
      signal: new AbortController().signal,
      clock,
    });
    await Bun.sleep(10);
    expect(events.filter((e) => e.type === "agent_error")).toHaveLength(0);
    clock.advance(1000);
    expect(await outcome).toMatchObject({ status: "failed", stopReason: "agents_failed" });
    expect(events.filter((e) => e.type === "agent_error").map((e) => e.data.kind)).toEqual([
      "timeout",
      "timeout",
      "timeout",
    ]);
  });
});
