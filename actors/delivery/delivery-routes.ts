/**
 * The delivery engine's routes, mounted under each target kind's prefix (/api/webhooks,
 * /api/integrations) with that kind's permission, views and ids:
 *
 * - `GET <prefix>/:id/deliveries?limit=50`: the target's deliveries, newest first, each with its
 *   attempts (`history`: status, latency, the start of the answer, the error);
 * - `GET <prefix>/dead-letters?limit=100`: the organisation's dead letters to targets of the kind,
 *   most recently dead-lettered first;
 * - `POST <prefix>/dead-letters/:delivery_id/retry`: one sent again (202), the same delivery id,
 *   a fresh retry budget, through its target's breaker.
 *
 * Scoped to the caller's organisation and to the kind: another organisation's target or delivery,
 * or a delivery to a target of the other kind, answers 404 as a missing one.
 *
 * @example
 * new Elysia({ prefix: "/api/integrations" }).use(deliveryRoutes({ kind: "integration", noun: "integration", ... }));
 */
import type { Type } from "arktype";
import { Elysia } from "elysia";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import type { Principal } from "../../runtime/http/principal.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Permission } from "../../runtime/security/rbac.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { DeadLettersQuery, DeliveriesQuery, QueuedResponse } from "../../schemas/webhooks.ts";
import type { AttemptRow, DeliveryRow, DeliveryStore, TargetKind } from "./delivery-store.ts";
import { queued } from "./target-actor.ts";
import type { TargetActors } from "./target-actors.ts";

/** A delivery's attempt as answered. */
export interface AttemptView {
  attempt: number;
  at: string;
  status: number | null;
  latency_ms: number;
  response_body: string | null;
  error: string | null;
}

/** An attempt as answered. @example attemptView(row) // { attempt: 1, status: 503, ... } */
export function attemptView(a: AttemptRow): AttemptView {
  return {
    attempt: a.attempt,
    at: a.at.toISOString(),
    status: a.status,
    latency_ms: Math.round(a.latencyMs * 100) / 100,
    response_body: a.responseBody,
    error: a.error,
  };
}

/** The fields every kind answers of a delivery (each adds its target's id under its own name). */
export function deliveryFields(row: DeliveryRow) {
  const open = row.state === "PENDING" || row.state === "RETRYING" || row.state === "IN_PROGRESS";
  return {
    delivery_id: row.id,
    event_type: row.eventType,
    state: row.state as "PENDING" | "IN_PROGRESS" | "DELIVERED" | "RETRYING" | "DEAD_LETTERED",
    attempts: row.attempts,
    next_attempt_at: open ? row.nextAttemptAt.toISOString() : null,
    last_error: row.lastError,
    last_status: row.lastStatus,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

export interface DeliveryRoutesDeps {
  kind: TargetKind;
  permission: Permission;
  /** The target in messages and audit names: `webhook`, `integration`. */
  noun: "webhook" | "integration";
  ledger: Pick<DeliveryStore, "deliveries" | "deadLetters" | "retryDeadLetter">;
  actors: Pick<TargetActors, "enqueue">;
  audit: AuditRecorder;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
  /** The caller's target (one of its organisation's that it may see), or a 404 naming it. */
  own(p: Principal, id: string): Promise<unknown>;
  /**
   * Event types the caller is not shown nor may retry (the operator's ops run events, for anyone
   * else: ../webhook/operator-events.ts); none by default.
   */
  hiddenEventTypes?(p: Principal): readonly string[];
  /** A delivery as the kind answers it. */
  view(row: DeliveryRow): Record<string, unknown>;
  schemas: {
    targetIdParams: Type<{ id: string }>;
    deliveryIdParams: Type<{ delivery_id: string }>;
    deliveriesResponse: Type<unknown>;
    deadLettersResponse: Type<unknown>;
  };
}

/**
 * The routes above for one target kind.
 *
 * @example new Elysia({ prefix: "/api/webhooks" }).use(deliveryRoutes({ kind: "webhook", permission: "webhooks.manage", ... }))
 */
export function deliveryRoutes(deps: DeliveryRoutesDeps) {
  const { kind, noun, ledger, actors, audit, now, schemas } = deps;
  const hidden = (p: Principal) => deps.hiddenEventTypes?.(p) ?? [];
  const tags = [`${noun}s`];
  // Mounted (`use`) inside the kind's own routes, which give the prefix.
  return new Elysia({ name: `aragora-${noun}-deliveries` })
    .use(accessControl)
    .get(
      "/dead-letters",
      async ({ request, query }) => {
        const p = principalOf(request);
        const limit = (query as { limit?: number }).limit ?? 100;
        const rows = await ledger.deadLetters(p.orgId, kind, limit, hidden(p));
        return { dead_letters: rows.map(deps.view) };
      },
      {
        permission: deps.permission,
        query: validated(DeadLettersQuery, "query"),
        detail: {
          summary: `The organisation's dead-lettered ${noun} deliveries, most recent first (limit 1-1000, default 100)`,
          tags,
        },
        response: responses({ 200: schemas.deadLettersResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .post(
      "/dead-letters/:delivery_id/retry",
      async ({ params, request, status }) => {
        const p = principalOf(request);
        const id = (params as { delivery_id: string }).delivery_id;
        const row = await ledger.retryDeadLetter(p.orgId, kind, id, new Date(now()), hidden(p));
        if (row === undefined) throw new HttpError(404, "not_found", `your organisation has no dead letter ${id}`);
        actors.enqueue(row.endpointId, [queued(row)]);
        await audit.record({
          action: `${noun}.dead_letter_retried`,
          outcome: "success",
          ...auditedRequest(request),
          target: { type: `${noun}_delivery`, id: row.id },
          detail: { [`${noun}_id`]: row.endpointId, event_type: row.eventType },
        });
        return status(202, { delivery_id: row.id, state: "PENDING" as const });
      },
      {
        permission: deps.permission,
        params: validated(schemas.deliveryIdParams, "params"),
        detail: { summary: "Send a dead-lettered delivery again (same delivery id, a fresh retry budget)", tags },
        response: responses({ 202: QueuedResponse, 401: ErrorBody, 403: ErrorBody, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/:id/deliveries",
      async ({ params, query, request }) => {
        const p = principalOf(request);
        const id = (params as { id: string }).id;
        await deps.own(p, id);
        const rows = await ledger.deliveries(p.orgId, id, (query as { limit?: number }).limit ?? 50);
        return { deliveries: rows.map((r) => ({ ...deps.view(r), history: r.attemptLog.map(attemptView) })) };
      },
      {
        permission: deps.permission,
        params: validated(schemas.targetIdParams, "params"),
        query: validated(DeliveriesQuery, "query"),
        detail: {
          summary: `The ${noun}'s deliveries, newest first, each with its attempts (limit 1-500, default 50)`,
          tags,
        },
        response: responses({
          200: schemas.deliveriesResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    );
}
