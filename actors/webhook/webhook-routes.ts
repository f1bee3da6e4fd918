/**
 * An organisation's webhooks, for its owners and admins (`webhooks.manage`):
 *
 * - `POST /api/webhooks` {url, event_types?, description?, enabled?}: a new endpoint (201) with its
 *   signing secret, shown this once; `GET /api/webhooks`, `GET /api/webhooks/:id`,
 *   `PATCH /api/webhooks/:id` (enabling clears why it was disabled), `DELETE /api/webhooks/:id`
 *   (with its deliveries).
 * - `POST /api/webhooks/:id/rotate-secret` {overlap_seconds?}: a new secret, shown once; the old one
 *   still signs deliveries beside it until the overlap ends.
 * - `POST /api/webhooks/:id/test`: a test delivery through the same durable path (202, its id).
 * - `GET /api/webhooks/:id/deliveries?limit=50`: newest first, each with its attempts.
 * - `GET /api/webhooks/dead-letters?limit=100`, `POST /api/webhooks/dead-letters/:delivery_id/retry`,
 *   `POST /api/webhooks/:id/recover` {since, include_delivered?}: dead letters listed, one sent
 *   again, or all of an endpoint's since an instant (with a fresh retry budget, the same ids).
 * - `GET /api/webhooks/metrics`: the runbook's summary (total, success rate, average latency,
 *   dead-lettered, retries pending).
 *
 * Everything is scoped to the caller's organisation: another organisation's endpoints and
 * deliveries answer 404, as missing ones. Ops run events (`ops_*`) are the operator's: only a caller
 * holding ops.read subscribes to them, and only it sees an endpoint that takes them
 * (./operator-events.ts). Every change is in the audit log, never a secret.
 *
 * @example
 * curl -X POST -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"url":"https://hooks.example.com/aragora","event_types":["debate_end"]}' localhost:8080/api/webhooks
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { type OutboundPolicy, validateOutboundUrl } from "../../runtime/http/outbound-guard.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import type { Principal } from "../../runtime/http/principal.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Logger } from "../../runtime/log.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { lazy } from "../../schemas/lazy.ts";
import {
  CreateWebhookBody,
  DeadLettersResponse,
  DeliveriesResponse,
  type DeliveryBody,
  DeliveryIdParams,
  QueuedResponse,
  RecoverBody,
  RecoverResponse,
  RemovedWebhookResponse,
  RotateSecretBody,
  UpdateWebhookBody,
  type WebhookBody,
  WebhookBody as WebhookBodySchema,
  WebhookIdParams,
  WebhookListResponse,
  WebhookMetricsResponse,
  WebhookWithSecret,
} from "../../schemas/webhooks.ts";
import { deliveryFields, deliveryRoutes } from "../delivery/delivery-routes.ts";
import type { DeliveryRow, DeliveryStore } from "../delivery/delivery-store.ts";
import { queued, type TargetStatus } from "../delivery/target-actor.ts";
import { deliveryBody } from "./delivery-body.ts";
import { hiddenEventTypes, refuseOpsEventTypes, seesOperatorEndpoint } from "./operator-events.ts";
import type { WebhookActors } from "./webhook-actors.ts";
import { type EndpointRow, eventTypesOf, newDelivery, type WebhookStore } from "./webhook-store.ts";

export interface WebhookRoutesDeps {
  store: WebhookStore;
  /** The delivery engine's ledger (../delivery/delivery-store.ts). */
  deliveries: Pick<
    DeliveryStore,
    "insertDeliveries" | "summary" | "deadLetters" | "retryDeadLetter" | "deliveries" | "recoverSince"
  >;
  actors: Pick<WebhookActors, "spawn" | "reload" | "enqueue" | "status" | "remove" | "deliveringNodes">;
  /** This node's id (the delivering node of the endpoints whose actors run here). */
  nodeId: string;
  audit: AuditRecorder;
  log: Logger;
  /** The default overlap of a rotated-out secret, in seconds (ARAGORA_WEBHOOK_SECRET_OVERLAP_SECONDS). */
  overlapSeconds: number;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
  /** What an endpoint's URL may reach (loopback only when ARAGORA_OUTBOUND_ALLOW_LOOPBACK; https in production). */
  urlPolicy: OutboundPolicy;
}

