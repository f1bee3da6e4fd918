/**
 * The debate protocol as plain awaited calls: proposals (round 0), critique-and-revision rounds by
 * topology, then votes and consensus. It knows nothing of actors or storage: it calls
 * `agents.runTurn` and reports what happens through `emit`. The DebateActor gives it a durable
 * emit (the event log); the benchmark's floor gives it a no-op one.
 *
 * Resuming: given the events already in the log ({@link ResumeState}), the protocol walks the same
 * path, takes recorded turn results instead of calling agents again, and does not emit an event
 * whose key is already in the log. An interrupted turn (turn_start without turn_end) runs again;
 * its new turn_start says `restarted: true` so viewers discard the partial tokens.
 *
 * Every turn_start is closed by exactly one turn_end (the turn ran), agent_error (the seat failed)
 * or turn_interrupted (with the turn_start's round, agent, phase and role, and a `reason`):
 * `cancelled`, `shutdown` or `debate_timeout` when the debate stopped during the turn, `crashed`
 * when a resume finds a turn_start the crashed incarnation never closed.
 *
 * @example
 * const outcome = await runProtocol({ debateId: "d-1", question: "Tabs or spaces?", config, agents,
 *   emit: (type, round, agent, data) => log.push({ type, round, agent, data }), signal });
 */
import { type AgentDirectory, AgentTurnError, type DebateRole, type TurnResult, type Usage } from "../agent/turn.ts";
import {
  agreement,
  baselineOf,
  decideConsensus,
  extractAnswer,
  parseVote,
  sameAnswer,
  selfVotes,
} from "./consensus.ts";
import { SignalScope } from "./linked-signal.ts";
import { critiquePrompt, type Prompt, proposalPrompt, revisionPrompt, synthesisPrompt, votePrompt } from "./prompts.ts";
import type {
  AgentTotals,
  Baseline,
  ConsensusOutcome,
  DebateConfig,
  DebateEventEnvelope,
  DebateSummaryData,
  EventType,
  Seat,
  Vote,
} from "./types.ts";

export type Emit = (type: EventType, round: number | null, agent: string | null, data: Record<string, unknown>) => void;

export type Phase = "proposal" | "critique" | "revision" | "vote" | "judge" | "synthesis";

/** A turn as recorded in a turn_end event, enough to replay it without calling the agent. */
export interface RecordedTurn {
  text: string;
  usage: Usage;
  costUsd: number;
  costEstimated: boolean;
  latencyMs: number;
}

/** What the log says already happened; built by {@link resumeStateFrom}. */
export interface ResumeState {
  keys: Set<string>;
  turns: Map<string, RecordedTurn>;
  failures: Map<string, string>;
  /**
   * How long the debate has run so far, counting only time a process was running it: from
   * debate_start (or an incarnation's first event, which carries `resumed_running_ms`) to the
   * incarnation's last logged event. Time the server was down does not count against the timeout.
   */
  runningMs: number;
  /** turn_starts with no turn_end, agent_error or turn_interrupted after them (the last incarnation crashed mid-turn). */
  openTurns: OpenTurn[];
}

/** A turn_start nothing closed. */
export interface OpenTurn {
  round: number;
  agent: string;
  phase: string;
  role: string;
}

/** Why a turn_interrupted closed its turn. */
export type TurnInterruptedReason = "crashed" | "cancelled" | "shutdown" | "debate_timeout";

export interface ProtocolInput {
  debateId: string;
  question: string;
  config: DebateConfig;
  agents: Pick<AgentDirectory, "runTurn">;
  emit: Emit;
  /** Aborted on cancel or shutdown: the protocol stops with {@link DebateInterrupted}. */
  signal: AbortSignal;
  resume?: ResumeState;
  /** Whether an abort of `signal` (its reason) is a cancel or a shutdown, for turn_interrupted's reason. */
  interruptReason?: (reason: unknown) => "cancelled" | "shutdown";
  /**
   * Awaited before each turn starts (before its turn_start and its timers): the actor holds turns
   * here while the store cannot write. Rejects when `signal` aborts.
   */
  beforeTurn?: (signal: AbortSignal) => Promise<void>;
}

