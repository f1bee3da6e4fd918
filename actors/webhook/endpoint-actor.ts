/**
 * The WebhookEndpointActor: one per webhook endpoint, supervised under `/system/webhooks`. It owns
 * the endpoint's queue (its deliveries still to send, loaded from the store at start and fed by the
 * fan-out and the routes), the retry timers and the endpoint's circuit breaker.
 *
 * - A due delivery is sent when the breaker admits it, up to {@link MAX_IN_FLIGHT} at once; the
 *   attempt runs outside the mailbox, its outcome is written (./delivery-journal.ts) and then told
 *   back as `settled`, where the breaker and the queue move on.
 * - The breaker opens after `threshold` consecutive failed attempts; while open, due deliveries
 *   wait (nothing is attempted, no attempt is counted); after the cooldown exactly one delivery
 *   goes as the probe: its success closes the breaker, its failure opens it for another cooldown.
 * - A failed delivery is due again after the retry policy's delay (./retry-policy.ts); a 410 Gone
 *   disables the endpoint, saying so: its deliveries wait until it is enabled again.
 * - Every attempt carries the delivery's id (`webhook-id`, `X-Webhook-Delivery-Id`, and `delivery_id`
 *   in the body, which never changes), so a receiver deduplicates the redeliveries that
 *   at-least-once delivery makes after a crash.
 *
 * Time: the actor system's clock for its timers and its breaker (simulated in tests), and `now()`
 * (wall-clock milliseconds, derived from the simulated clock in tests) for what is stored.
 *
 * @example
 * const ref = system.spawn(webhookEndpointActor(deps, "wh-1"), { parent, name: "wh-1", restart: "permanent" });
 * ref.tell({ type: "enqueue", deliveries: [queued] });
 */
import { type ActorContext, type ActorRef, behavior } from "../../runtime/actor/index.ts";
import type { OutboundResponse, SendOutbound } from "../../runtime/http/outbound.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import { type BreakerSnapshot, CircuitBreaker } from "../agent/breaker.ts";
import type { DeliveryJournal } from "./delivery-journal.ts";
import { DueQueue } from "./due-queue.ts";
import { afterFailure, type RetryPolicy, retryAfterMs, verdictOf } from "./retry-policy.ts";
import { signatureHeaders } from "./signatures.ts";
import type { DeliveryRow, DeliveryState, EndpointRow, WebhookStore } from "./webhook-store.ts";

/** Attempts one endpoint has in flight at most. */
export const MAX_IN_FLIGHT = 16;
/** Deliveries loaded from the store at a time; the rest are loaded as the queue drains. */
export const LOAD_LIMIT = 1000;
/** How long a delivery whose outcome could not be written waits before it is sent again. */
const UNWRITTEN_RETRY_MS = 1000;

/** A delivery in an endpoint's queue. */
export interface QueuedDelivery {
  id: string;
  eventType: string;
  payload: string;
  attempts: number;
  retryBase: number;
  /** Wall-clock ms when it is due. */
  dueAt: number;
}

/** The queue entry of a stored delivery. @example queued(row) */
export function queued(row: DeliveryRow): QueuedDelivery {
  return {
    id: row.id,
    eventType: row.eventType,
    payload: row.payload,
    attempts: row.attempts,
    retryBase: row.retryBase,
    dueAt: row.nextAttemptAt.getTime(),
  };
}

/** What an attempt came to, as the actor hears of it once it is written. */
interface Settled {
  type: "settled";
  incarnation: number;
  delivery: QueuedDelivery;
  ticket: "pass" | "probe";
  state: DeliveryState | "unwritten";
  status: number | null;
  error: string | null;
  latencyMs: number;
  nextDueAt: number;
  disabledReason?: string;
}

/** What an endpoint reports of itself (`status`). */
export interface EndpointStatus {
  endpointId: string;
  enabled: boolean;
  queued: number;
  inFlight: number;
  breaker: BreakerSnapshot;
}

