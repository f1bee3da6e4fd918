/**
 * Every prompt the debate sends, in one module, so wording changes are reviewed in one place.
 * Proposals and revisions end with an `ANSWER:` line; votes and judgements end with `VOTE:` and
 * `CONFIDENCE:` lines, the convention the demo provider follows (actors/agent/turn.ts) and that
 * consensus.ts parses tolerantly for real models.
 *
 * @example
 * const { system, prompt } = proposalPrompt("Should we adopt Bun?", "proposer");
 */
import { ANSWER_CONVENTIONS, type DebateRole } from "../agent/turn.ts";

export interface Prompt {
  system: string;
  prompt: string;
}

const ANSWER_RULE =
  "End with one line of the form `ANSWER: <your answer in at most 12 words>` giving your position plainly.";
const VOTE_RULE =
  "End with exactly two lines: `VOTE: <the label of the option you support>` and `CONFIDENCE: <a number from 0 to 1>`.";

const PERSONAS: Record<DebateRole, string> = {
  proposer: "You are a participant in a structured debate. Reason carefully and commit to a clear position.",
  critic: "You are a rigorous critic in a structured debate. Find the weakest points and say how to fix them.",
  devils_advocate:
    "You are the devil's advocate in a structured debate. Argue against the emerging consensus, even if you privately agree, so its weaknesses surface.",
  judge: "You are the impartial judge of a structured debate. Weigh the final answers on their merits alone.",
  synthesiser: "You are the synthesiser of a structured debate. Merge the agreed position into one clear answer.",
  voter: "You are a participant voting at the end of a structured debate. Vote for the strongest final answer.",
};

/** The system prompt for a role. @example systemFor("critic") */
export function systemFor(role: DebateRole): string {
  return PERSONAS[role];
}

/** Round 0: an independent proposal. @example proposalPrompt("Tabs or spaces?") */
export function proposalPrompt(question: string, role: DebateRole = "proposer"): Prompt {
  return {
    system: systemFor(role),
    prompt: `Question: ${question}\n\nPropose your answer with your reasoning in a few short paragraphs. ${ANSWER_RULE}`,
  };
}

/**
 * A critique of other participants' current answers.
 *
 * @example critiquePrompt("Q?", 1, [{ agent: "demo:bob", text: "..." }], "critic")
 */
export function critiquePrompt(
  question: string,
  round: number,
  targets: { agent: string; text: string }[],
  role: DebateRole,
): Prompt {
  const answers = targets.map((t) => `### ${t.agent}\n${t.text}`).join("\n\n");
  const ask =
    role === "devils_advocate"
      ? "Argue against these answers: find the strongest objections and the cases where they fail."
      : "Critique these answers: point out errors, gaps and unsupported claims, and say what would make each stronger.";
  return {
    system: systemFor(role),
    prompt: `Question: ${question}\nRound ${round} critique.\n\n${answers}\n\n${ask} Be specific and brief.`,
  };
}

/**
 * A revision of one's own answer after reading the critiques it received.
 *
 * @example revisionPrompt("Q?", 1, "my answer", [{ agent: "demo:bob", text: "too vague" }])
 */
export function revisionPrompt(
  question: string,
  round: number,
  own: string,
  critiques: { agent: string; text: string }[],
): Prompt {
  const received =
    critiques.length > 0
      ? critiques.map((c) => `### from ${c.agent}\n${c.text}`).join("\n\n")
      : "(no critiques were received)";
  return {
    system: systemFor("proposer"),
    prompt: `Question: ${question}\nRound ${round} revision.\n\nYour current answer:\n${own}\n\nCritiques of it:\n${received}\n\nRevise your answer: keep what holds up, fix what does not, and change your position if you were persuaded. ${ANSWER_RULE}`,
  };
}

/**
 * The final vote (role voter) or the judge's decision (role judge) over the seats' final answers.
 *
 * @example votePrompt("Q?", [{ agent: "demo:alice", answer: "yes", text: "..." }], "voter")
 */
export function votePrompt(
  question: string,
  candidates: { agent: string; answer: string; text: string }[],
  role: "voter" | "judge",
): Prompt {
  const list = candidates.map((c) => `### ${c.agent}\n${c.text}`).join("\n\n");
  // The OPTION lines are the shared convention (actors/agent/turn.ts): labels are the seat names.
  const options = candidates.map((c) => ANSWER_CONVENTIONS.option(c.agent, c.answer)).join("\n");
  return {
    system: systemFor(role),
    prompt: `Question: ${question}\n\nFinal answers:\n\n${list}\n\nThe options:\n${options}\n\nGive one short paragraph of reasoning. ${VOTE_RULE}`,
  };
}

/** The synthesis of the consensus into one final text. @example synthesisPrompt("Q?", "yes", ["..."]) */
export function synthesisPrompt(question: string, answer: string, supporting: string[]): Prompt {
  return {
    system: systemFor("synthesiser"),
    prompt: `Question: ${question}\nAgreed answer: ${answer}\n\nSupporting arguments:\n\n${supporting.join("\n\n---\n\n")}\n\nWrite the final answer in one or two paragraphs that a reader can act on. ${ANSWER_RULE}`,
  };
}