export interface ProtocolOutcome {
  status: "completed" | "failed";
  stopReason:
    | "rounds_completed"
    | "converged"
    | "budget_exhausted"
    | "agents_failed"
    | "round_timeout"
    | "debate_timeout";
  error: string | null;
  consensus: ConsensusOutcome | null;
  baseline: Baseline | null;
  summary: DebateSummaryData;
}

/** Thrown when the debate's signal aborts (cancel or shutdown); the log keeps what happened so far. */
export class DebateInterrupted extends Error {
  constructor(readonly reason: unknown) {
    super(`debate interrupted: ${reason instanceof Error ? reason.message : String(reason)}`);
    this.name = "DebateInterrupted";
  }
}

class DebateTimedOut extends Error {}

/** The dedupe key of a structural event. @example eventKey("vote", 4, "demo:bob") // "vote|4|demo:bob|" */
export function eventKey(type: string, round: number | null, agent: string | null, phase = ""): string {
  return `${type}|${round ?? ""}|${agent ?? ""}|${phase}`;
}

const turnKey = (round: number, phase: Phase, agent: string) => `${round}|${phase}|${agent}`;

/**
 * Rebuild what already happened from a debate's events (in seq order).
 *
 * @example const resume = resumeStateFrom(await store.events("d-42"));
 */
export function resumeStateFrom(events: DebateEventEnvelope[]): ResumeState {
  const state: ResumeState = { keys: new Set(), turns: new Map(), failures: new Map(), runningMs: 0, openTurns: [] };
  const open = new Map<string, OpenTurn>();
  // The running time before the current incarnation, and when that incarnation began.
  let before = 0;
  let since: number | undefined;
  for (const e of events) {
    const phase = typeof e.data.phase === "string" ? e.data.phase : "";
    const ts = Date.parse(e.ts);
    if (e.type === "debate_start") since = ts;
    if (typeof e.data.resumed_running_ms === "number") {
      before = e.data.resumed_running_ms;
      since = ts;
    }
    if (since !== undefined) state.runningMs = before + Math.max(0, ts - since);
    if (e.type === "token" || e.type === "fallback") continue;
    state.keys.add(eventKey(e.type, e.round, e.agent, phase));
    if (e.agent !== null && e.round !== null) {
      const at = turnKey(e.round, phase as Phase, e.agent);
      if (e.type === "turn_start") {
        open.set(at, { round: e.round, agent: e.agent, phase, role: String(e.data.role ?? "") });
      } else if (e.type === "turn_end" || e.type === "turn_interrupted" || e.type === "agent_error") {
        open.delete(at);
      }
    }
    if (e.type === "turn_end" && e.agent !== null && e.round !== null) {
      state.turns.set(turnKey(e.round, phase as Phase, e.agent), {
        text: String(e.data.text ?? ""),
        usage: e.data.usage as Usage,
        costUsd: Number((e.data.cost as { usd?: number } | undefined)?.usd ?? 0),
        costEstimated: Boolean((e.data.cost as { estimated?: boolean } | undefined)?.estimated),
        latencyMs: Number(e.data.latency_ms ?? 0),
      });
    }
    if (e.type === "agent_error" && e.agent !== null && e.data.seat_failed === true) {
      // As the live run records it ("<kind>: <message>"), so summary.failed_seats reads the same after a resume.
      const kind = typeof e.data.kind === "string" ? `${e.data.kind}: ` : "";
      state.failures.set(e.agent, `${kind}${String(e.data.message ?? "failed")}`);
    }
  }
  state.openTurns = [...open.values()];
  return state;
}

const ZERO_USAGE: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  estimated: false,
};

/**
 * Who each seat critiques in a round. all_to_all: everyone else; ring: the next seat; star: the hub
 * (first active seat) critiques everyone and everyone critiques the hub.
 *
 * @example critiqueTargets("ring", ["a","b","c"]) // Map { a => [b], b => [c], c => [a] }
 */
export function critiqueTargets(topology: DebateConfig["topology"], active: string[]): Map<string, string[]> {
  const targets = new Map<string, string[]>();
  active.forEach((agent, i) => {
    if (topology === "ring") targets.set(agent, [active[(i + 1) % active.length] as string]);
    else if (topology === "star") targets.set(agent, i === 0 ? active.slice(1) : [active[0] as string]);
    else
      targets.set(
        agent,
        active.filter((a) => a !== agent),
      );
  });
  return targets;
}

