/**
 * The phases of a debate, each a function of the shared {@link DebateRun}: independent proposals
 * (round 0), critique-and-revision rounds by topology, votes (or a judge), and the consensus with
 * its optional synthesis. A phase returns an outcome when the debate ends inside it (too few seats
 * left), else nothing; the budget is checked after every phase (the turns of a phase run at once,
 * so a phase in flight finishes).
 *
 * @example
 * const early = await proposals(run); // undefined: go on with the rounds
 */
import type { DebateRole } from "../../agent/turn.ts";
import {
  agreement,
  baselineOf,
  decideConsensus,
  extractAnswer,
  parseVote,
  sameAnswer,
  selfVotes,
} from "../consensus.ts";
import { critiquePrompt, proposalPrompt, revisionPrompt, synthesisPrompt, votePrompt } from "../prompts.ts";
import type { Baseline, ConsensusOutcome, DebateConfig, Seat, Vote } from "../types.ts";
import { allTurns, type DebateRun, type ProtocolOutcome } from "./debate-run.ts";
import type { Phase } from "./resume-state.ts";

/** Where the rounds stand: the baseline, the rounds completed and why they stop. */
export interface RoundsState {
  baseline: Baseline | null;
  roundsCompleted: number;
  stopReason: ProtocolOutcome["stopReason"];
}

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

/** After a round: stop early when over budget, or converged (only before the last round for `rounds`). */
function afterRound(run: DebateRun, state: RoundsState, round: number, lastRound: boolean): void {
  const { tally, config } = run;
  tally.agreementByRound.push({ round, agreement: agreement(tally.seats) });
  if (tally.overBudget(config.budget)) state.stopReason = "budget_exhausted";
  else if ((tally.agreementByRound.at(-1)?.agreement ?? 0) >= config.convergenceThreshold && !lastRound) {
    state.stopReason = "converged";
  }
}

/** Round 0: every seat proposes independently; the baseline is the proposals' majority. */
export async function proposals(run: DebateRun, state: RoundsState): Promise<ProtocolOutcome | undefined> {
  const { tally, input } = run;
  run.emitOnce("round_start", 0, null, { phase: "proposal", agents: tally.active().map((s) => s.agent) });
  const r0 = run.roundSignal();
  await allTurns(
    tally.seats.map(async (seat) => {
      const t = await run.turn(0, "proposal", seat, "proposer", proposalPrompt(input.question), r0);
      if (t) {
        seat.text = t.text;
        seat.answer = extractAnswer(t.text);
      }
    }),
  );
  run.checkInterrupted();
  if (!tally.enoughSeats()) return run.seatsLost(0, r0, 0, null);
  state.baseline = baselineOf(tally.seats);
  afterRound(run, state, 0, false);
  return undefined;
}

/** One critique-and-revision round; the budget may stop it between its two phases. */
export async function critiqueRound(
  run: DebateRun,
  state: RoundsState,
  round: number,
): Promise<ProtocolOutcome | undefined> {
  const { tally, config, input } = run;
  const question = input.question;
  run.emitOnce("round_start", round, null, { phase: "critique", agents: tally.active().map((s) => s.agent) });
  const rs = run.roundSignal();
  const targets = critiqueTargets(
    config.topology,
    tally.active().map((s) => s.agent),
  );
  const critiques = new Map<string, { agent: string; text: string }[]>();
  await allTurns(
    tally.active().map(async (seat) => {
      const aims = targets.get(seat.agent) ?? [];
      const role: DebateRole = config.roles.devilsAdvocate === seat.agent ? "devils_advocate" : "critic";
      const shown = aims.map((a) => ({ agent: a, text: tally.seats.find((s) => s.agent === a)?.text ?? "" }));
      const t = await run.turn(round, "critique", seat, role, critiquePrompt(question, round, shown, role), rs);
      if (!t) return;
      for (const target of aims) {
        const list = critiques.get(target) ?? [];
        list.push({ agent: seat.agent, text: t.text });
        critiques.set(target, list);
      }
      run.emitOnce("critique", round, seat.agent, { phase: "critique", role, targets: aims, text: t.text });
    }),
  );
  run.checkInterrupted();
  if (!tally.enoughSeats()) return run.seatsLost(round, rs, round - 1, state.baseline);
  // Spent on the critiques: the round stops before its revisions.
  if (tally.overBudget(config.budget)) {
    state.stopReason = "budget_exhausted";
    return undefined;
  }
  await allTurns(
    tally.active().map(async (seat) => {
      const received = critiques.get(seat.agent) ?? [];
      const prompt = revisionPrompt(question, round, seat.text, received);
      const t = await run.turn(round, "revision", seat, "proposer", prompt, rs);
      if (t) {
        seat.text = t.text;
        seat.answer = extractAnswer(t.text);
      }
    }),
  );
  run.checkInterrupted();
  if (!tally.enoughSeats()) return run.seatsLost(round, rs, round - 1, state.baseline);
  state.roundsCompleted = round;
  afterRound(run, state, round, round >= config.rounds);
  return undefined;
}

