/**
 * Debate API and stream types: the POST /api/debates body, list and export queries, the debate
 * record, the event envelope, receipts, the leaderboard and the WebSocket subscribe messages.
 *
 * @example
 * const body = CreateDebateBody({ question: "Tabs or spaces?", rounds: 2 });
 * if (body instanceof type.errors) console.log(body.summary);
 */
import { type } from "arktype";
import { type AnyDebateEvent, DebateEventSchema } from "./debate-events.ts";
import { lazy } from "./lazy.ts";
import { DebateMetadata } from "./metadata.ts";

const questionText = lazy(() =>
  type("string <= 20000").narrow(
    (s, ctx) => s.trim().length > 0 || ctx.mustBe("a non-empty question (not only whitespace)"),
  ),
);

/** Seconds, at least 0.1: a shorter turn, round or debate could not even reach a provider. */
const seconds = (max: number) => type(`0.1 <= number <= ${max}`);

/**
 * The body of POST /api/debates. Keys it does not declare are refused (422 naming them), at every
 * level; strings, numbers and nesting were already checked by the body gate (runtime/http/json-body.ts).
 */
export const CreateDebateBody = lazy(() =>
  type({
    question: questionText,
    "agents?": type("string > 0").array().atLeastLength(2).atMostLength(10),
    "rounds?": "1 <= number.integer <= 12",
    "consensus?": "'majority' | 'supermajority' | 'unanimous' | 'confidence_weighted' | 'judge'",
    "topology?": "'all_to_all' | 'ring' | 'star'",
    "budget?": {
      "max_tokens?": "0 < number.integer <= 9007199254740991",
      "max_cost_usd?": "0 < number <= 1000000",
      "+": "reject",
    },
    "timeouts?": {
      "turn_s?": seconds(3600),
      "round_s?": seconds(36000),
      "debate_s?": seconds(86400),
      "+": "reject",
    },
    "convergence_threshold?": "0 < number <= 1",
    "roles?": { "judge?": "string > 0", "devils_advocate?": "string > 0", "synthesiser?": "string > 0", "+": "reject" },
    "metadata?": DebateMetadata,
    "+": "reject",
  }),
);
export type CreateDebateBody = typeof CreateDebateBody.infer;

export const CreateDebateResponse = lazy(() => type({ debate_id: "string", status: "string", ws_topic: "string" }));

export const DebateIdParams = lazy(() => type({ id: /^d-[0-9a-z-]{1,64}$/ }));

/** A calendar date or a date-time with its zone, as ISO 8601 writes them; `-1` or `tomorrow` are not. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2}))?$/i;

export const isoInstant = lazy(() =>
  type("string").narrow(
    (s, ctx) =>
      (ISO_INSTANT.test(s) && !Number.isNaN(Date.parse(s))) ||
      ctx.mustBe("an ISO-8601 date or date-time with its zone, e.g. 2026-01-31 or 2026-01-31T12:00:00Z"),
  ),
);

/** A workspace of the caller's organisation (`w-...`); the list and export read only its debates. */
const WorkspaceFilter = lazy(() => type("1 <= string <= 128").describe("a workspace id of your organisation (w-...)"));

export const ListDebatesQuery = lazy(() =>
  type({
    "workspace_id?": WorkspaceFilter,
    "status?": "'running' | 'completed' | 'failed' | 'cancelled'",
    "agent?": "string > 0",
    "since?": isoInstant,
    "limit?": "string.integer.parse |> 1 <= number.integer <= 200",
    "cursor?": "string > 0",
  }),
);

export const ExportQuery = lazy(() =>
  type({
    "format?": "'json' | 'jsonl' | 'csv' | 'md'",
    "workspace_id?": WorkspaceFilter,
    "status?": "'running' | 'completed' | 'failed' | 'cancelled'",
    "agent?": "string > 0",
    "since?": isoInstant,
  }),
);

export const SingleExportQuery = lazy(() => type({ "format?": "'json' | 'jsonl' | 'csv' | 'md'" }));

export const EventsQuery = lazy(() =>
  type({
    "since_seq?": "string.integer.parse |> number.integer >= 0",
    "limit?": "string.integer.parse |> 1 <= number.integer <= 10000",
  }),
);

