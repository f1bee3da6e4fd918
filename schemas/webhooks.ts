/**
 * Bodies of the webhook routes (/api/webhooks): an organisation's endpoints, their deliveries and
 * attempts, dead letters and the delivery metrics summary. A signing secret is in an answer once,
 * when it is made (create, rotate-secret), and never again.
 *
 * An endpoint's URL is checked for its shape here (absolute http or https, a host, no user name or
 * password, at most 2048 characters); the addresses it may reach are the outbound sender's concern.
 */
import { type } from "arktype";
import { isoInstant } from "./debates.ts";
import { lazy } from "./lazy.ts";

/** An organisation's events: its debates'. */
export const DEBATE_WEBHOOK_EVENT_TYPES = [
  "debate_start",
  "consensus",
  "agent_error",
  "debate_end",
  "receipt_generated",
] as const;

/**
 * The operator's events: ops playbook runs, named for the run journal's lines they come from
 * (`run_started`, a `step_finished` that failed, `approval_waiting`, `run_paused`, `run_finished`
 * with its status succeeded, failed or cancelled). A run is the server's, not an organisation's:
 * only a caller holding `ops.read` (the operator) may subscribe an endpoint to them, and only by
 * naming them (an endpoint that lists no types takes its organisation's events, never these).
 */
export const OPS_WEBHOOK_EVENT_TYPES = [
  "ops_run_started",
  "ops_step_failed",
  "ops_approval_waiting",
  "ops_run_paused",
  "ops_run_finished",
] as const;
export type OpsWebhookEventType = (typeof OPS_WEBHOOK_EVENT_TYPES)[number];

/** The event types an endpoint can take. */
export const WEBHOOK_EVENT_TYPES = [...DEBATE_WEBHOOK_EVENT_TYPES, ...OPS_WEBHOOK_EVENT_TYPES] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

const OPS_TYPES: ReadonlySet<string> = new Set(OPS_WEBHOOK_EVENT_TYPES);

/**
 * Whether `type` is one of the operator's event types (an ops run's).
 *
 * @example isOpsEventType("ops_run_finished") // true
 */
export function isOpsEventType(type: string): type is OpsWebhookEventType {
  return OPS_TYPES.has(type);
}

/** A URL longer than this is refused. */
export const WEBHOOK_URL_MAX = 2048;

/**
 * What `url` must be that it is not, as a webhook endpoint ("must be ..."), or undefined when its
 * shape is acceptable.
 *
 * @example webhookUrlProblem("ftp://x") // "an http:// or https:// URL (it is ftp:)"
 */
export function webhookUrlProblem(url: string): string | undefined {
  if (url.length > WEBHOOK_URL_MAX) return `at most ${WEBHOOK_URL_MAX} characters (it has ${url.length})`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "an absolute http:// or https:// URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return `an http:// or https:// URL (it is ${parsed.protocol})`;
  }
  if (parsed.hostname === "") return "a URL with a host";
  // Credentials in a URL end up in logs and in every request's Authorization.
  if (parsed.username !== "" || parsed.password !== "") return "a URL without a user name or password";
  if (/\s/.test(url)) return "a URL without whitespace";
  return undefined;
}

export const WebhookUrl = lazy(() =>
  type("string")
    .narrow((url, ctx) => {
      const problem = webhookUrlProblem(url);
      // The URL is not echoed: it may carry a token in its path.
      return problem === undefined || ctx.reject({ expected: problem, actual: "" });
    })
    .describe("the receiver's absolute http:// or https:// URL, without credentials"),
);

const EventTypes = lazy(() =>
  type
    .enumerated(...WEBHOOK_EVENT_TYPES)
    .array()
    .atMostLength(WEBHOOK_EVENT_TYPES.length)
    .describe(
      `the event types to deliver (${WEBHOOK_EVENT_TYPES.join(", ")}); empty or absent: all of the organisation's (${DEBATE_WEBHOOK_EVENT_TYPES.join(", ")}); ops_* only for the operator (ops.read), by name`,
    ),
);

const Description = lazy(() => type("string <= 500").describe("what the endpoint is for (at most 500 characters)"));

export const CreateWebhookBody = lazy(() =>
  type({
    url: WebhookUrl,
    "event_types?": EventTypes,
    "description?": Description,
    "enabled?": "boolean",
    "+": "reject",
  }),
);

export const UpdateWebhookBody = lazy(() =>
  type({
    "url?": WebhookUrl,
    "event_types?": EventTypes,
    "description?": Description,
    "enabled?": type("boolean").describe("true enables it again (clearing why it was disabled)"),
    "+": "reject",
  }).narrow((body, ctx) => Object.keys(body).length > 0 || ctx.mustBe("an object with at least one field to change")),
);