export type EndpointMsg =
  | { type: "load" }
  | { type: "enqueue"; deliveries: QueuedDelivery[] }
  /** The endpoint's row changed (edited, rotated, enabled): read it again. */
  | { type: "reload" }
  | { type: "wake" }
  | { type: "status" }
  | Settled;

export interface EndpointActorDeps {
  store: Pick<WebhookStore, "endpointById" | "openDeliveries" | "secretsOf" | "disableEndpoint">;
  journal: Pick<DeliveryJournal, "markInProgress" | "record">;
  send: SendOutbound;
  policy: RetryPolicy;
  timeoutMs: number;
  breaker: { failureThreshold: number; cooldownMs: number };
  log: Logger;
  /** Wall-clock epoch milliseconds (what is stored). */
  now: () => number;
  random: () => number;
  /** The server's version, in the User-Agent. */
  version: string;
}

interface EndpointState {
  incarnation: number;
  endpoint: EndpointRow | undefined;
  /** The signing secrets, current first, and until when they hold (a previous one expiring). */
  secrets: string[];
  secretsUntil: number;
  /** Soonest due first (./due-queue.ts). */
  queue: DueQueue<QueuedDelivery>;
  inFlight: Set<string>;
  breaker: CircuitBreaker;
  /** The store holds more open deliveries than were loaded. */
  backlog: boolean;
  /** Breaker state as last reported to the gauge. */
  gauge: number;
}

let incarnations = 0;

/**
 * The behaviour of the actor of endpoint `endpointId`.
 *
 * @example system.spawn(webhookEndpointActor(deps, id), { parent, name: id, kind: "webhook_endpoint" })
 */
