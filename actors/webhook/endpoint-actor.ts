/**
 * The WebhookEndpointActor: the delivery engine's actor (../delivery/target-actor.ts) for one
 * webhook endpoint, supervised under `/system/webhooks`; this module is what an endpoint does
 * differently from other targets. An attempt is the delivery's exact body POSTed as JSON to the
 * endpoint's URL, signed with its secrets (both while a rotated-out one overlaps: ./signatures.ts)
 * and carrying the delivery's id (`webhook-id`, `X-Webhook-Delivery-Id`, and `delivery_id` in the
 * body, which never changes), so a receiver deduplicates the redeliveries that at-least-once
 * delivery makes after a crash. 2xx is delivered, 410 Gone disables the endpoint, anything else
 * (3xx: redirects are never followed) is a failure the retry policy retries.
 *
 * @example
 * const actors = new TargetActors(system, "webhooks", deps, WEBHOOK_TARGET, (id) => endpointLink(linkDeps, id));
 */
import type { OutboundResponse, SendOutbound } from "../../runtime/http/outbound.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import {
  type AttemptOutcome,
  deliveryMetricsOf,
  type TargetKindSpec,
  type TargetLink,
} from "../delivery/target-actor.ts";
import { retryAfterMs, verdictOf } from "./retry-policy.ts";
import { signatureHeaders } from "./signatures.ts";
import type { EndpointRow, WebhookStore } from "./webhook-store.ts";

/** Attempts one endpoint has in flight at most. */
export const MAX_IN_FLIGHT = 16;

/** Webhook endpoints to the delivery engine: the runbook's metric names, by event type. */
export const WEBHOOK_TARGET: TargetKindSpec = {
  targetKind: "webhook",
  actorKind: "webhook_endpoint",
  noun: "webhook endpoint",
  logField: "endpoint_id",
  maxInFlight: MAX_IN_FLIGHT,
  metrics: deliveryMetricsOf(
    {
      deliveries: metrics.webhookDeliveries,
      latency: metrics.webhookDeliveryLatency,
      retries: metrics.webhookRetries,
      deadLettered: metrics.webhookDeadLettered,
      breaker: metrics.webhookCircuitBreakerState,
    },
    "endpoint",
  ),
};

export interface EndpointLinkDeps {
  store: Pick<WebhookStore, "endpointById" | "secretsOf" | "disableEndpoint">;
  send: SendOutbound;
  timeoutMs: number;
  log: Logger;
  /** The server's version, in the User-Agent. */
  version: string;
  /** Wall-clock epoch milliseconds (a Retry-After date is read against it). */
  now: () => number;
}

/**
 * The endpoint `endpointId` as its actor reaches it: its row, its secrets (opened once, again when
 * a rotated-out one expires), a signed POST.
 *
 * @example const link = endpointLink(deps, "wh-1"); await link.load();
 */
export function endpointLink(deps: EndpointLinkDeps, endpointId: string): TargetLink {
  const log = deps.log.child({ endpoint_id: endpointId });
  let endpoint: EndpointRow | undefined;
  /** The signing secrets, current first, and until when they hold (a previous one expiring). */
  let secrets: string[] = [];
  let secretsUntil = 0;

  function secretsAt(row: EndpointRow, now: number): string[] {
    if (now >= secretsUntil) {
      secrets = deps.store.secretsOf(row, new Date(now));
      const expires = row.previousSecretExpiresAt?.getTime();
      secretsUntil = secrets.length > 1 && expires !== undefined ? expires : Number.POSITIVE_INFINITY;
    }
    return secrets;
  }

  return {
    id: endpointId,
    async load() {
      endpoint = await deps.store.endpointById(endpointId);
      secretsUntil = 0;
      return endpoint;
    },
    async disable(reason, at) {
      await deps.store.disableEndpoint(endpointId, reason, at);
    },
    async attempt(delivery, number, startedAt): Promise<AttemptOutcome> {
      const row = endpoint;
      if (row === undefined)
        return { verdict: "failed", status: null, responseBody: null, error: "the endpoint is gone" };
      let signing: string[];
      try {
        signing = secretsAt(row, startedAt);
      } catch (err) {
        // A secret this server cannot open (its key is not configured): nothing can be signed.
        log.error({ err, delivery_id: delivery.id }, "cannot open the endpoint's signing secret; the delivery waits");
        signing = [];
      }
      if (signing.length === 0) {
        return {
          verdict: "failed",
          status: null,
          responseBody: null,
          error: "the endpoint's signing secret cannot be opened with the configured keys",
        };
      }
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "user-agent": `Aragora-Webhooks/${deps.version}`,
        "x-webhook-delivery-id": delivery.id,
        "x-webhook-event": delivery.eventType,
        "x-webhook-attempt": String(number),
        ...signatureHeaders({
          id: delivery.id,
          timestamp: Math.floor(startedAt / 1000),
          body: delivery.payload,
          secrets: signing,
        }),
      };
      let response: OutboundResponse;
      try {
        response = await deps.send({ url: row.url, headers, body: delivery.payload, timeoutMs: deps.timeoutMs });
      } catch (err) {
        const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        return { verdict: "failed", status: null, responseBody: null, error };
      }
      const verdict = verdictOf(response.status);
      const wait = retryAfterMs(response.headers.get("retry-after"), deps.now());
      return {
        verdict: verdict === "delivered" ? "delivered" : verdict === "gone" ? "gone" : "failed",
        status: response.status,
        latencyMs: response.latencyMs,
        responseBody: response.body,
        error: verdict === "delivered" ? null : `HTTP ${response.status}`,
        ...(wait === undefined ? {} : { retryAfterMs: wait }),
      };
    },
  };
}
