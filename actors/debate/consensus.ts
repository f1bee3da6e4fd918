/**
 * Answers, agreement, votes and consensus. Models are told to end with `ANSWER:` / `VOTE:` /
 * `CONFIDENCE:` lines (prompts.ts) but real ones drift, so every parser here is tolerant: a vote
 * that cannot be read is an abstention, never an error. The live debate page keeps a copy of the
 * answer and agreement rules (web/client/pages/debates/agreement.ts); tests/web/agreement-parity.test.ts
 * holds the two to the same figures.
 *
 * @example
 * parseVote("I back bob.\nVOTE: demo:bob\nCONFIDENCE: 0.8", ["demo:alice", "demo:bob"]);
 * // { choice: "demo:bob", confidence: 0.8, ... }
 */
import type { Baseline, ConsensusMethod, ConsensusOutcome, Seat, Vote } from "./types.ts";

/** Two answers whose word sets overlap at least this much (Jaccard) count as the same answer. */
export const SAME_ANSWER_SIMILARITY = 0.8;

/**
 * The short answer of a proposal or revision: the last `ANSWER:` line, else the last non-empty line.
 *
 * @example extractAnswer("reasons...\nANSWER: Use Bun") // "Use Bun"
 */
export function extractAnswer(text: string): string {
  const lines = text.split(/\r?\n/);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^\s*[*_#>\s-]*(?:final\s+)?answer\s*[*_]*\s*[:\-–]\s*(.+)$/i.exec(lines[i] as string);
    if (m?.[1]) return cleanAnswer(m[1]);
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = (lines[i] as string).trim();
    if (line) return cleanAnswer(line.length > 200 ? line.slice(0, 200) : line);
  }
  return "";
}

