/**
 * The debate's events, each type with the schema of its `data`. The event log is the source of
 * truth, so these are the contract of everything that reads it: the protocol's `emit` is typed by
 * them, resume reads them back without casts, the WebSocket `debate_event` messages and
 * `GET /api/debates/:id/events` carry them (the OpenAPI document lists each type's fields), and a
 * receipt's hash chain covers them. Objects are open (a reader ignores fields it does not know),
 * so events written by another version still read.
 *
 * Every event may also carry `resumed_running_ms`: the first event of a resumed incarnation
 * records how long the debate had run before, so the debate's timeout counts running time only.
 *
 * @example
 * DebateEventSchemas.vote.allows({ phase: "vote", choice: "demo:bob", confidence: 0.8, abstained: false, reason: "" }); // true
 */
import { type Type, type } from "arktype";
import { lazy } from "./lazy.ts";

export const EVENT_TYPES = [
  "debate_start",
  "round_start",
  "turn_start",
  "token",
  "turn_end",
  "turn_interrupted",
  "critique",
  "vote",
  "consensus",
  "agent_error",
  "fallback",
  "debate_end",
  "receipt_generated",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const phase = lazy(() => type("'proposal' | 'critique' | 'revision' | 'vote' | 'judge' | 'synthesis'"));
const role = lazy(() => type("'proposer' | 'critic' | 'devils_advocate' | 'judge' | 'synthesiser' | 'voter'"));
const usage = lazy(() =>
  type({
    inputTokens: "number",
    outputTokens: "number",
    cacheReadTokens: "number",
    cacheWriteTokens: "number",
    reasoningTokens: "number",
    estimated: "boolean",
  }),
);
const outcomeStatus = lazy(() => type("'completed' | 'failed' | 'cancelled'"));
const stopReason = lazy(() =>
  type(
    "'rounds_completed' | 'converged' | 'budget_exhausted' | 'agents_failed' | 'round_timeout' | 'debate_timeout' | 'cancelled'",
  ),
);

/** Each event type's `data`. */
export const DebateEventSchemas = {
  debate_start: lazy(() =>
    type({
      question: "string",
      agents: "string[]",
      rounds: "number",
      consensus: "string",
      topology: "string",
      "resumed_running_ms?": "number",
    }),
  ),
  round_start: lazy(() => type({ phase, "agents?": "string[]", "resumed_running_ms?": "number" })),
  turn_start: lazy(() => type({ phase, role, "restarted?": "true", "resumed_running_ms?": "number" })),
  token: lazy(() => type({ "phase?": phase, text: "string", "resumed_running_ms?": "number" })),
  turn_end: lazy(() =>
    type({
      phase,
      role,
      text: "string",
      usage,
      cost: { usd: "number", estimated: "boolean" },
      latency_ms: "number",
      first_token_ms: "number | null",
      provider: "string",
      model: "string",
      simulated: "boolean",
      "fallback?": "string",
      "resumed_running_ms?": "number",
    }),
  ),
  turn_interrupted: lazy(() =>
    type({
      phase: "string",
      role: "string",
      reason: "'crashed' | 'cancelled' | 'shutdown' | 'debate_timeout'",
      "resumed_running_ms?": "number",
    }),
  ),
  critique: lazy(() => type({ phase, role, targets: "string[]", text: "string", "resumed_running_ms?": "number" })),
  vote: lazy(() =>
    type({
      phase,
      choice: "string | null",
      confidence: "number",
      abstained: "boolean",
      reason: "string",
      "resumed_running_ms?": "number",
    }),
  ),
  consensus: lazy(() =>
    type({
      method: "string",
      reached: "boolean",
      answer: type("string | null").describe(
        "the answer the votes chose (most votes, most confidence for confidence_weighted, the judge's pick); when not reached, the leading one",
      ),
      winner: type("string | null").describe(
        "the first seat, in the order of the debate's agents, whose final answer is `answer`: votes count for answers, so this is not the seat with the most votes",
      ),
      supporters: type("string[]").describe("every seat whose final answer is `answer`; empty when not reached"),
      support: type("number").describe("share of the votes (of the confidence for confidence_weighted) for `answer`"),
      baseline_answer: "string | null",
      same_as_baseline: "boolean",
      "synthesis?": "string",
      "resumed_running_ms?": "number",
    }),
  ),
  agent_error: lazy(() =>
    type({
      phase,
      kind: "string",
      message: "string",
      seat_failed: "boolean",
      "resumed_running_ms?": "number",
    }),
  ),
  fallback: lazy(() =>
    type({
      phase,
      from: "string",
      to: "string",
      reason: "string",
      after_first_token: "boolean",
      discarded_partial: "string",
      "resumed_running_ms?": "number",
    }),
  ),
  debate_end: lazy(() =>
    type({
      status: outcomeStatus,
      stop_reason: stopReason,
      error: "string | null",
      "consensus_answer?": "string | null",
      "consensus_reached?": "boolean",
      "rounds_completed?": "number",
      "agreement?": type({ round: "number", agreement: "number" }).array(),
      "totals?": { tokens: "number", costUsd: "number" },
      "resumed_running_ms?": "number",
    }),
  ),
  receipt_generated: lazy(() =>
    type({ key_id: "string", head: "string", events: "number", "resumed_running_ms?": "number" }),
  ),
} as const satisfies Record<EventType, unknown>;

/** The `data` of an event of type `T`. @example const d: EventData<"vote"> = { phase: "vote", ... }; */
export type EventData<T extends EventType> = (typeof DebateEventSchemas)[T]["infer"];

const envelope = {
  debate_id: "string",
  seq: "number",
  ts: "string",
  round: "number | null",
  agent: "string | null",
} as const;

/** One event as stored, replayed and sent: the envelope with its type's data. */
export const DebateEventSchema = lazy(
  () =>
    type.or(
      // One union of every branch at once: `.or` one branch at a time re-discriminates the growing
      // union at each step, which was a fifth of the server's start-up.
      ...(EVENT_TYPES.map((t) => type({ type: `'${t}'`, ...envelope, data: DebateEventSchemas[t] } as never)) as [
        never,
      ]),
    ) as unknown as Type<AnyDebateEvent>,
);

/** The envelope of an event of type `T`, as stored in the log, replayed and sent. */
export interface EventOf<T extends EventType> {
  type: T;
  debate_id: string;
  seq: number;
  ts: string;
  round: number | null;
  agent: string | null;
  data: EventData<T>;
}

/** Any debate event; narrow on `type` to read its data. */
export type AnyDebateEvent = { [T in EventType]: EventOf<T> }[EventType];
