/**
 * One run of the protocol: what every phase shares. It holds the input, the tally, the nested
 * deadlines (debate, round, turn), the emit that marks a resumed incarnation's first event, and
 * {@link DebateRun.turn}, the one place a seat's turn is run (or replayed from the log) and
 * closed by exactly one turn_end, agent_error or turn_interrupted.
 *
 * @example
 * const run = new DebateRun(input);
 * const t = await run.turn(0, "proposal", seat, "proposer", proposalPrompt(question), run.roundSignal());
 */
import { type Clock, realClock } from "../../../runtime/actor/index.ts";
import { type AgentDirectory, AgentTurnError, type DebateRole, type TurnResult } from "../../agent/turn.ts";
import { SignalScope } from "../linked-signal.ts";
import type { Prompt } from "../prompts.ts";
import type {
  Baseline,
  ConsensusOutcome,
  DebateConfig,
  DebateSummaryData,
  EventData,
  EventType,
  Seat,
} from "../types.ts";
import { eventKey, type Phase, type RecordedTurn, type ResumeState, turnKey } from "./resume-state.ts";
import { Tally } from "./tally.ts";

/** Report one event of the debate; `data` is typed by the event's schema (schemas/debate-events.ts). */
export type Emit = <T extends EventType>(
  type: T,
  round: number | null,
  agent: string | null,
  data: EventData<T>,
) => void;

export interface ProtocolInput {
  debateId: string;
  question: string;
  config: DebateConfig;
  /** The organisation whose debate it is: its own provider keys apply to the turns. */
  orgId?: string;
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
  /** The clock of the debate's deadlines (the actor system's; tests drive it). Default: real time. */
  clock?: Clock;
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

/** Thrown out of a turn when the debate's own deadline passed during it. */
export class DebateTimedOut extends Error {}

export class DebateRun {
  readonly tally: Tally;
  readonly signals: SignalScope;
  /** Aborts when the debate's running time is up (only running time counts across resumes). */
  readonly debateTimeout: AbortSignal;
  readonly emit: Emit;
  private resumedMark: number | undefined;

  constructor(readonly input: ProtocolInput) {
    const { config, resume } = input;
    this.tally = new Tally(config.agents, resume);
    this.signals = new SignalScope(input.clock ?? realClock);
    this.debateTimeout = this.signals.link([], Math.max(1, config.timeouts.debateMs - (resume?.runningMs ?? 0)));
    // A resumed incarnation's first event records the running time so far, so the next resume
    // knows where this incarnation's running time starts (see ResumeState.runningMs).
    this.resumedMark = resume?.runningMs;
    this.emit = <T extends EventType>(type: T, round: number | null, agent: string | null, data: EventData<T>) => {
      if (this.resumedMark === undefined) return input.emit(type, round, agent, data);
      const mark = this.resumedMark;
      this.resumedMark = undefined;
      input.emit(type, round, agent, { ...data, resumed_running_ms: mark });
    };
  }

  get config(): DebateConfig {
    return this.input.config;
  }

  get signal(): AbortSignal {
    return this.input.signal;
  }

  /** Emit a structural event unless the log already holds it (a resumed debate walks the same path). */
  emitOnce<T extends EventType>(type: T, round: number | null, agent: string | null, data: EventData<T>): void {
    const phase = "phase" in data && typeof data.phase === "string" ? data.phase : "";
    if (this.input.resume?.keys.has(eventKey(type, round, agent, phase))) return;
    this.emit(type, round, agent, data);
  }

  /** A round's deadline, under the debate's signal and deadline. */
  roundSignal(): AbortSignal {
    return this.signals.link([this.input.signal, this.debateTimeout], this.config.timeouts.roundMs);
  }

  /** Throw {@link DebateInterrupted} when the debate was cancelled or shut down. */
  checkInterrupted(): void {
    if (this.input.signal.aborted) throw new DebateInterrupted(this.input.signal.reason);
  }

  roundTimeoutMessage(round: number): string {
    return `the round timed out: round ${round} exceeded its ${this.config.timeouts.roundMs} ms timeout`;
  }

  /** End the debate failed: debate_end (once) and the outcome. */
  fail(
    stopReason: ProtocolOutcome["stopReason"],
    error: string,
    rounds: number,
    baseline: Baseline | null,
  ): ProtocolOutcome {
    const outcome: ProtocolOutcome = {
      status: "failed",
      stopReason,
      error,
      consensus: null,
      baseline,
      summary: this.tally.summary(rounds),
    };
    this.emitOnce("debate_end", null, null, endData(outcome));
    return outcome;
  }

  /** Too few seats left after a phase of `round`: a round timeout when the round's deadline passed. */
  seatsLost(round: number, roundSignal: AbortSignal, rounds: number, base: Baseline | null): ProtocolOutcome {
    return roundSignal.aborted && !this.debateTimeout.aborted
      ? this.fail("round_timeout", `${this.roundTimeoutMessage(round)}; ${this.tally.failureReason()}`, rounds, base)
      : this.fail("agents_failed", this.tally.failureReason(), rounds, base);
  }

  /** One turn of one seat: replayed from the log when recorded, else run on the agent. */
  async turn(
    round: number,
    phase: Phase,
    seat: Seat,
    role: DebateRole,
    prompt: Prompt,
    roundSignal: AbortSignal,
  ): Promise<RecordedTurn | null> {
    const { input, signals, tally, emit } = this;
    const { signal, resume, config } = input;
    const recorded = resume?.turns.get(turnKey(round, phase, seat.agent));
    if (recorded) {
      tally.account(seat.agent, recorded);
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
      result = await input.agents.runTurn(seat.agent, {
        debateId: input.debateId,
        orgId: input.orgId,
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
      if (this.debateTimeout.aborted) {
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
      const message = roundTimedOut
        ? this.roundTimeoutMessage(round)
        : err instanceof Error
          ? err.message
          : String(err);
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
    tally.account(seat.agent, done);
    return done;
  }
}

/**
 * Promise.all that waits for every turn to settle before rejecting: a cancel or timeout rejects the
 * first turn, and the others must log their turn_interrupted before the debate's end, not after.
 *
 * @example const texts = await allTurns(seats.map((s) => run.turn(0, "proposal", s, "proposer", p, r0)));
 */
export async function allTurns<T>(turns: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(turns);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** debate_end's data. @example endData(outcome).stop_reason // "converged" */
export function endData(o: ProtocolOutcome): EventData<"debate_end"> {
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
