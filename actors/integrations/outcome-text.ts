/**
 * The words every connector uses for a debate's outcome, so Slack, Discord and Teams say the same
 * thing: a title, the decision, the support as a percentage.
 *
 * @example
 * outcomeTitle(outcome)    // "Debate concluded: consensus reached"
 * decisionText(outcome)    // "Yes (majority, 67% support)"
 */
import type { DebateOutcome } from "../../schemas/integrations.ts";

/** @example outcomeTitle({ ...o, status: "failed" }) // "Debate failed" */
export function outcomeTitle(outcome: DebateOutcome): string {
  if (outcome.status !== "completed") return `Debate ${outcome.status.replaceAll("_", " ")}`;
  return outcome.consensus?.reached ? "Debate concluded: consensus reached" : "Debate concluded: no consensus";
}

/** The answer and how it was reached; "none" when there is no decision. */
export function decisionText(outcome: DebateOutcome): string {
  const c = outcome.consensus;
  if (c === null || c.answer === null) return "none";
  const support = `${Math.round(c.support * 100)}% support`;
  return `${c.answer} (${c.method}${c.reached ? "" : ", not reached"}, ${support})`;
}

/** A one-line summary: the fallback text of notifications. */
export function outcomeSummary(outcome: DebateOutcome): string {
  return `${outcomeTitle(outcome)}. ${outcome.question} Decision: ${decisionText(outcome)}`;
}