const TAGS = ["webhooks"];
/** Who made a change with the operator's token (which has no user). */
const OPERATOR = "operator";

/** A URL the server must not send to: 422 naming body.url and why (never the resolved address). */
function refuseUrl(url: string | undefined, policy: OutboundPolicy): void {
  if (url === undefined) return;
  const checked = validateOutboundUrl(url, policy);
  if (!checked.ok) {
    throw new HttpError(422, "validation_failed", `body.url ${checked.reason}`, [
      { field: "body.url", rule: checked.reason },
    ]);
  }
}

/** The rotate-secret body, or none at all (built on first use, like every schema). */
const RotateSecretBodyOrNone = lazy(() => RotateSecretBody.or("null | undefined"));

function notFound(id: string): HttpError {
  return new HttpError(404, "not_found", `your organisation has no webhook ${id}`);
}

function endpointBody(
  row: EndpointRow,
  status: TargetStatus | undefined,
  deliveringNode: string | null = null,
): WebhookBody {
  return {
    id: row.id,
    url: row.url,
    event_types: eventTypesOf(row),
    description: row.description,
    enabled: row.enabled,
    disabled_reason: row.disabledReason,
    previous_secret_expires_at: row.previousSecretExpiresAt?.toISOString() ?? null,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    circuit_breaker:
      status === undefined
        ? null
        : {
            state: status.breaker.state,
            failures: status.breaker.failures,
            seconds_until_half_open: status.breaker.secondsUntilHalfOpen,
          },
    delivering_node: deliveringNode,
  };
}

function deliveryView(row: DeliveryRow): DeliveryBody {
  return { ...deliveryFields(row), webhook_id: row.endpointId };
}

/**
 * The /api/webhooks routes.
 *
 * @example app.use(webhookRoutes({ store, actors, audit, log, overlapSeconds: 86400, now: Date.now }));
 */
