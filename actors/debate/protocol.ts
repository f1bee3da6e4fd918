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
import {
  DebateInterrupted,
  DebateRun,
  DebateTimedOut,
  endData,
  type ProtocolInput,
  type ProtocolOutcome,
} from "./protocol/debate-run.ts";
import { consensus, critiqueRound, proposals, type RoundsState, votes } from "./protocol/phases.ts";
import type { TurnInterruptedReason } from "./protocol/resume-state.ts";

export {
  DebateInterrupted,
  type Emit,
  type ProtocolInput,
  type ProtocolOutcome,
} from "./protocol/debate-run.ts";
export { critiqueTargets } from "./protocol/phases.ts";
export {
  eventKey,
  type OpenTurn,
  type Phase,
  type RecordedTurn,
  type ResumeState,
  resumeStateFrom,
  type TurnInterruptedReason,
} from "./protocol/resume-state.ts";

/**
 * Run (or resume) one debate to its outcome. Seat failures are absorbed while two seats remain;
 * cancel and shutdown throw {@link DebateInterrupted}. The phases (./protocol/phases.ts) share one
 * {@link DebateRun}: the tally, the deadlines and the turn.
 *
 * @example const outcome = await runProtocol({ debateId, question, config, agents, emit, signal });
 */
export async function runProtocol(input: ProtocolInput): Promise<ProtocolOutcome> {
  const run = new DebateRun(input);
  const { config, signal, resume } = input;
  // Close the turns the crashed incarnation left open, so every turn_start pairs with an end.
  for (const t of resume?.openTurns ?? []) {
    const reason: TurnInterruptedReason = "crashed";
    run.emit("turn_interrupted", t.round, t.agent, { phase: t.phase, role: t.role, reason });
  }
  run.emitOnce("debate_start", null, null, {
    question: input.question,
    agents: config.agents,
    rounds: config.rounds,
    consensus: config.consensus,
    topology: config.topology,
  });
  run.checkInterrupted();

  const state: RoundsState = { baseline: null, roundsCompleted: 0, stopReason: "rounds_completed" };
  try {
    const early = await proposals(run, state);
    if (early) return early;
    for (let round = 1; round <= config.rounds && state.stopReason === "rounds_completed"; round++) {
      const ended = await critiqueRound(run, state, round);
      if (ended) return ended;
    }
    const cast = await votes(run, state);
    if ("summary" in cast) return cast;
    const decided = await consensus(run, state, cast);
    const outcome: ProtocolOutcome = {
      status: "completed",
      stopReason: state.stopReason,
      error: null,
      consensus: decided,
      baseline: state.baseline,
      summary: run.tally.summary(state.roundsCompleted),
    };
    run.emitOnce("debate_end", null, null, endData(outcome));
    return outcome;
  } catch (err) {
    if (
      err instanceof DebateTimedOut ||
      (run.debateTimeout.aborted && !signal.aborted && !(err instanceof DebateInterrupted))
    ) {
      return run.fail(
        "debate_timeout",
        `the debate exceeded its ${config.timeouts.debateMs} ms timeout`,
        state.roundsCompleted,
        state.baseline,
      );
    }
    throw err;
  } finally {
    run.signals.releaseAll();
  }
}
