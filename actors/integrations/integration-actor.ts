/**
 * The IntegrationActor: the delivery engine's actor (../delivery/target-actor.ts) for one
 * integration, supervised under `/system/integrations`; this module is what an integration does
 * differently from other targets. Deliveries go one at a time (chat services rate-limit per
 * webhook; one at a time also keeps a channel's messages in the order the debates ended), with the
 * engine's retry policy, circuit breaker, attempt log and dead letters.
 *
 * - Slack, Discord and Teams: the connector's format posted to the incoming-webhook URL
 *   (./chat-connectors.ts); OAuth2: the outcome posted with a bearer token, refreshed when needed
 *   (./oauth2-connector.ts). Rotated tokens are saved sealed through the instrumented store's
 *   `refresh_token` before anything else, and kept here so a failed save does not lose them while
 *   the process lives.
 * - A retryable answer (5xx, 429, a redirect, a timeout, a reset) is retried (Retry-After
 *   honoured); one retrying cannot change (another 4xx, a URL the guard refuses) is dead-lettered
 *   at once; 410 Gone disables the integration, saying why.
 *
 * @example
 * const actors = new TargetActors(system, "integrations", deps, INTEGRATION_TARGET, (id) => integrationLink(linkDeps, id));
 */
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import type { DebateOutcome, IntegrationKind } from "../../schemas/integrations.ts";
import {
  type AttemptOutcome,
  deliveryMetricsOf,
  type TargetKindSpec,
  type TargetLink,
} from "../delivery/target-actor.ts";
import { CHAT_CONNECTORS, type ChatKind, postToChat } from "./chat-connectors.ts";
import type { ConnectorDelivery } from "./connector-delivery.ts";
import type { InstrumentedIntegrationStore } from "./instrumented-integration-store.ts";
import type { IntegrationRow, IntegrationStore } from "./integration-store.ts";
import { type OAuth2Secrets, type OAuth2Settings, postToOAuth2Api } from "./oauth2-connector.ts";

const CHAT_KINDS: ReadonlySet<IntegrationKind> = new Set(["slack", "discord", "teams"]);

/** Integrations to the delivery engine: one delivery at a time, metrics by event type as webhooks'. */
export const INTEGRATION_TARGET: TargetKindSpec = {
  targetKind: "integration",
  actorKind: "integration",
  noun: "integration",
  logField: "integration_id",
  maxInFlight: 1,
  metrics: deliveryMetricsOf(
    {
      deliveries: metrics.integrationDeliveries,
      latency: metrics.integrationDeliveryLatency,
      retries: metrics.integrationRetries,
      deadLettered: metrics.integrationDeadLettered,
      breaker: metrics.integrationCircuitBreakerState,
    },
    "integration",
  ),
};

export interface IntegrationLinkDeps {
  /** The integration's row, opened credentials, and the 410's disabling. */
  integrations: Pick<IntegrationStore, "byId" | "secretsOf" | "disable">;
  /** Where rotated OAuth2 tokens are saved (the runbook's refresh_token operation). */
  store: Pick<InstrumentedIntegrationStore, "refreshToken" | "invalidate">;
  send: SendOutbound;
  timeoutMs: number;
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
}

/** The verdict of a connector's post as the engine takes it. */
function outcomeOf(delivery: ConnectorDelivery): AttemptOutcome {
  const status = delivery.status ?? null;
  return {
    verdict: delivery.verdict === "retry" ? "failed" : delivery.verdict,
    status,
    responseBody: status === null ? null : delivery.detail,
    error: delivery.verdict === "delivered" ? null : delivery.detail || `HTTP ${status}`,
    ...(delivery.retryAfterMs === undefined ? {} : { retryAfterMs: delivery.retryAfterMs }),
  };
}

/**
 * The integration `integrationId` as its actor reaches it.
 *
 * @example const link = integrationLink(deps, "int_x"); await link.load();
 */
export function integrationLink(deps: IntegrationLinkDeps, integrationId: string): TargetLink {
  const log = deps.log.child({ integration_id: integrationId });
  let integration: IntegrationRow | undefined;
  /** OAuth2 secrets newer than the row's (saved or not). */
  let kept: OAuth2Secrets | undefined;
  /** The row's credentials as opened, with the sealed text they were opened from. */
  let opened: { sealed: string; secrets: Record<string, unknown> } | undefined;

  /** The row's credentials, opened once for as long as the row keeps them (not on every attempt). */
  function secretsOf(row: IntegrationRow): Record<string, unknown> {
    if (opened?.sealed !== row.credentials)
      opened = { sealed: row.credentials, secrets: deps.integrations.secretsOf(row) };
    return opened.secrets;
  }

  /**
   * Posts with the integration's connector; never throws. Undefined: nothing was posted, `mayPost`
   * said no once an OAuth2 token refresh was done (the node's lease lapsed meanwhile).
   */
  async function post(
    row: IntegrationRow,
    outcome: DebateOutcome,
    mayPost: () => boolean,
  ): Promise<ConnectorDelivery | undefined> {
    let secrets: Record<string, unknown>;
    try {
      secrets = secretsOf(row);
    } catch (err) {
      // A credential this server cannot open (its key is not configured): retrying may help once it is.
      return { verdict: "retry", detail: `the credentials cannot be opened: ${(err as Error).name}` };
    }
    const kind = row.kind as IntegrationKind;
    if (CHAT_KINDS.has(kind)) {
      const connector = CHAT_CONNECTORS[kind as ChatKind];
      return postToChat(deps.send, connector, String(secrets.webhook_url), outcome, deps.timeoutMs);
    }
    const settings = JSON.parse(row.settings) as OAuth2Settings;
    const stored = kept ?? (secrets as unknown as OAuth2Secrets);
    const result = await postToOAuth2Api(deps.send, settings, stored, outcome, {
      timeoutMs: deps.timeoutMs,
      now: deps.now,
      mayPost,
    });
    const delivery = result.fenced ? undefined : result.delivery;
    if (result.secrets === stored) return delivery;
    kept = result.secrets;
    try {
      // First: a rotated refresh token is the only one that works from now on.
      await deps.store.refreshToken(row.orgId, row.id, { ...result.secrets }, new Date(deps.now()));
    } catch (err) {
      log.error({ err }, "could not save the integration's refreshed tokens; kept in memory until saved");
    }
    return delivery;
  }

  return {
    id: integrationId,
    async load() {
      const row = await deps.integrations.byId(integrationId);
      // The row's credentials were replaced by a person: tokens kept here are not theirs.
      if (row === undefined || (integration !== undefined && row.credentials !== integration.credentials)) {
        kept = undefined;
      }
      integration = row;
      return row;
    },
    async disable(reason, at) {
      await deps.integrations.disable(integrationId, reason, at);
      if (integration !== undefined) deps.store.invalidate(integration.orgId, integrationId);
    },
    async attempt(delivery, _number, _startedAt, mayStart): Promise<AttemptOutcome> {
      const row = integration;
      if (row === undefined) {
        return { verdict: "failed", status: null, responseBody: null, error: "the integration is gone" };
      }
      const posted = await post(row, JSON.parse(delivery.payload) as DebateOutcome, mayStart);
      if (posted === undefined) return { verdict: "fenced", status: null, responseBody: null, error: null };
      return outcomeOf(posted);
    },
  };
}