export const RotateSecretBody = lazy(() =>
  type({
    "overlap_seconds?": type("0 <= number.integer <= 604800").describe(
      "how long the old secret still signs deliveries beside the new one; default ARAGORA_WEBHOOK_SECRET_OVERLAP_SECONDS; 0 ends it at once",
    ),
    "+": "reject",
  }),
);

export const RecoverBody = lazy(() =>
  type({
    since: isoInstant.describe("deliveries made at or after this instant (ISO 8601 with its zone)"),
    "include_delivered?": type("boolean").describe(
      "also send again those that were delivered (the receiver lost them)",
    ),
    "+": "reject",
  }),
);

export const WebhookIdParams = lazy(() =>
  type({ id: type(/^wh-[0-9a-f-]{36}$/).describe("a webhook endpoint id (wh-...)") }),
);
export const DeliveryIdParams = lazy(() =>
  type({
    delivery_id: type(/^dlv-[0-9a-f-]{36}$/).describe("a delivery id (dlv-...)"),
  }),
);

export const DeliveriesQuery = lazy(() => type({ "limit?": "string.integer.parse |> 1 <= number.integer <= 500" }));
export const DeadLettersQuery = lazy(() => type({ "limit?": "string.integer.parse |> 1 <= number.integer <= 1000" }));

/** A target's circuit breaker as answered (webhook endpoints, integrations). */
export const BreakerView = lazy(() =>
  type({
    state: "'closed' | 'half_open' | 'open'",
    failures: "number",
    seconds_until_half_open: "number | null",
  }),
);

export const WebhookBody = lazy(() =>
  type({
    id: "string",
    url: "string",
    event_types: type("string[]").describe("empty: every event type"),
    description: "string",
    enabled: "boolean",
    disabled_reason: type("string | null").describe("why it was disabled (a 410 Gone from its receiver), or null"),
    previous_secret_expires_at: type("string | null").describe(
      "until when the secret a rotation replaced still signs deliveries (ISO 8601), or null",
    ),
    created_by: "string",
    created_at: "string",
    updated_at: "string",
    "circuit_breaker?": BreakerView.or("null").describe("the endpoint actor's breaker on this node; null: not running"),
    "delivering_node?": type("string | null").describe(
      "the id of the node sending this endpoint's deliveries (with several nodes on PostgreSQL: the holder of its lease); null: none at the moment",
    ),
  }),
);
export type WebhookBody = typeof WebhookBody.infer;

export const WebhookWithSecret = lazy(() =>
  WebhookBody.and({
    secret: type("string").describe(
      "the signing secret (whsec_...): shown this once. X-Webhook-Signature is the hex HMAC-SHA256 of the body keyed with it; webhook-signature follows Standard Webhooks",
    ),
  }),
);

export const WebhookListResponse = lazy(() => type({ webhooks: WebhookBody.array() }));
export const RemovedWebhookResponse = lazy(() => type({ id: "string", removed: "true" }));

export const AttemptBody = lazy(() =>
  type({
    attempt: "number",
    at: "string",
    status: type("number | null").describe("the receiver's HTTP status; null: no answer"),
    latency_ms: "number",
    response_body: type("string | null").describe("the start of the receiver's answer (at most 1024 characters)"),
    error: "string | null",
  }),
);

export const DeliveryBody = lazy(() =>
  type({
    delivery_id: "string",
    webhook_id: "string",
    event_type: "string",
    state: "'PENDING' | 'IN_PROGRESS' | 'DELIVERED' | 'RETRYING' | 'DEAD_LETTERED'",
    attempts: "number",
    next_attempt_at: type("string | null").describe("when the next attempt is due, while one is"),
    last_error: "string | null",
    last_status: "number | null",
    created_at: "string",
    updated_at: "string",
  }),
);
export type DeliveryBody = typeof DeliveryBody.infer;

export const DeliveryWithAttemptsBody = lazy(() => DeliveryBody.and({ history: AttemptBody.array() }));
export const DeliveriesResponse = lazy(() => type({ deliveries: DeliveryWithAttemptsBody.array() }));

export const DeadLettersResponse = lazy(() => type({ dead_letters: DeliveryBody.array() }));

export const QueuedResponse = lazy(() =>
  type({
    delivery_id: "string",
    state: "'PENDING'",
  }),
);

export const RecoverResponse = lazy(() =>
  type({
    recovered: "number",
    delivery_ids: "string[]",
  }),
);

export const WebhookMetricsResponse = lazy(() =>
  type({
    total_deliveries: "number",
    delivered: "number",
    success_rate: type("number | null").describe(
      "delivered, in percent of the deliveries that finished (delivered or dead-lettered); null before any did",
    ),
    avg_latency_ms: type("number | null").describe("mean latency of the attempts that got an answer"),
    dead_lettered: "number",
    retries_pending: type("number").describe("deliveries waiting for their next attempt after a failed one"),
    pending: "number",
    in_progress: "number",
    circuits_open: type("number").describe(
      "the organisation's endpoints whose breaker is open or half-open on this node",
    ),
  }),
);