function cleanAnswer(s: string): string {
  return s.replace(/[*_`]+/g, "").trim();
}

/** Lower-case words without punctuation: the form answers are compared in. @example normaliseAnswer("Yes!") // "yes" */
export function normaliseAnswer(answer: string): string {
  return answer
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]+/gu, " ")
    .split(/\s+/)
    .filter((w) => w.length > 0 && !STOP_WORDS.has(w))
    .join(" ");
}

const STOP_WORDS = new Set(["a", "an", "the", "we", "should", "is", "it", "to", "of", "and"]);

/** Jaccard similarity of the answers' word sets, 1 for equal normalised answers. @example answerSimilarity("use bun", "Use Bun.") // 1 */
export function answerSimilarity(a: string, b: string): number {
  const na = normaliseAnswer(a);
  const nb = normaliseAnswer(b);
  if (na === nb) return 1;
  const wa = new Set(na.split(" "));
  const wb = new Set(nb.split(" "));
  let common = 0;
  for (const w of wa) if (wb.has(w)) common++;
  const union = wa.size + wb.size - common;
  return union === 0 ? 0 : common / union;
}

/** Whether two answers are the same position. */
export function sameAnswer(a: string, b: string): boolean {
  return answerSimilarity(a, b) >= SAME_ANSWER_SIMILARITY;
}

/**
 * Group answers into positions; each cluster is led by its first member (seat order).
 *
 * @example clusterAnswers([["a","yes"],["b","Yes."],["c","no"]]) // [{ lead: "a", answer: "yes", members: ["a","b"] }, ...]
 */
export function clusterAnswers(answers: [agent: string, answer: string][]) {
  const clusters: { lead: string; answer: string; members: string[] }[] = [];
  for (const [agent, answer] of answers) {
    const found = clusters.find((c) => sameAnswer(c.answer, answer));
    if (found) found.members.push(agent);
    else clusters.push({ lead: agent, answer, members: [agent] });
  }
  return clusters;
}

/**
 * Share of the active seats holding the most common answer (1 = everyone agrees).
 *
 * @example agreement([{ agent: "a", answer: "yes", failed: false, ... }, ...]) // 0.67
 */
export function agreement(seats: Seat[]): number {
  const active = seats.filter((s) => !s.failed);
  if (active.length === 0) return 0;
  const clusters = clusterAnswers(active.map((s) => [s.agent, s.answer]));
  const largest = Math.max(...clusters.map((c) => c.members.length));
  return Math.round((largest / active.length) * 1e4) / 1e4;
}

/**
 * The round-0 majority answer, kept beside the consensus to show what debating changed.
 *
 * @example baselineOf(seats) // { answer: "yes", support: 0.67, answers: { ... } }
 */
export function baselineOf(seats: Seat[]): Baseline {
  const active = seats.filter((s) => !s.failed);
  const answers = Object.fromEntries(active.map((s) => [s.agent, s.answer]));
  if (active.length === 0) return { answer: null, support: 0, answers };
  const clusters = clusterAnswers(active.map((s) => [s.agent, s.answer]));
  const top = clusters.reduce((best, c) => (c.members.length > best.members.length ? c : best));
  return { answer: top.answer, support: Math.round((top.members.length / active.length) * 1e4) / 1e4, answers };
}

/**
 * Read a vote from free text. Accepts `VOTE: name`, `Vote - name`, bare short names ("bob" for
 * "demo:bob"), and a confidence as 0..1 or a percentage; anything else is an abstention.
 *
 * @example parseVote("VOTE: bob\nCONFIDENCE: 80%", ["demo:alice","demo:bob"]) // choice demo:bob, confidence 0.8
 */
export function parseVote(text: string, candidates: string[]): Omit<Vote, "voter"> {
  const reason = text
    .replace(/^\s*(vote|confidence)\s*[:\-–].*$/gim, "")
    .trim()
    .slice(0, 500);
  let choice: string | null = null;
  const voteLines = [...text.matchAll(/^\s*[*_#>\s-]*vote\s*[*_]*\s*[:\-–]\s*(.+)$/gim)];
  const last = voteLines.at(-1)?.[1];
  if (last) choice = matchCandidate(last, candidates);
  // No readable confidence: the middle of the scale, as the agent side's parser does.
  let confidence = 0.5;
  const conf = [...text.matchAll(/^\s*[*_#>\s-]*confidence\s*[*_]*\s*[:\-–]\s*([0-9]*\.?[0-9]+)\s*(%?)/gim)].at(-1);
  if (conf?.[1]) {
    const n = Number(conf[1]);
    const value = conf[2] === "%" || n > 1 ? n / 100 : n;
    if (Number.isFinite(value)) confidence = Math.min(1, Math.max(0, value));
  }
  return { choice, confidence: choice === null ? 0 : confidence, reason };
}

function matchCandidate(raw: string, candidates: string[]): string | null {
  const said = raw
    .replace(/[*_`"'.]+/g, " ")
    .trim()
    .toLowerCase();
  const exact = candidates.find((c) => said === c.toLowerCase() || said.startsWith(`${c.toLowerCase()} `));
  if (exact) return exact;
  // "bob" for "demo:bob": the model part alone, when it names exactly one candidate.
  const byModel = candidates.filter((c) => {
    const model = (c.split(":").pop() ?? c).toLowerCase();
    return said === model || said.split(/[\s,;()]+/).includes(model);
  });
  return byModel.length === 1 ? (byModel[0] as string) : null;
}

const THRESHOLDS: Record<Exclude<ConsensusMethod, "confidence_weighted" | "judge">, number> = {
  majority: 0.5,
  supermajority: 2 / 3,
  unanimous: 1,
};

/**
 * Decide the outcome from the votes over the seats' final answers. Votes go to the voted seat's
 * answer cluster; abstentions count for nobody. majority needs more than half of the votes cast,
 * supermajority two thirds, unanimous all active voters, confidence_weighted more than half of the
 * confidence weight; judge takes the judge's single vote. `winner` is the first seat (seat order)
 * holding the leading answer, whichever of its seats the votes named; `supporters` all of them, and
 * none when the consensus is not reached (answer and winner still name the leading answer).
 *
 * @example
 * // a and c both answer "yes"; b and c vote c, a votes a: winner "a", supporters ["a", "c"]
 * decideConsensus("majority", seats, votes)
 */
export function decideConsensus(method: ConsensusMethod | "answers", seats: Seat[], votes: Vote[]): ConsensusOutcome {
  const active = seats.filter((s) => !s.failed);
  const clusters = clusterAnswers(active.map((s) => [s.agent, s.answer]));
  const clusterOf = (agent: string) => clusters.findIndex((c) => c.members.includes(agent));
  const weights = clusters.map(() => 0);
  const counts = clusters.map(() => 0);
  let cast = 0;
  let totalWeight = 0;
  for (const v of votes) {
    if (v.choice === null) continue;
    const i = clusterOf(v.choice);
    if (i < 0) continue;
    cast++;
    counts[i] = (counts[i] as number) + 1;
    weights[i] = (weights[i] as number) + v.confidence;
    totalWeight += v.confidence;
  }
  const none: ConsensusOutcome = {
    method,
    reached: false,
    answer: null,
    winner: null,
    supporters: [],
    support: 0,
    votes,
  };
  if (clusters.length === 0 || cast === 0) return none;
  const useWeight = method === "confidence_weighted";
  const score = useWeight ? weights : counts;
  let best = 0;
  for (let i = 1; i < clusters.length; i++) if ((score[i] as number) > (score[best] as number)) best = i;
  const tied = score.filter((s) => s === score[best]).length > 1;
  const denominator = useWeight ? totalWeight : cast;
  const support = denominator > 0 ? (score[best] as number) / denominator : 0;
  let reached: boolean;
  switch (method) {
    case "judge":
      reached = cast > 0;
      break;
    case "confidence_weighted":
      reached = support > 0.5;
      break;
    case "unanimous":
      reached = (counts[best] as number) === active.length && cast === active.length;
      break;
    case "answers":
    case "majority":
      reached = support > THRESHOLDS.majority;
      break;
    case "supermajority":
      reached = support >= THRESHOLDS.supermajority - 1e-9;
      break;
  }
  if (tied) reached = false;
  const cluster = clusters[best] as (typeof clusters)[number];
  return {
    method,
    reached,
    answer: cluster.answer,
    winner: cluster.lead,
    supporters: reached ? [...cluster.members] : [],
    support: Math.round(support * 1e4) / 1e4,
    votes,
  };
}

/**
 * Votes when no vote round ran (budget exhausted): every active seat backs its own answer.
 *
 * @example selfVotes(seats) // [{ voter: "a", choice: "a", confidence: 1, reason: "own answer" }, ...]
 */
export function selfVotes(seats: Seat[]): Vote[] {
  return seats
    .filter((s) => !s.failed)
    .map((s) => ({ voter: s.agent, choice: s.agent, confidence: 1, reason: "own answer" }));
}