export function webhookEndpointActor(deps: EndpointActorDeps, endpointId: string) {
  const log = deps.log.child({ endpoint_id: endpointId });
  return behavior<EndpointMsg, EndpointState>({
    kind: "webhook_endpoint",
    init: (ctx) => ({
      incarnation: ++incarnations,
      endpoint: undefined,
      secrets: [],
      secretsUntil: 0,
      queue: new DueQueue(),
      inFlight: new Set(),
      // The system's clock: simulated in tests, so the cooldown is exact.
      breaker: new CircuitBreaker(deps.breaker, ctx.system.clock),
      backlog: false,
      // Reported at the first pump, so a closed breaker's series exists too.
      gauge: -1,
    }),
    preStart(state, ctx) {
      ctx.self.tell({ type: "load" });
      return state;
    },
    async receive(state, msg, ctx) {
      switch (msg.type) {
        case "load": {
          const endpoint = await deps.store.endpointById(endpointId);
          if (endpoint === undefined) {
            ctx.stop();
            return state;
          }
          useEndpoint(state, endpoint);
          await loadOpen(state);
          break;
        }
        case "reload": {
          const endpoint = await deps.store.endpointById(endpointId);
          if (endpoint === undefined) {
            ctx.stop();
            return state;
          }
          useEndpoint(state, endpoint);
          break;
        }
        case "enqueue":
          for (const d of msg.deliveries) if (!state.inFlight.has(d.id)) state.queue.set(d);
          break;
        case "wake":
          if (needsLoad(state)) await loadOpen(state);
          break;
        case "status":
          ctx.reply({
            endpointId,
            enabled: state.endpoint?.enabled ?? false,
            queued: state.queue.size,
            inFlight: state.inFlight.size,
            breaker: state.breaker.snapshot(),
          } satisfies EndpointStatus);
          return state;
        case "settled":
          settle(state, msg);
          break;
      }
      pump(state, ctx);
      return state;
    },
    postStop() {
      metrics.webhookCircuitBreakerState.remove({ endpoint: endpointId });
    },
  });

  function useEndpoint(state: EndpointState, endpoint: EndpointRow): void {
    state.endpoint = endpoint;
    state.secretsUntil = 0;
  }

  async function loadOpen(state: EndpointState): Promise<void> {
    const rows = await deps.store.openDeliveries(endpointId, LOAD_LIMIT);
    state.backlog = rows.length === LOAD_LIMIT;
    for (const row of rows) {
      if (!state.inFlight.has(row.id) && !state.queue.has(row.id)) state.queue.set(queued(row));
    }
  }

  /**
   * Whether to load more of the store's open deliveries: some were left there and the queue has
   * drained below half a load (so a load, soonest due first, brings new ones).
   */
  function needsLoad(state: EndpointState): boolean {
    return state.backlog && state.queue.size < LOAD_LIMIT / 2;
  }

  function secretsOf(state: EndpointState, endpoint: EndpointRow, now: number): string[] {
    if (now >= state.secretsUntil) {
      state.secrets = deps.store.secretsOf(endpoint, new Date(now));
      const expires = endpoint.previousSecretExpiresAt?.getTime();
      state.secretsUntil = state.secrets.length > 1 && expires !== undefined ? expires : Number.POSITIVE_INFINITY;
    }
    return state.secrets;
  }

  /** Start what is due and the breaker admits; arm the timer for what comes next. */
  function pump(state: EndpointState, ctx: ActorContext<EndpointMsg>): void {
    reportBreaker(state);
    const endpoint = state.endpoint;
    if (endpoint === undefined || !endpoint.enabled) {
      ctx.timers.cancel("wake");
      return;
    }
    const now = deps.now();
    let refused = false;
    while (state.inFlight.size < MAX_IN_FLIGHT) {
      const d = state.queue.peek();
      if (d === undefined || d.dueAt > now) break;
      const ticket = state.breaker.admit();
      if (ticket === "refused") {
        refused = true;
        break;
      }
      start(state, ctx, endpoint, d, ticket, now);
      if (ticket === "probe") break;
    }
    reportBreaker(state);
    // The next wake: when the breaker lets a probe through (if deliveries wait on it), else when
    // the soonest queued delivery falls due, else (a backlog in the store) at once.
    let wakeIn: number | undefined;
    if (refused && state.breaker.state === "open") wakeIn = state.breaker.msUntilHalfOpen();
    else if (!refused && state.inFlight.size < MAX_IN_FLIGHT) {
      const soonest = state.queue.peek();
      if (needsLoad(state)) wakeIn = 0;
      else if (soonest !== undefined) wakeIn = Math.max(0, soonest.dueAt - now);
    }
    if (wakeIn === undefined) ctx.timers.cancel("wake");
    else ctx.timers.startSingle("wake", { type: "wake" }, wakeIn);
  }

  function reportBreaker(state: EndpointState): void {
    const gauge = state.breaker.state === "closed" ? 0 : 1;
    if (gauge !== state.gauge || gauge === 1) {
      state.gauge = gauge;
      metrics.webhookCircuitBreakerState.set({ endpoint: endpointId }, gauge);
    }
  }

  function start(
    state: EndpointState,
    ctx: ActorContext<EndpointMsg>,
    endpoint: EndpointRow,
    delivery: QueuedDelivery,
    ticket: "pass" | "probe",
    now: number,
  ): void {
    state.queue.delete(delivery.id);
    state.inFlight.add(delivery.id);
    deps.journal.markInProgress(delivery.id, new Date(now));
    let secrets: string[];
    try {
      secrets = secretsOf(state, endpoint, now);
    } catch (err) {
      // A secret this server cannot open (its key is not configured): nothing can be signed.
      log.error({ err, delivery_id: delivery.id }, "cannot open the endpoint's signing secret; the delivery waits");
      secrets = [];
    }
    void attempt(endpoint, delivery, ticket, secrets, state.incarnation).then((settled) => ctx.self.tell(settled));
  }

  /** One attempt, start to written outcome; never rejects. */
  async function attempt(
    endpoint: EndpointRow,
    delivery: QueuedDelivery,
    ticket: "pass" | "probe",
    secrets: string[],
    incarnation: number,
  ): Promise<Settled> {
    const startedAt = deps.now();
    const number = delivery.attempts + 1;
    let response: OutboundResponse | undefined;
    let error: string | null = null;
    if (secrets.length === 0) error = "the endpoint's signing secret cannot be opened with the configured keys";
    else {
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
          secrets,
        }),
      };
      try {
        response = await deps.send({
          url: endpoint.url,
          headers,
          body: delivery.payload,
          timeoutMs: deps.timeoutMs,
        });
      } catch (err) {
        error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      }
    }
    const at = deps.now();
    const status = response?.status ?? null;
    const latencyMs = response?.latencyMs ?? at - startedAt;
    const verdict = verdictOf(status);
    let state: DeliveryState;
    let nextDueAt = at;
    let disabledReason: string | undefined;
    if (verdict === "delivered") state = "DELIVERED";
    else if (verdict === "gone") {
      state = "DEAD_LETTERED";
      disabledReason = `the receiver answered 410 Gone at ${new Date(at).toISOString()}: the endpoint was disabled`;
      error = "HTTP 410 Gone: the endpoint was disabled";
    } else {
      if (error === null) error = `HTTP ${status}`;
      const next = afterFailure(
        deps.policy,
        number - delivery.retryBase,
        retryAfterMs(response?.headers.get("retry-after") ?? null, at),
        deps.random,
      );
      if (next.deadLetter) state = "DEAD_LETTERED";
      else {
        state = "RETRYING";
        nextDueAt = at + next.delayMs;
      }
    }
    try {
      if (disabledReason !== undefined) await deps.store.disableEndpoint(endpoint.id, disabledReason, new Date(at));
      await deps.journal.record({
        deliveryId: delivery.id,
        attempt: number,
        at: new Date(at),
        status,
        latencyMs,
        responseBody: response?.body ?? null,
        error: verdict === "delivered" ? null : error,
        state,
        nextAttemptAt: new Date(nextDueAt),
      });
    } catch (err) {
      log.error(
        { err, delivery_id: delivery.id },
        "could not record a webhook delivery attempt; it will be sent again",
      );
      return {
        type: "settled",
        incarnation,
        delivery,
        ticket,
        state: "unwritten",
        status,
        error,
        latencyMs,
        nextDueAt: at + UNWRITTEN_RETRY_MS,
      };
    }
    return {
      type: "settled",
      incarnation,
      delivery,
      ticket,
      state,
      status,
      error,
      latencyMs,
      nextDueAt,
      ...(disabledReason === undefined ? {} : { disabledReason }),
    };
  }

  function settle(state: EndpointState, s: Settled): void {
    const { delivery } = s;
    const mine = s.incarnation === state.incarnation && state.inFlight.delete(delivery.id);
    const eventType = delivery.eventType;
    if (s.status !== null) metrics.webhookDeliveryLatency.observe({ event_type: eventType }, s.latencyMs / 1000);
    if (s.state === "unwritten") {
      if (mine) state.breaker.release(s.ticket);
      if (!state.queue.has(delivery.id)) state.queue.set({ ...delivery, dueAt: s.nextDueAt });
      return;
    }
    const outcome = s.state === "DELIVERED" ? "delivered" : s.disabledReason !== undefined ? "gone" : "failed";
    metrics.webhookDeliveries.inc({ status: outcome, event_type: eventType });
    if (mine) {
      if (outcome === "delivered") state.breaker.recordSuccess(s.ticket);
      else if (outcome === "failed") state.breaker.recordFailure(s.ticket, s.error ?? "failed");
      else state.breaker.release(s.ticket);
    }
    if (s.disabledReason !== undefined && state.endpoint !== undefined) {
      state.endpoint = { ...state.endpoint, enabled: false, disabledReason: s.disabledReason };
      log.warn({ reason: s.disabledReason }, "webhook endpoint disabled: its receiver answered 410 Gone");
    }
    if (s.state === "RETRYING") {
      metrics.webhookRetries.inc({ event_type: eventType });
      state.queue.set({ ...delivery, attempts: delivery.attempts + 1, dueAt: s.nextDueAt });
    } else if (s.state === "DEAD_LETTERED") {
      metrics.webhookDeadLettered.inc({ event_type: eventType });
      log.warn(
        { delivery_id: delivery.id, event_type: eventType, attempts: delivery.attempts + 1, last_error: s.error },
        "webhook delivery dead-lettered",
      );
    }
  }
}

/** An endpoint actor's ref. */
export type EndpointRef = ActorRef<EndpointMsg>;
