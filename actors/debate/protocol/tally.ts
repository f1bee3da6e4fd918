/**
 * The shared tally of one debate while it runs: the seats (their latest text and answer, whether
 * they failed), what each agent spent, and the agreement after each round. Every phase reads and
 * updates it; the outcome's summary is made from it.
 *
 * @example
 * const tally = new Tally(config.agents, resume);
 * tally.account("demo:bob", turn);
 * tally.overBudget(config.budget); // true once tokens or cost reach the budget
 */
import type { Usage } from "../../agent/turn.ts";
import type { AgentTotals, DebateConfig, DebateSummaryData, Seat } from "../types.ts";
import type { RecordedTurn, ResumeState } from "./resume-state.ts";

const ZERO_USAGE: Usage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: 0,
  estimated: false,
};

export class Tally {
  readonly seats: Seat[];
  readonly totals: Record<string, AgentTotals>;
  readonly agreementByRound: DebateSummaryData["agreement"] = [];

  constructor(agents: string[], resume?: ResumeState) {
    this.seats = agents.map((agent) => ({
      agent,
      failed: resume?.failures.has(agent) ?? false,
      failure: resume?.failures.get(agent) ?? null,
      text: "",
      answer: "",
    }));
    this.totals = Object.fromEntries(
      agents.map((a) => [a, { turns: 0, usage: { ...ZERO_USAGE }, costUsd: 0, costEstimated: false, latencyMs: 0 }]),
    );
  }

  /** The seats still in the debate. */
  active(): Seat[] {
    return this.seats.filter((s) => !s.failed);
  }

  /** A debate goes on while at least two seats are left. */
  enoughSeats(): boolean {
    return this.active().length >= 2;
  }

  /** Tokens and cost spent by every agent so far. */
  spent(): { tokens: number; cost: number } {
    let tokens = 0;
    let cost = 0;
    for (const t of Object.values(this.totals)) {
      tokens += t.usage.inputTokens + t.usage.outputTokens;
      cost += t.costUsd;
    }
    return { tokens, cost };
  }

  overBudget(budget: DebateConfig["budget"]): boolean {
    const { tokens, cost } = this.spent();
    return (
      (budget.maxTokens !== null && tokens >= budget.maxTokens) ||
      (budget.maxCostUsd !== null && cost >= budget.maxCostUsd)
    );
  }

  /** Add one finished (or replayed) turn to its agent's totals. */
  account(agent: string, t: RecordedTurn): void {
    const a = this.totals[agent] as AgentTotals;
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
  }

  /** Why the debate cannot go on: who is left and why the others failed. */
  failureReason(): string {
    const left = this.active().map((s) => s.agent);
    const failed = this.seats.filter((s) => s.failed).map((s) => `${s.agent} (${s.failure})`);
    return `only ${left.length} agent(s) left (${left.join(", ") || "none"}); failed: ${failed.join("; ")}`;
  }

  summary(roundsCompleted: number): DebateSummaryData {
    const { tokens, cost } = this.spent();
    return {
      agreement: this.agreementByRound,
      agents: this.totals,
      totals: { tokens, costUsd: Math.round(cost * 1e6) / 1e6 },
      failedSeats: Object.fromEntries(this.seats.filter((s) => s.failed).map((s) => [s.agent, s.failure ?? "failed"])),
      roundsCompleted,
      finalAnswers: Object.fromEntries(this.active().map((s) => [s.agent, s.answer])),
    };
  }
}