/**
 * The vote round (after the last round that ran): every active seat votes, or the judge decides;
 * with no budget left every seat stands by its own answer instead.
 */
export async function votes(
  run: DebateRun,
  state: RoundsState,
): Promise<{ votes: Vote[]; method: ConsensusOutcome["method"] } | ProtocolOutcome> {
  const { tally, config, input } = run;
  if (state.stopReason === "budget_exhausted") return { votes: selfVotes(tally.seats), method: "answers" };
  const voteRound = state.roundsCompleted + 1;
  const judged = config.consensus === "judge";
  run.emitOnce("round_start", voteRound, null, { phase: judged ? "judge" : "vote" });
  const vs = run.roundSignal();
  const candidates = tally.active().map((s) => ({ agent: s.agent, answer: s.answer, text: s.text }));
  const names = candidates.map((c) => c.agent);
  const voters = judged
    ? [tally.seats.find((s) => s.agent === config.roles.judge && !s.failed) ?? (tally.active()[0] as Seat)]
    : tally.active();
  const phase: Phase = judged ? "judge" : "vote";
  const role = judged ? "judge" : "voter";
  const cast = await allTurns(
    voters.map(async (seat) => {
      const t = await run.turn(voteRound, phase, seat, role, votePrompt(input.question, candidates, role), vs);
      if (!t) return null;
      const vote: Vote = { voter: seat.agent, ...parseVote(t.text, names) };
      run.emitOnce("vote", voteRound, seat.agent, {
        phase,
        choice: vote.choice,
        confidence: vote.confidence,
        abstained: vote.choice === null,
        reason: vote.reason,
      });
      return vote;
    }),
  );
  run.checkInterrupted();
  if (!tally.enoughSeats()) return run.seatsLost(voteRound, vs, state.roundsCompleted, state.baseline);
  return { votes: cast.filter((v): v is Vote => v !== null), method: config.consensus };
}

/** Decide the consensus, let the synthesiser write it up when there is one, and emit it. */
export async function consensus(
  run: DebateRun,
  state: RoundsState,
  cast: { votes: Vote[]; method: ConsensusOutcome["method"] },
): Promise<ConsensusOutcome> {
  const { tally, config, input } = run;
  const voteRound = state.roundsCompleted + 1;
  const decided = decideConsensus(cast.method, tally.seats, cast.votes);
  const synthesiser = tally.seats.find((s) => s.agent === config.roles.synthesiser && !s.failed);
  if (decided.reached && decided.answer !== null && synthesiser && state.stopReason !== "budget_exhausted") {
    const supporting = tally.seats.filter((s) => decided.supporters.includes(s.agent)).map((s) => s.text);
    const prompt = synthesisPrompt(input.question, decided.answer, supporting);
    const t = await run.turn(voteRound, "synthesis", synthesiser, "synthesiser", prompt, run.roundSignal());
    run.checkInterrupted();
    if (t) decided.synthesis = t.text;
  }
  const baseline = state.baseline;
  run.emitOnce("consensus", voteRound, null, {
    method: decided.method,
    reached: decided.reached,
    answer: decided.answer,
    winner: decided.winner,
    supporters: decided.supporters,
    support: decided.support,
    baseline_answer: baseline?.answer ?? null,
    same_as_baseline:
      baseline?.answer != null && decided.answer !== null ? sameAnswer(baseline.answer, decided.answer) : false,
    ...(decided.synthesis ? { synthesis: decided.synthesis } : {}),
  });
  return decided;
}