/**
 * Run (or resume) one debate to its outcome. Seat failures are absorbed while two seats remain;
 * cancel and shutdown throw {@link DebateInterrupted}.
 *
 * @example const outcome = await runProtocol({ debateId, question, config, agents, emit, signal });
 */
export async function runProtocol(input: ProtocolInput): Promise<ProtocolOutcome> {
  const { debateId, question, config, agents, signal } = input;
  const resume = input.resume;
  // A resumed incarnation's first event records the running time so far, so the next resume
  // knows where this incarnation's running time starts (see ResumeState.runningMs).
  let resumedMark: number | undefined = resume?.runningMs;
  const emit: Emit = (type, round, agent, data) => {
    if (resumedMark === undefined) return input.emit(type, round, agent, data);
    const mark = resumedMark;
    resumedMark = undefined;
    input.emit(type, round, agent, { ...data, resumed_running_ms: mark });
  };
  const seats: Seat[] = config.agents.map((agent) => ({
    agent,
    failed: resume?.failures.has(agent) ?? false,
    failure: resume?.failures.get(agent) ?? null,
    text: "",
    answer: "",
  }));
  const totals: Record<string, AgentTotals> = Object.fromEntries(
    config.agents.map((a) => [
      a,
      { turns: 0, usage: { ...ZERO_USAGE }, costUsd: 0, costEstimated: false, latencyMs: 0 },
    ]),
  );
  const agreementByRound: DebateSummaryData["agreement"] = [];
  // Only running time counts: a debate resumed after downtime gets what it had left, not less.
  const signals = new SignalScope();
  const debateTimeout = signals.link([], Math.max(1, config.timeouts.debateMs - (resume?.runningMs ?? 0)));
  const roundTimeoutMessage = (round: number) =>
    `the round timed out: round ${round} exceeded its ${config.timeouts.roundMs} ms timeout`;

  const emitOnce = (type: EventType, round: number | null, agent: string | null, data: Record<string, unknown>) => {
    const phase = typeof data.phase === "string" ? data.phase : "";
    if (resume?.keys.has(eventKey(type, round, agent, phase))) return;
    emit(type, round, agent, data);
  };
  const active = () => seats.filter((s) => !s.failed);
  const spent = () => {
    let tokens = 0;
    let cost = 0;
    for (const t of Object.values(totals)) {
      tokens += t.usage.inputTokens + t.usage.outputTokens;
      cost += t.costUsd;
    }
    return { tokens, cost };
  };
  const overBudget = () => {
    const { tokens, cost } = spent();
    return (
      (config.budget.maxTokens !== null && tokens >= config.budget.maxTokens) ||
      (config.budget.maxCostUsd !== null && cost >= config.budget.maxCostUsd)
    );
  };
  const account = (agent: string, t: RecordedTurn) => {
    const a = totals[agent] as AgentTotals;
    a.turns++;
    a.usage.inputTokens += t.usage.inputTokens;
    a.usage.outputTokens += t.usage.outputTokens;
    a.usage.cacheReadTokens += t.usage.cacheReadTokens;
    a.usage.cacheWriteTokens += t.usage.cacheWriteTokens;
    a.usage.reasoningTokens += t.usage.reasoningTokens;
    a.usage.estimated ||= t.usage.estimated;
    a.costUsd += t.costUsd;
    a.costEstimated ||= t.costEstimated;
    a.latencyMs += t.latencyMs;
  };

  /** One turn of one seat: replayed from the log when recorded, else run on the agent. */
  const turn = async (
    round: number,
    phase: Phase,
    seat: Seat,
    role: DebateRole,
    prompt: Prompt,
    roundSignal: AbortSignal,
  ): Promise<RecordedTurn | null> => {
    const key = turnKey(round, phase, seat.agent);
    const recorded = resume?.turns.get(key);
    if (recorded) {
      account(seat.agent, recorded);
      return recorded;
    }
    if (seat.failed) return null;
    if (input.beforeTurn) {
      try {
        await input.beforeTurn(signal);
      } catch (err) {
        if (signal.aborted) throw new DebateInterrupted(signal.reason);
        throw err;
      }
    }
    const restarted = resume?.keys.has(eventKey("turn_start", round, seat.agent, phase)) ?? false;
    emit("turn_start", round, seat.agent, { phase, role, ...(restarted ? { restarted: true } : {}) });
    const turnSignal = signals.link([roundSignal], config.timeouts.turnMs);
    let result: TurnResult;
    try {
      result = await agents.runTurn(seat.agent, {
        debateId,
        round,
        role,
        system: prompt.system,
        prompt: prompt.prompt,
        signal: turnSignal,
        onToken: (delta) => {
          if (!turnSignal.aborted) emit("token", round, seat.agent, { phase, text: delta });
        },
        onFallback: (info) =>
          emit("fallback", round, seat.agent, {
            phase,
            from: info.from,
            to: info.to,
            reason: info.reason,
            after_first_token: info.afterFirstToken,
            discarded_partial: info.discardedPartial,
          }),
      });
    } catch (err) {
      signals.release(turnSignal);
      if (signal.aborted) {
        const reason = input.interruptReason?.(signal.reason) ?? "shutdown";
        emit("turn_interrupted", round, seat.agent, { phase, role, reason });
        throw new DebateInterrupted(signal.reason);
      }
      if (debateTimeout.aborted) {
        emit("turn_interrupted", round, seat.agent, { phase, role, reason: "debate_timeout" });
        throw new DebateTimedOut("debate timed out");
      }
      // The round's deadline reaches the turn as the round signal's own reason (the turn's own
      // deadline is another one): say so, or every seat would read "the turn timed out".
      const roundTimedOut = roundSignal.aborted && turnSignal.aborted && turnSignal.reason === roundSignal.reason;
      const kind = roundTimedOut
        ? "round_timeout"
        : err instanceof AgentTurnError
          ? err.kind
          : turnSignal.aborted
            ? "timeout"
            : ("provider_error" as const);
      const message = roundTimedOut ? roundTimeoutMessage(round) : err instanceof Error ? err.message : String(err);
      seat.failed = true;
      seat.failure = `${kind}: ${message}`;
      emit("agent_error", round, seat.agent, { phase, kind, message, seat_failed: true });
      return null;
    }
    signals.release(turnSignal);
    const done: RecordedTurn = {
      text: result.text,
      usage: result.usage,
      costUsd: result.cost.usd,
      costEstimated: result.cost.estimated,
      latencyMs: result.latencyMs,
    };
    emit("turn_end", round, seat.agent, {
      phase,
      role,
      text: result.text,
      usage: result.usage,
      cost: result.cost,
      latency_ms: result.latencyMs,
      first_token_ms: result.firstTokenMs,
      provider: result.provider,
      model: result.model,
      simulated: result.simulated,
      ...(result.fallback ? { fallback: result.fallback.to } : {}),
    });
    account(seat.agent, done);
    return done;
  };

  const roundSignalFor = () => signals.link([signal, debateTimeout], config.timeouts.roundMs);
  const enoughSeats = () => active().length >= 2;
  const failureReason = () => {
    const left = active().map((s) => s.agent);
    const failed = seats.filter((s) => s.failed).map((s) => `${s.agent} (${s.failure})`);
    return `only ${left.length} agent(s) left (${left.join(", ") || "none"}); failed: ${failed.join("; ")}`;
  };
  const summary = (roundsCompleted: number): DebateSummaryData => {
    const { tokens, cost } = spent();
    return {
      agreement: agreementByRound,
      agents: totals,
      totals: { tokens, costUsd: Math.round(cost * 1e6) / 1e6 },
      failedSeats: Object.fromEntries(seats.filter((s) => s.failed).map((s) => [s.agent, s.failure ?? "failed"])),
      roundsCompleted,
      finalAnswers: Object.fromEntries(active().map((s) => [s.agent, s.answer])),
    };
  };
  const fail = (
    stopReason: ProtocolOutcome["stopReason"],
    error: string,
    rounds: number,
    baseline: Baseline | null,
  ) => {
    const outcome: ProtocolOutcome = {
      status: "failed",
      stopReason,
      error,
      consensus: null,
      baseline,
      summary: summary(rounds),
    };
    emitOnce("debate_end", null, null, endData(outcome));
    return outcome;
  };

  /** Too few seats left after a phase of `round`: a round timeout when the round's deadline passed. */
  const seatsLost = (round: number, roundSignal: AbortSignal, rounds: number, base: Baseline | null) =>
    roundSignal.aborted && !debateTimeout.aborted
      ? fail("round_timeout", `${roundTimeoutMessage(round)}; ${failureReason()}`, rounds, base)
      : fail("agents_failed", failureReason(), rounds, base);

  // Close the turns the crashed incarnation left open, so every turn_start pairs with an end.
  for (const t of resume?.openTurns ?? []) {
    const reason: TurnInterruptedReason = "crashed";
    emit("turn_interrupted", t.round, t.agent, { phase: t.phase, role: t.role, reason });
  }
  emitOnce("debate_start", null, null, {
    question,
    agents: config.agents,
    rounds: config.rounds,
    consensus: config.consensus,
    topology: config.topology,
  });
  if (signal.aborted) throw new DebateInterrupted(signal.reason);

  let baseline: Baseline | null = null;
  let roundsCompleted = 0;
  let stopReason: ProtocolOutcome["stopReason"] = "rounds_completed";
  try {
    // Round 0: independent proposals.
    emitOnce("round_start", 0, null, { phase: "proposal", agents: active().map((s) => s.agent) });
    const r0 = roundSignalFor();
    await allTurns(
      seats.map(async (seat) => {
        const t = await turn(0, "proposal", seat, "proposer", proposalPrompt(question), r0);
        if (t) {
          seat.text = t.text;
          seat.answer = extractAnswer(t.text);
        }
      }),
    );
    if (signal.aborted) throw new DebateInterrupted(signal.reason);
    if (!enoughSeats()) return seatsLost(0, r0, 0, null);
    baseline = baselineOf(seats);
    agreementByRound.push({ round: 0, agreement: agreement(seats) });
    if (overBudget()) stopReason = "budget_exhausted";
    else if ((agreementByRound.at(-1)?.agreement ?? 0) >= config.convergenceThreshold) stopReason = "converged";

    for (let round = 1; round <= config.rounds && stopReason === "rounds_completed"; round++) {
      emitOnce("round_start", round, null, { phase: "critique", agents: active().map((s) => s.agent) });
      const rs = roundSignalFor();
      const targets = critiqueTargets(
        config.topology,
        active().map((s) => s.agent),
      );
      const critiques = new Map<string, { agent: string; text: string }[]>();
      await allTurns(
        active().map(async (seat) => {
          const aims = targets.get(seat.agent) ?? [];
          const role: DebateRole = config.roles.devilsAdvocate === seat.agent ? "devils_advocate" : "critic";
          const shown = aims.map((a) => ({ agent: a, text: seats.find((s) => s.agent === a)?.text ?? "" }));
          const t = await turn(round, "critique", seat, role, critiquePrompt(question, round, shown, role), rs);
          if (!t) return;
          for (const target of aims) {
            const list = critiques.get(target) ?? [];
            list.push({ agent: seat.agent, text: t.text });
            critiques.set(target, list);
          }
          emitOnce("critique", round, seat.agent, { phase: "critique", role, targets: aims, text: t.text });
        }),
      );
      if (signal.aborted) throw new DebateInterrupted(signal.reason);
      if (!enoughSeats()) return seatsLost(round, rs, round - 1, baseline);
      // The budget is checked after every phase (the turns of a phase run at once, so a phase in
      // flight finishes): spent on the critiques, the round stops before its revisions.
      if (overBudget()) {
        stopReason = "budget_exhausted";
        break;
      }
      await allTurns(
        active().map(async (seat) => {
          const received = critiques.get(seat.agent) ?? [];
          const t = await turn(
            round,
            "revision",
            seat,
            "proposer",
            revisionPrompt(question, round, seat.text, received),
            rs,
          );
          if (t) {
            seat.text = t.text;
            seat.answer = extractAnswer(t.text);
          }
        }),
      );
      if (signal.aborted) throw new DebateInterrupted(signal.reason);
      if (!enoughSeats()) return seatsLost(round, rs, round - 1, baseline);
      roundsCompleted = round;
      agreementByRound.push({ round, agreement: agreement(seats) });
      if (overBudget()) stopReason = "budget_exhausted";
      else if ((agreementByRound.at(-1)?.agreement ?? 0) >= config.convergenceThreshold && round < config.rounds) {
        stopReason = "converged";
      }
    }

    // Votes and consensus, in the round after the last one that ran.
    const voteRound = roundsCompleted + 1;
    let votes: Vote[];
    let method: ConsensusOutcome["method"] = config.consensus;
    if (stopReason === "budget_exhausted") {
      // No budget left for a vote round: every seat stands by its own answer.
      votes = selfVotes(seats);
      method = "answers";
    } else {
      emitOnce("round_start", voteRound, null, { phase: config.consensus === "judge" ? "judge" : "vote" });
      const vs = roundSignalFor();
      const candidates = active().map((s) => ({ agent: s.agent, answer: s.answer, text: s.text }));
      const names = candidates.map((c) => c.agent);
      const voters =
        config.consensus === "judge"
          ? [seats.find((s) => s.agent === config.roles.judge && !s.failed) ?? (active()[0] as Seat)]
          : active();
      const phase: Phase = config.consensus === "judge" ? "judge" : "vote";
      const role = config.consensus === "judge" ? "judge" : "voter";
      const cast = await allTurns(
        voters.map(async (seat) => {
          const t = await turn(voteRound, phase, seat, role, votePrompt(question, candidates, role), vs);
          if (!t) return null;
          const parsed = parseVote(t.text, names);
          const vote: Vote = { voter: seat.agent, ...parsed };
          emitOnce("vote", voteRound, seat.agent, {
            phase,
            choice: vote.choice,
            confidence: vote.confidence,
            abstained: vote.choice === null,
            reason: vote.reason,
          });
          return vote;
        }),
      );
      if (signal.aborted) throw new DebateInterrupted(signal.reason);
      votes = cast.filter((v): v is Vote => v !== null);
      if (!enoughSeats()) return seatsLost(voteRound, vs, roundsCompleted, baseline);
    }
    const consensus = decideConsensus(method, seats, votes);
    const synthesiser = seats.find((s) => s.agent === config.roles.synthesiser && !s.failed);
    if (consensus.reached && consensus.answer !== null && synthesiser && stopReason !== "budget_exhausted") {
      const supporting = seats.filter((s) => consensus.supporters.includes(s.agent)).map((s) => s.text);
      const t = await turn(
        voteRound,
        "synthesis",
        synthesiser,
        "synthesiser",
        synthesisPrompt(question, consensus.answer, supporting),
        roundSignalFor(),
      );
      if (signal.aborted) throw new DebateInterrupted(signal.reason);
      if (t) consensus.synthesis = t.text;
    }
    emitOnce("consensus", voteRound, null, {
      method: consensus.method,
      reached: consensus.reached,
      answer: consensus.answer,
      winner: consensus.winner,
      supporters: consensus.supporters,
      support: consensus.support,
      baseline_answer: baseline?.answer ?? null,
      same_as_baseline:
        baseline?.answer != null && consensus.answer !== null ? sameAnswer(baseline.answer, consensus.answer) : false,
      ...(consensus.synthesis ? { synthesis: consensus.synthesis } : {}),
    });
    const outcome: ProtocolOutcome = {
      status: "completed",
      stopReason,
      error: null,
      consensus,
      baseline,
      summary: summary(roundsCompleted),
    };
    emitOnce("debate_end", null, null, endData(outcome));
    return outcome;
  } catch (err) {
    if (
      err instanceof DebateTimedOut ||
      (debateTimeout.aborted && !signal.aborted && !(err instanceof DebateInterrupted))
    ) {
      return fail(
        "debate_timeout",
        `the debate exceeded its ${config.timeouts.debateMs} ms timeout`,
        roundsCompleted,
        baseline,
      );
    }
    throw err;
  } finally {
    signals.releaseAll();
  }
}

/**
 * Promise.all that waits for every turn to settle before rejecting: a cancel or timeout rejects the
 * first turn, and the others must log their turn_interrupted before the debate's end, not after.
 */
async function allTurns<T>(turns: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(turns);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function endData(o: ProtocolOutcome): Record<string, unknown> {
  return {
    status: o.status,
    stop_reason: o.stopReason,
    error: o.error,
    consensus_answer: o.consensus?.answer ?? null,
    consensus_reached: o.consensus?.reached ?? false,
    rounds_completed: o.summary.roundsCompleted,
    agreement: o.summary.agreement,
    totals: o.summary.totals,
  };
}