/** One debate event: the envelope with its type's data (schemas/debate-events.ts lists each type's fields). */
export const DebateEvent = DebateEventSchema;
export type DebateEvent = AnyDebateEvent;

export const DebateSummary = lazy(() =>
  type({
    debate_id: "string",
    question: "string",
    status: "string",
    stop_reason: "string | null",
    agents: "string[]",
    created_at: "string",
    finished_at: "string | null",
    consensus: type("Record<string, unknown> | null").describe(
      "the decision: the consensus event's method, reached, answer, winner (the first seat holding the answer, not the seat with the most votes), supporters and support, with the votes; null when there is none",
    ),
  }),
);

/** A debate's configuration in the record: the POST body's names, every field resolved. */
export const DebateConfigView = lazy(() =>
  type({
    agents: "string[]",
    rounds: "number",
    consensus: "'majority' | 'supermajority' | 'unanimous' | 'confidence_weighted' | 'judge'",
    topology: "'all_to_all' | 'ring' | 'star'",
    convergence_threshold: "number",
    budget: { max_tokens: "number | null", max_cost_usd: "number | null" },
    timeouts: { turn_s: "number", round_s: "number", debate_s: "number" },
    roles: { judge: "string | null", devils_advocate: "string | null", synthesiser: "string | null" },
  }),
);

const UsageView = lazy(() =>
  type({
    input_tokens: "number",
    output_tokens: "number",
    cache_read_tokens: "number",
    cache_write_tokens: "number",
    reasoning_tokens: "number",
    estimated: "boolean",
  }),
);

/** What a finished debate used and how it went, per agent and in total. */
export const DebateSummaryView = lazy(() =>
  type({
    agreement: type({ round: "number", agreement: "number" }).array(),
    agents: type.Record(
      "string",
      type({ turns: "number", usage: UsageView, cost_usd: "number", cost_estimated: "boolean", latency_ms: "number" }),
    ),
    totals: { tokens: "number", cost_usd: "number" },
    failed_seats: "Record<string, string>",
    rounds_completed: "number",
    final_answers: "Record<string, string>",
  }),
);

export const DebateRecord = lazy(() =>
  DebateSummary.and({
    config: DebateConfigView,
    metadata: type("Record<string, unknown> | null").describe("as sent; null only when metadata_error says why"),
    "metadata_error?": type("string").describe("why a record stored before metadata had limits withholds it"),
    error: "string | null",
    baseline: "Record<string, unknown> | null",
    summary: DebateSummaryView.or("null"),
    last_seq: "number",
    ws_topic: "string",
    user_id: "string",
    org_id: "string",
    workspace_id: "string",
  }),
);

export const ListDebatesResponse = lazy(() => type({ debates: DebateSummary.array(), next_cursor: "string | null" }));
export const EventsResponse = lazy(() =>
  type({ debate_id: "string", events: DebateEvent.array(), last_seq: "number" }),
);
export const CancelResponse = lazy(() => type({ debate_id: "string", status: "string" }));

export const ReceiptDocument = lazy(() =>
  type({
    receipt: "Record<string, unknown>",
    signature: "string",
    algorithm: "'Ed25519'",
    public_key: "string",
    key_id: "string",
    "events?": DebateEvent.array(),
  }),
);

export const PublicKeyResponse = lazy(() => type({ algorithm: "'Ed25519'", key_id: "string", public_key: "string" }));

export const RankingsResponse = lazy(() =>
  type({
    agents: type({ name: "string", elo: "number", debates: "number", wins: "number", losses: "number" }).array(),
  }),
);

export const ExportText = lazy(() => type("string").describe("the export in the requested format (streamed)"));

/** WebSocket: subscribe to a debate's events from `since_seq` (exclusive; default 0 = from the start). */
export const SubscribeMessage = lazy(() =>
  type({
    type: "'subscribe'",
    debate_id: "string > 0",
    "since_seq?": "number.integer >= 0",
    "+": "ignore",
  }),
);

export const UnsubscribeMessage = lazy(() => type({ type: "'unsubscribe'", debate_id: "string > 0", "+": "ignore" }));
