/**
 * What integrations post and how they are described: the outcome of a debate as the Slack,
 * Discord, Teams and OAuth2 connectors format it (actors/integrations/), and the kinds of
 * integration there are.
 *
 * @example
 * const outcome: DebateOutcome = { debate_id: "d-1", question: "Ship it?", status: "completed",
 *   consensus: { reached: true, method: "majority", answer: "Yes", winner: "demo:alice", support: 0.67 },
 *   rounds_completed: 2, agents: ["demo:alice", "demo:bob"], finished_at: "2025-01-01T00:00:00.000Z" };
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";
import { AttemptBody, BreakerView, WebhookUrl } from "./webhooks.ts";

export const INTEGRATION_KINDS = ["slack", "discord", "teams", "oauth2"] as const;
export type IntegrationKind = (typeof INTEGRATION_KINDS)[number];

export const DebateOutcome = lazy(() =>
  type({
    debate_id: "string",
    question: "string",
    status: type("string").describe("how the debate ended: completed, failed, cancelled, timed_out"),
    consensus: type({
      reached: "boolean",
      method: "string",
      answer: "string | null",
      winner: "string | null",
      support: type("number").describe("share of the votes for the answer, 0 to 1"),
    }).or("null"),
    rounds_completed: "number.integer >= 0",
    agents: "string[]",
    finished_at: type("string").describe("when the debate ended (ISO 8601)"),
    "url?": type("string").describe("where people can read the debate"),
  }),
);
export type DebateOutcome = typeof DebateOutcome.infer;

// --- /api/integrations -----------------------------------------------------------------------

const Name = lazy(() => type("0 < string <= 100").describe("a name unique in the organisation (1-100 characters)"));
const OutboundUrl = WebhookUrl;
const Secret = lazy(() => type("0 < string <= 4096"));

/**
 * A new integration. Slack, Discord and Teams take `webhook_url` (the incoming webhook the service
 * gave you: it is a credential, stored sealed); `oauth2` takes `token_url`, `resource_url`,
 * `client_id`, `client_secret`, `refresh_token` (and optionally `auth_method`, `scope`).
 */
export const CreateIntegrationBody = lazy(() =>
  type({
    kind: type.enumerated(...INTEGRATION_KINDS).describe(`one of ${INTEGRATION_KINDS.join(", ")}`),
    name: Name,
    "enabled?": "boolean",
    "webhook_url?": OutboundUrl.describe("slack, discord, teams: the service's incoming-webhook URL (sealed at rest)"),
    "token_url?": OutboundUrl.describe("oauth2: the token endpoint"),
    "resource_url?": OutboundUrl.describe("oauth2: where outcomes are POSTed with the bearer token"),
    "client_id?": "0 < string <= 500",
    "client_secret?": Secret.describe("oauth2: sealed at rest, never answered"),
    "refresh_token?": Secret.describe("oauth2: sealed at rest, never answered"),
    "auth_method?": "'client_secret_basic' | 'client_secret_post'",
    "scope?": "0 < string <= 1000",
    "+": "reject",
  }),
);
export type CreateIntegrationBody = typeof CreateIntegrationBody.infer;

/** A change: any of the fields above but `kind`; credentials not given are kept. */
export const UpdateIntegrationBody = lazy(() =>
  type({
    "name?": Name,
    "enabled?": type("boolean").describe("true enables it again (clearing why the server disabled it)"),
    "webhook_url?": OutboundUrl,
    "token_url?": OutboundUrl,
    "resource_url?": OutboundUrl,
    "client_id?": "0 < string <= 500",
    "client_secret?": Secret,
    "refresh_token?": Secret,
    "auth_method?": "'client_secret_basic' | 'client_secret_post'",
    "scope?": "0 < string <= 1000",
    "+": "reject",
  }).narrow((body, ctx) => Object.keys(body).length > 0 || ctx.mustBe("an object with at least one field to change")),
);
export type UpdateIntegrationBody = typeof UpdateIntegrationBody.infer;

export const IntegrationIdParams = lazy(() =>
  type({
    id: type(/^int_[A-Za-z0-9_-]{22}$/).describe("an integration id (int_...)"),
  }),
);

/** A stored credential as answered: whether it is set and its last four characters, never more. */
const CredentialView = lazy(() => type({ set: "boolean", last_four: "string | null" }));

export const IntegrationView = lazy(() =>
  type({
    id: "string",
    kind: type.enumerated(...INTEGRATION_KINDS),
    name: "string",
    enabled: "boolean",
    disabled_reason: "string | null",
    settings: type({
      "token_url?": "string",
      "resource_url?": "string",
      "client_id?": "string",
      "auth_method?": "string",
      "scope?": "string",
    }),
    credentials: type({ "[string]": CredentialView }),
    created_by: "string",
    created_at: "string",
    updated_at: "string",
    "circuit_breaker?": BreakerView.or("null").describe(
      "the integration actor's breaker on this node; null: not running",
    ),
  }),
);
export type IntegrationView = typeof IntegrationView.infer;
export const IntegrationListResponse = lazy(() => type({ integrations: IntegrationView.array() }));
export const RemovedIntegrationResponse = lazy(() => type({ id: "string", removed: "true" }));

export const IntegrationDeliveryView = lazy(() =>
  type({
    delivery_id: "string",
    integration_id: "string",
    event_type: "string",
    debate_id: "string",
    state: "'PENDING' | 'IN_PROGRESS' | 'DELIVERED' | 'RETRYING' | 'DEAD_LETTERED'",
    attempts: "number",
    next_attempt_at: "string | null",
    last_error: "string | null",
    last_status: "number | null",
    created_at: "string",
    updated_at: "string",
  }),
);
export const IntegrationDeliveriesResponse = lazy(() =>
  type({ deliveries: IntegrationDeliveryView.and({ history: AttemptBody.array() }).array() }),
);
export const IntegrationDeadLettersResponse = lazy(() => type({ dead_letters: IntegrationDeliveryView.array() }));
export const IntegrationDeliveryIdParams = lazy(() =>
  type({
    delivery_id: type(/^idl-[0-9a-f-]{36}$/).describe("an integration delivery id (idl-...)"),
  }),
);

const OperationFigures = lazy(() =>
  type({ total_calls: "number", success_rate: "number", avg_latency_seconds: "number" }),
);

/** The runbook's `get_integration_metrics()`. */
export const IntegrationStoreMetricsResponse = lazy(() =>
  type({
    backend_type: "string",
    is_healthy: "boolean",
    cache_hit_rate: "number",
    operations: {
      get: OperationFigures,
      save: OperationFigures,
      delete: OperationFigures,
      list: OperationFigures,
      refresh_token: OperationFigures,
    },
  }),
);

/** The runbook's `health_check()`. */
export const IntegrationStoreHealthResponse = lazy(() =>
  type({
    healthy: "boolean",
    backend_type: "string",
    consecutive_failures: "number",
    active_integrations: "number",
    operations_summary: { get_success_rate: "number", save_success_rate: "number", cache_hit_rate: "number" },
  }),
);
