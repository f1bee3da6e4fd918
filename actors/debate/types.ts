/**
 * The debate's own vocabulary: configuration, event types, seats, outcomes. Wire shapes (HTTP, WS)
 * live in schemas/debates.ts; these are what the actor, the protocol and the store pass around.
 *
 * @example
 * const config: DebateConfig = { ...DEFAULT_CONFIG_SHAPE, agents: ["demo:alice", "demo:bob"] };
 */
import type { AnyDebateEvent } from "../../schemas/debate-events.ts";
import type { DebateRole, Usage } from "../agent/turn.ts";

export type ConsensusMethod = "majority" | "supermajority" | "unanimous" | "confidence_weighted" | "judge";
export type Topology = "all_to_all" | "ring" | "star";
export type DebateStatus = "running" | "completed" | "failed" | "cancelled";

export { EVENT_TYPES, type EventData, type EventType } from "../../schemas/debate-events.ts";

/** Everything that shapes how one debate runs; stored with the debate and signed into its receipt. */
export interface DebateConfig {
  agents: string[];
  rounds: number;
  consensus: ConsensusMethod;
  topology: Topology;
  /** Agreement (share of seats on the leading answer) at or above which revision rounds stop early. */
  convergenceThreshold: number;
  budget: { maxTokens: number | null; maxCostUsd: number | null };
  timeouts: { turnMs: number; roundMs: number; debateMs: number };
  roles: { judge: string | null; devilsAdvocate: string | null; synthesiser: string | null };
}

/**
 * An event as every reader sees it (on the wire, in the log, in the receipt's hash chain): the
 * envelope with its type's data (schemas/debate-events.ts); narrow on `type` to read the data.
 */
export type DebateEventEnvelope = AnyDebateEvent;

/** One seat's final answer and the state the protocol tracks for it. */
export interface Seat {
  agent: string;
  failed: boolean;
  failure: string | null;
  /** Latest full text (proposal or revision). */
  text: string;
  /** The short answer extracted from `text` (the ANSWER: line). */
  answer: string;
}

export interface Vote {
  voter: string;
  /** The seat voted for, or null for an abstention (unparseable or invalid vote). */
  choice: string | null;
  confidence: number;
  reason: string;
}

export interface ConsensusOutcome {
  method: ConsensusMethod | "answers";
  reached: boolean;
  /** The winning answer (short form): the most votes, confidence or the judge's pick; when not reached, the leading one. */
  answer: string | null;
  /**
   * The first seat, in seat order, whose final answer is `answer`: it names the answer, it is not the
   * seat with the most votes (votes count for answers) nor necessarily the one that proposed it first.
   */
  winner: string | null;
  /** Seats whose final answer matched the consensus answer; none when it was not reached. */
  supporters: string[];
  /** Share of the votes (confidence weight for confidence_weighted) behind the answer. */
  support: number;
  votes: Vote[];
  synthesis?: string;
}

export interface Baseline {
  /** The round-0 majority answer (most common proposal answer). */
  answer: string | null;
  support: number;
  answers: Record<string, string>;
}

export interface AgentTotals {
  turns: number;
  usage: Usage;
  costUsd: number;
  costEstimated: boolean;
  latencyMs: number;
}

export interface DebateSummaryData {
  agreement: { round: number; agreement: number }[];
  agents: Record<string, AgentTotals>;
  totals: { tokens: number; costUsd: number };
  failedSeats: Record<string, string>;
  roundsCompleted: number;
  finalAnswers: Record<string, string>;
}

/** The roles a seat can take in a turn (the agent side's DebateRole). */
export type { DebateRole };