export function webhookRoutes(deps: WebhookRoutesDeps) {
  const { store, actors, audit, log, now, nodeId } = deps;
  const detail = (summary: string) => ({ summary, tags: TAGS });

  /** The caller's endpoint; 404 for another organisation's, or the operator's to anyone else. */
  async function ownEndpoint(p: Principal, id: string): Promise<EndpointRow> {
    const row = await store.endpoint(p.orgId, id);
    if (row === undefined || !seesOperatorEndpoint(p, row)) throw notFound(id);
    return row;
  }

  /** The node sending the endpoint's deliveries, or null. */
  async function deliveringNode(id: string): Promise<string | null> {
    return (await actors.deliveringNodes([id], nodeId)).get(id) ?? null;
  }

  return new Elysia({ name: "aragora-webhooks", prefix: "/api/webhooks" })
    .use(accessControl)
    .use(
      deliveryRoutes({
        kind: "webhook",
        permission: "webhooks.manage",
        noun: "webhook",
        ledger: deps.deliveries,
        actors,
        audit,
        now,
        own: ownEndpoint,
        hiddenEventTypes,
        view: deliveryView,
        schemas: {
          targetIdParams: WebhookIdParams,
          deliveryIdParams: DeliveryIdParams,
          deliveriesResponse: DeliveriesResponse,
          deadLettersResponse: DeadLettersResponse,
        },
      }),
    )
    .post(
      "",
      async ({ body, request, set, status }) => {
        const p = principalOf(request);
        refuseUrl(body.url, deps.urlPolicy);
        refuseOpsEventTypes(p, body.event_types);
        const { endpoint, secret } = await store.createEndpoint({
          orgId: p.orgId,
          url: body.url,
          eventTypes: [...new Set(body.event_types ?? [])],
          description: body.description ?? "",
          enabled: body.enabled ?? true,
          by: p.userId ?? OPERATOR,
          now: new Date(now()),
        });
        actors.spawn(endpoint.id);
        log.info({ org_id: p.orgId, webhook_id: endpoint.id }, `webhook created webhook_id=${endpoint.id}`);
        await audit.record({
          action: "webhook.created",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "webhook", id: endpoint.id },
          detail: { event_types: eventTypesOf(endpoint).join(",") || "all" },
        });
        set.headers["cache-control"] = "no-store";
        return status(201, { ...endpointBody(endpoint, undefined), secret });
      },
      {
        permission: "webhooks.manage",
        body: validated(CreateWebhookBody, "body"),
        parse: "json",
        detail: detail("Register a webhook endpoint; its signing secret is in this answer only"),
        response: responses({ 201: WebhookWithSecret, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "",
      async ({ request }) => {
        const p = principalOf(request);
        const rows = (await store.listEndpoints(p.orgId)).filter((r) => seesOperatorEndpoint(p, r));
        const [statuses, nodes] = await Promise.all([
          Promise.all(rows.map((r) => actors.status(r.id))),
          actors.deliveringNodes(
            rows.map((r) => r.id),
            nodeId,
          ),
        ]);
        return { webhooks: rows.map((r, i) => endpointBody(r, statuses[i], nodes.get(r.id) ?? null)) };
      },
      {
        permission: "webhooks.manage",
        detail: detail("The organisation's webhook endpoints (never their secrets)"),
        response: responses({ 200: WebhookListResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .get(
      "/metrics",
      async ({ request }) => {
        const p = principalOf(request);
        const [summary, all] = await Promise.all([
          deps.deliveries.summary(p.orgId, "webhook", hiddenEventTypes(p)),
          store.listEndpoints(p.orgId),
        ]);
        const rows = all.filter((r) => seesOperatorEndpoint(p, r));
        const statuses = await Promise.all(rows.map((r) => actors.status(r.id)));
        const { DELIVERED, DEAD_LETTERED, RETRYING, PENDING, IN_PROGRESS } = summary.byState;
        const finished = DELIVERED + DEAD_LETTERED;
        return {
          total_deliveries: summary.total,
          delivered: DELIVERED,
          success_rate: finished === 0 ? null : Math.round((DELIVERED / finished) * 10_000) / 100,
          avg_latency_ms: summary.avgLatencyMs === null ? null : Math.round(summary.avgLatencyMs * 100) / 100,
          dead_lettered: DEAD_LETTERED,
          retries_pending: RETRYING,
          pending: PENDING,
          in_progress: IN_PROGRESS,
          circuits_open: statuses.filter((s) => s !== undefined && s.breaker.state !== "closed").length,
        };
      },
      {
        permission: "webhooks.manage",
        detail: detail(
          "The organisation's delivery summary: total, success rate, average latency, dead-lettered, retries pending",
        ),
        response: responses({ 200: WebhookMetricsResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .get(
      "/:id",
      async ({ params, request }) => {
        const p = principalOf(request);
        const row = await ownEndpoint(p, params.id);
        return endpointBody(row, await actors.status(row.id), await deliveringNode(row.id));
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        detail: detail("One webhook endpoint, with its circuit breaker"),
        response: responses({ 200: WebhookBodySchema, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .patch(
      "/:id",
      async ({ params, body, request }) => {
        const p = principalOf(request);
        refuseUrl(body.url, deps.urlPolicy);
        refuseOpsEventTypes(p, body.event_types);
        await ownEndpoint(p, params.id);
        const row = await store.updateEndpoint(
          p.orgId,
          params.id,
          {
            url: body.url,
            eventTypes: body.event_types === undefined ? undefined : [...new Set(body.event_types)],
            description: body.description,
            enabled: body.enabled,
          },
          new Date(now()),
        );
        if (row === undefined) throw notFound(params.id);
        actors.reload(row.id);
        await audit.record({
          action: "webhook.updated",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "webhook", id: row.id },
          detail: { fields: Object.keys(body).sort().join(","), enabled: row.enabled },
        });
        return endpointBody(row, await actors.status(row.id), await deliveringNode(row.id));
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        body: validated(UpdateWebhookBody, "body"),
        parse: "json",
        detail: detail("Change a webhook endpoint: URL, event types, description, enabled"),
        response: responses({ 200: WebhookBodySchema, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .delete(
      "/:id",
      async ({ params, request }) => {
        const p = principalOf(request);
        await ownEndpoint(p, params.id);
        // The actor first: nothing is attempted for deliveries about to be removed.
        await actors.remove(params.id);
        const row = await store.deleteEndpoint(p.orgId, params.id);
        if (row === undefined) throw notFound(params.id);
        await audit.record({
          action: "webhook.removed",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "webhook", id: row.id },
        });
        return { id: row.id, removed: true as const };
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        detail: detail("Remove a webhook endpoint with its deliveries"),
        response: responses({
          200: RemovedWebhookResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .post(
      "/:id/rotate-secret",
      async ({ params, body, request, set }) => {
        const p = principalOf(request);
        const overlapSeconds = body?.overlap_seconds ?? deps.overlapSeconds;
        await ownEndpoint(p, params.id);
        const rotated = await store.rotateSecret(p.orgId, params.id, overlapSeconds * 1000, new Date(now()));
        if (rotated === undefined) throw notFound(params.id);
        actors.reload(params.id);
        await audit.record({
          action: "webhook.secret_rotated",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "webhook", id: params.id },
          detail: { overlap_seconds: overlapSeconds },
        });
        set.headers["cache-control"] = "no-store";
        return {
          ...endpointBody(rotated.endpoint, await actors.status(params.id), await deliveringNode(params.id)),
          secret: rotated.secret,
        };
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        // No body at all is the default overlap.
        body: validated(RotateSecretBodyOrNone, "body"),
        detail: detail(
          "A new signing secret (in this answer only); the old one signs deliveries beside it until the overlap ends",
        ),
        response: responses({ 200: WebhookWithSecret, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/:id/test",
      async ({ params, request, status }) => {
        const p = principalOf(request);
        const endpoint = await ownEndpoint(p, params.id);
        if (!endpoint.enabled) {
          throw new HttpError(
            409,
            "webhook_disabled",
            `the webhook ${endpoint.id} is disabled${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ""}: enable it first (PATCH with enabled true)`,
          );
        }
        const at = new Date(now());
        const [row] = await deps.deliveries.insertDeliveries([
          newDelivery(
            endpoint,
            "test",
            `test:${crypto.randomUUID()}`,
            (id) =>
              deliveryBody({
                deliveryId: id,
                webhookId: endpoint.id,
                eventType: "test",
                timestamp: at.toISOString(),
                data: { message: "A test delivery from Aragora: your endpoint receives and verifies webhooks." },
              }),
            at,
          ),
        ]);
        if (row === undefined) throw new Error("the test delivery was not stored");
        actors.enqueue(endpoint.id, [queued(row)]);
        return status(202, { delivery_id: row.id, state: "PENDING" as const });
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        detail: detail("Send a test event to the endpoint (202: its delivery id; follow it in /deliveries)"),
        response: responses({
          202: QueuedResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .post(
      "/:id/recover",
      async ({ params, body, request }) => {
        const p = principalOf(request);
        await ownEndpoint(p, params.id);
        const includeDelivered = body.include_delivered ?? false;
        const rows = await deps.deliveries.recoverSince(
          p.orgId,
          params.id,
          new Date(body.since),
          includeDelivered,
          new Date(now()),
        );
        actors.enqueue(params.id, rows.map(queued));
        await audit.record({
          action: "webhook.recovered",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "webhook", id: params.id },
          detail: { since: body.since, include_delivered: includeDelivered, deliveries: rows.length },
        });
        return { recovered: rows.length, delivery_ids: rows.map((r) => r.id) };
      },
      {
        permission: "webhooks.manage",
        params: validated(WebhookIdParams, "params"),
        body: validated(RecoverBody, "body"),
        parse: "json",
        detail: detail(
          "Send again the endpoint's dead letters made since an instant (with include_delivered, its delivered ones too)",
        ),
        response: responses({ 200: RecoverResponse, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    );
}
