/**
 * The delivery engine's actor: one per target (a webhook endpoint, an integration), supervised
 * under its feature's supervisor (./target-actors.ts). It owns the target's queue (its deliveries
 * still to send, loaded from the ledger at start and fed by the fan-out and the routes), the retry
 * timers and the target's circuit breaker; what a target kind does differently (how one attempt is
 * made: a signed JSON POST, a Slack message, an OAuth2 call) is its {@link TargetLink}.
 *
 * - A due delivery is sent when the breaker admits it, up to the kind's `maxInFlight` at once; the
 *   attempt runs outside the mailbox, its outcome is written (./delivery-journal.ts) and then told
 *   back as `settled`, where the breaker and the queue move on.
 * - The breaker opens after `threshold` consecutive failed attempts; while open, due deliveries
 *   wait (nothing is attempted, no attempt is counted); after the cooldown exactly one delivery
 *   goes as the probe: its success closes the breaker, its failure opens it for another cooldown.
 * - A failed delivery is due again after the retry policy's delay (../webhook/retry-policy.ts); one
 *   retrying cannot change (`rejected`: a 4xx an integration's service will answer again) is
 *   dead-lettered at once; a 410 Gone disables the target, saying so: its deliveries wait until it
 *   is enabled again.
 *
 * Time: the actor system's clock for its timers and its breaker (simulated in tests), and `now()`
 * (wall-clock milliseconds, derived from the simulated clock in tests) for what is stored.
 *
 * @example
 * const ref = system.spawn(targetActor(deps, webhookLink(id)), { parent, name: id, kind: "webhook_endpoint" });
 * ref.tell({ type: "enqueue", deliveries: [queued(row)] });
 */
import { type ActorContext, type ActorRef, behavior } from "../../runtime/actor/index.ts";
import type { Config } from "../../runtime/config.ts";
import type { Logger } from "../../runtime/log.ts";
import { type BreakerSnapshot, CircuitBreaker } from "../agent/breaker.ts";
import { DueQueue } from "../webhook/due-queue.ts";
import { afterFailure, type RetryPolicy } from "../webhook/retry-policy.ts";
import type { DeliveryJournal } from "./delivery-journal.ts";
import type { AttemptLease, DeliveryRow, DeliveryState, DeliveryStore, TargetKind } from "./delivery-store.ts";

/** Deliveries loaded from the ledger at a time; the rest are loaded as the queue drains. */
export const LOAD_LIMIT = 1000;
/** How long a delivery whose outcome could not be written waits before it is sent again. */
const UNWRITTEN_RETRY_MS = 1000;
/** How often an actor whose lease is not renewed in time looks again (cluster only). */
const FENCED_RECHECK_MS = 250;

/** A delivery in a target's queue. */
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

/**
 * What one attempt came to, as the target kind tells it: `delivered`; `failed` (retried: 5xx, 429,
 * a redirect, a timeout, a reset ...); `rejected` (dead-lettered at once: retrying cannot change
 * it); `gone` (410: the target is disabled); `fenced` (nothing was sent: the node's delivery lease
 * lapsed before the request left, see {@link TargetLink.attempt}; the delivery waits in the queue).
 */
export interface AttemptOutcome {
  verdict: "delivered" | "failed" | "rejected" | "gone" | "fenced";
  /** The HTTP status, when there was an answer. */
  status: number | null;
  /** How long the answer took; measured around the attempt when not given. */
  latencyMs?: number;
  /** The start of the answer's body, for the attempt's record. */
  responseBody: string | null;
  /** Why it failed (null when delivered). */
  error: string | null;
  /** The wait the receiver asked for (Retry-After), in milliseconds. */
  retryAfterMs?: number;
}

/**
 * One target as its actor sees it: how to read it, make an attempt, disable it. Made once per
 * actor, so it may keep what it learns between attempts (an endpoint's opened secrets, an OAuth2
 * integration's refreshed tokens).
 */
export interface TargetLink {
  readonly id: string;
  /** Reads the target's row; undefined when it is gone (the actor stops). */
  load(): Promise<{ enabled: boolean; updatedAt?: Date } | undefined>;
  /**
   * One attempt at `delivery`, its `attempt`-th; never rejects. An attempt that waits on something
   * before its request leaves (an OAuth2 token refresh) asks `mayStart` again just before, and
   * answers `fenced` without sending when it says no (the node's lease lapsed meanwhile).
   */
  attempt(
    delivery: QueuedDelivery,
    attempt: number,
    startedAt: number,
    mayStart: () => boolean,
  ): Promise<AttemptOutcome>;
  /** Disables the target, saying why (it answered 410 Gone). */
  disable(reason: string, at: Date): Promise<void>;
}

/** The metrics a target kind reports its deliveries under (runtime/metrics.ts declares them). */
export interface DeliveryMetrics {
  /** An attempt's outcome: delivered, failed, gone. */
  attempted(outcome: "delivered" | "failed" | "gone", delivery: QueuedDelivery): void;
  latency(delivery: QueuedDelivery, seconds: number): void;
  retried(delivery: QueuedDelivery): void;
  deadLettered(delivery: QueuedDelivery): void;
  /** The target's breaker: 0 closed, 1 open (or probing); undefined: the actor stopped. */
  breaker(targetId: string, gauge: number | undefined): void;
}

/** The five metrics of a target kind's deliveries, labelled as the runbook labels webhooks'. */
export interface EventTypeMetricSet<Target extends string> {
  deliveries: { inc(labels: { status: string; event_type: string }): void };
  latency: { observe(labels: { event_type: string }, seconds: number): void };
  retries: { inc(labels: { event_type: string }): void };
  deadLettered: { inc(labels: { event_type: string }): void };
  breaker: { set(labels: Record<Target, string>, value: number): void; remove(labels: Record<Target, string>): void };
}

/**
 * {@link DeliveryMetrics} reported to a kind's metrics by event type, the breaker's by target id
 * under the label `target` names.
 *
 * @example deliveryMetricsOf({ deliveries: metrics.webhookDeliveries, ..., breaker: metrics.webhookCircuitBreakerState }, "endpoint")
 */
export function deliveryMetricsOf<Target extends string>(
  set: EventTypeMetricSet<Target>,
  target: Target,
): DeliveryMetrics {
  const labelOf = (id: string) => ({ [target]: id }) as Record<Target, string>;
  return {
    attempted: (status, d) => set.deliveries.inc({ status, event_type: d.eventType }),
    latency: (d, seconds) => set.latency.observe({ event_type: d.eventType }, seconds),
    retried: (d) => set.retries.inc({ event_type: d.eventType }),
    deadLettered: (d) => set.deadLettered.inc({ event_type: d.eventType }),
    breaker: (id, gauge) =>
      gauge === undefined ? set.breaker.remove(labelOf(id)) : set.breaker.set(labelOf(id), gauge),
  };
}

/** What a target kind is to the engine. */
export interface TargetKindSpec {
  /** The kind's deliveries' `target_kind`, and the kind of its delivery leases on a cluster. */
  targetKind: TargetKind;
  /** The actor kind (`webhook_endpoint`, `integration`). */
  actorKind: string;
  /** The target in log lines: "webhook endpoint", "integration". */
  noun: string;
  /** The field that names the target in log lines (`endpoint_id`, `integration_id`). */
  logField: string;
  /** Attempts one target has in flight at most (1: in order). */
  maxInFlight: number;
  metrics: DeliveryMetrics;
}

/** What the actor hears once an attempt's outcome is written. */
interface Settled {
  type: "settled";
  incarnation: number;
  delivery: QueuedDelivery;
  ticket: "pass" | "probe";
  /**
   * "fenced": not sent, the node's lease lapsed before the request left; "superseded": sent, but
   * its outcome not written, the lease it began under having passed to another node.
   */
  state: DeliveryState | "unwritten" | "fenced" | "superseded";
  status: number | null;
  error: string | null;
  latencyMs: number;
  nextDueAt: number;
  disabledReason?: string;
}

/** What a target's actor reports of itself (`status`). */
export interface TargetStatus {
  targetId: string;
  enabled: boolean;
  queued: number;
  inFlight: number;
  breaker: BreakerSnapshot;
}

export type TargetMsg =
  | { type: "load" }
  | { type: "enqueue"; deliveries: QueuedDelivery[] }
  /** The target's row changed (edited, rotated, enabled): read it again. */
  | { type: "reload" }
  | { type: "wake" }
  | { type: "status" }
  | Settled;

export interface TargetActorDeps {
  ledger: Pick<DeliveryStore, "openDeliveries">;
  journal: Pick<DeliveryJournal, "markInProgress" | "record">;
  policy: RetryPolicy;
  breaker: { failureThreshold: number; cooldownMs: number };
  log: Logger;
  /** Wall-clock epoch milliseconds (what is stored). */
  now: () => number;
  random: () => number;
  /**
   * Several nodes on one PostgreSQL database: whether this node holds the target's delivery lease
   * now (actors/node/lease-keeper.ts), asked before each attempt, so a node that lost it (paused,
   * cut off) sends nothing more. Absent (SQLite, one node): always.
   */
  holds?: (targetId: string) => boolean;
  /**
   * Several nodes: the lease of the target this node holds now (its epoch), taken when an attempt
   * starts and written with its outcome, which is then written only under that same lease.
   */
  lease?: (targetId: string) => AttemptLease | undefined;
  /**
   * Several nodes: told after each message how many deliveries the actor knows (queued and in
   * flight) and its target row's updated_at, so the node's lease poll can tell it to load what
   * another node stored or changed (./target-actors.ts).
   */
  observe?: (targetId: string, known: number, updatedAt: number | undefined) => void;
}

interface TargetState {
  incarnation: number;
  enabled: boolean | undefined;
  /** The target row's updated_at as last read (epoch ms). */
  updatedAt: number | undefined;
  /** Soonest due first (../webhook/due-queue.ts). */
  queue: DueQueue<QueuedDelivery>;
  inFlight: Set<string>;
  breaker: CircuitBreaker;
  /** The ledger holds more open deliveries than were loaded. */
  backlog: boolean;
  /** Breaker state as last reported to the gauge. */
  gauge: number;
}

let incarnations = 0;

/**
 * The retry policy and breaker every target kind shares: the ARAGORA_WEBHOOK_* settings (one
 * policy for everything that leaves the server).
 *
 * @example new TargetActors(system, "webhooks", { ...deliveryPolicyOf(config), ledger, journal, log, now, random }, ...)
 */
export function deliveryPolicyOf(config: Config): Pick<TargetActorDeps, "policy" | "breaker"> {
  return {
    policy: {
      maxRetries: config.webhookMaxRetries,
      baseDelayMs: config.webhookBaseDelaySeconds * 1000,
      maxDelayMs: config.webhookMaxDelaySeconds * 1000,
    },
    breaker: {
      failureThreshold: config.webhookBreakerThreshold,
      cooldownMs: config.webhookBreakerCooldownSeconds * 1000,
    },
  };
}

/**
 * The behaviour of the actor of one target.
 *
 * @example system.spawn(targetActor(deps, WEBHOOK_TARGET, link), { parent, name: link.id, kind: "webhook_endpoint" })
 */
export function targetActor(deps: TargetActorDeps, spec: TargetKindSpec, link: TargetLink) {
  const targetId = link.id;
  const log = deps.log.child({ [spec.logField]: targetId });
  const { metrics } = spec;
  return behavior<TargetMsg, TargetState>({
    kind: spec.actorKind,
    init: (ctx) => ({
      incarnation: ++incarnations,
      enabled: undefined,
      updatedAt: undefined,
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
        case "load":
        case "reload": {
          const row = await link.load();
          if (row === undefined) {
            ctx.stop();
            return state;
          }
          state.enabled = row.enabled;
          state.updatedAt = row.updatedAt?.getTime();
          if (msg.type === "load") await loadOpen(state);
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
            targetId,
            enabled: state.enabled ?? false,
            queued: state.queue.size,
            inFlight: state.inFlight.size,
            breaker: state.breaker.snapshot(),
          } satisfies TargetStatus);
          return state;
        case "settled":
          settle(state, msg);
          break;
      }
      pump(state, ctx);
      deps.observe?.(targetId, state.queue.size + state.inFlight.size, state.updatedAt);
      return state;
    },
    postStop() {
      metrics.breaker(targetId, undefined);
    },
  });

  async function loadOpen(state: TargetState): Promise<void> {
    const rows = await deps.ledger.openDeliveries(targetId, LOAD_LIMIT);
    state.backlog = rows.length === LOAD_LIMIT;
    for (const row of rows) {
      if (!state.inFlight.has(row.id) && !state.queue.has(row.id)) state.queue.set(queued(row));
    }
  }

  /**
   * Whether to load more of the ledger's open deliveries: some were left there and the queue has
   * drained below half a load (so a load, soonest due first, brings new ones).
   */
  function needsLoad(state: TargetState): boolean {
    return state.backlog && state.queue.size < LOAD_LIMIT / 2;
  }

  /** Start what is due and the breaker admits; arm the timer for what comes next. */
  function pump(state: TargetState, ctx: ActorContext<TargetMsg>): void {
    reportBreaker(state);
    if (state.enabled !== true) {
      ctx.timers.cancel("wake");
      return;
    }
    if (!holds()) {
      // Fenced: the lease was not renewed in time. Either it is renewed soon, or it is lost and
      // this actor stopped; until then nothing starts.
      ctx.timers.startSingle("wake", { type: "wake" }, FENCED_RECHECK_MS);
      return;
    }
    const now = deps.now();
    let refused = false;
    while (state.inFlight.size < spec.maxInFlight) {
      const d = state.queue.peek();
      if (d === undefined || d.dueAt > now) break;
      const ticket = state.breaker.admit();
      if (ticket === "refused") {
        refused = true;
        break;
      }
      start(state, ctx, d, ticket, now);
      if (ticket === "probe") break;
    }
    reportBreaker(state);
    // The next wake: when the breaker lets a probe through (if deliveries wait on it), else when
    // the soonest queued delivery falls due, else (a backlog in the ledger) at once.
    let wakeIn: number | undefined;
    if (refused && state.breaker.state === "open") wakeIn = state.breaker.msUntilHalfOpen();
    else if (!refused && state.inFlight.size < spec.maxInFlight) {
      const soonest = state.queue.peek();
      if (needsLoad(state)) wakeIn = 0;
      else if (soonest !== undefined) wakeIn = Math.max(0, soonest.dueAt - now);
    }
    if (wakeIn === undefined) ctx.timers.cancel("wake");
    else ctx.timers.startSingle("wake", { type: "wake" }, wakeIn);
  }

  /** Whether an attempt may start: always on one node, while the lease is held on a cluster. */
  function holds(): boolean {
    return deps.holds === undefined || deps.holds(targetId);
  }

  function reportBreaker(state: TargetState): void {
    const gauge = state.breaker.state === "closed" ? 0 : 1;
    if (gauge !== state.gauge || gauge === 1) {
      state.gauge = gauge;
      metrics.breaker(targetId, gauge);
    }
  }

  function start(
    state: TargetState,
    ctx: ActorContext<TargetMsg>,
    delivery: QueuedDelivery,
    ticket: "pass" | "probe",
    now: number,
  ): void {
    state.queue.delete(delivery.id);
    state.inFlight.add(delivery.id);
    deps.journal.markInProgress(delivery.id, new Date(now));
    void attempt(delivery, ticket, state.incarnation).then((settled) => ctx.self.tell(settled));
  }

  /** One attempt, start to written outcome; never rejects. */
  async function attempt(delivery: QueuedDelivery, ticket: "pass" | "probe", incarnation: number): Promise<Settled> {
    const startedAt = deps.now();
    const number = delivery.attempts + 1;
    const fenced = {
      type: "settled",
      incarnation,
      delivery,
      ticket,
      state: "fenced",
      status: null,
      error: null,
      latencyMs: 0,
      nextDueAt: delivery.dueAt,
    } as const;
    // The lease may have lapsed between the pump and now: then the request must not leave.
    if (!holds()) return fenced;
    const lease = deps.lease?.(targetId);
    const outcome = await link.attempt(delivery, number, startedAt, holds);
    if (outcome.verdict === "fenced") return fenced;
    const at = deps.now();
    const { status } = outcome;
    const latencyMs = outcome.latencyMs ?? at - startedAt;
    let error = outcome.verdict === "delivered" ? null : (outcome.error ?? `HTTP ${status}`);
    let state: DeliveryState;
    let nextDueAt = at;
    let disabledReason: string | undefined;
    if (outcome.verdict === "delivered") state = "DELIVERED";
    else if (outcome.verdict === "gone") {
      state = "DEAD_LETTERED";
      disabledReason = `the receiver answered 410 Gone at ${new Date(at).toISOString()}: the ${spec.noun} was disabled`;
      error = `HTTP 410 Gone: the ${spec.noun} was disabled`;
    } else if (outcome.verdict === "rejected") state = "DEAD_LETTERED";
    else {
      const next = afterFailure(deps.policy, number - delivery.retryBase, outcome.retryAfterMs, deps.random);
      if (next.deadLetter) state = "DEAD_LETTERED";
      else {
        state = "RETRYING";
        nextDueAt = at + next.delayMs;
      }
    }
    const settled = { type: "settled", incarnation, delivery, ticket, status, error, latencyMs } as const;
    try {
      if (disabledReason !== undefined) await link.disable(disabledReason, new Date(at));
      const written = await deps.journal.record({
        deliveryId: delivery.id,
        attempt: number,
        at: new Date(at),
        status,
        latencyMs,
        responseBody: outcome.responseBody,
        error,
        state,
        nextAttemptAt: new Date(nextDueAt),
        ...(lease === undefined ? {} : { lease }),
      });
      if (!written) {
        // Paused or cut off past the lease, and the target taken over: the holder's own attempts
        // decide the delivery; the request this one made may reach the receiver as a duplicate.
        log.warn(
          { delivery_id: delivery.id, attempt: number, status, error, epoch: lease?.epoch },
          `a ${spec.noun} delivery's outcome was not written: this node lost the lease it was sent under; the receiver may get it again from the node holding it`,
        );
        return { ...settled, state: "superseded", nextDueAt };
      }
    } catch (err) {
      log.error(
        { err, delivery_id: delivery.id },
        `could not record a delivery attempt to a ${spec.noun}; it will be sent again`,
      );
      return { ...settled, state: "unwritten", nextDueAt: at + UNWRITTEN_RETRY_MS };
    }
    return { ...settled, state, nextDueAt, ...(disabledReason === undefined ? {} : { disabledReason }) };
  }

  function settle(state: TargetState, s: Settled): void {
    const { delivery } = s;
    const mine = s.incarnation === state.incarnation && state.inFlight.delete(delivery.id);
    if (s.state === "fenced") {
      // Nothing was sent: no attempt counted, the breaker's ticket handed back, the delivery queued as it was.
      if (mine) state.breaker.release(s.ticket);
      if (!state.queue.has(delivery.id)) state.queue.set(delivery);
      return;
    }
    if (s.state === "superseded") {
      // Another node delivers it now: nothing queued here, the breaker's ticket handed back.
      if (mine) state.breaker.release(s.ticket);
      return;
    }
    if (s.status !== null) metrics.latency(delivery, s.latencyMs / 1000);
    if (s.state === "unwritten") {
      if (mine) state.breaker.release(s.ticket);
      if (!state.queue.has(delivery.id)) state.queue.set({ ...delivery, dueAt: s.nextDueAt });
      return;
    }
    const outcome = s.state === "DELIVERED" ? "delivered" : s.disabledReason !== undefined ? "gone" : "failed";
    metrics.attempted(outcome, delivery);
    if (mine) {
      if (outcome === "delivered") state.breaker.recordSuccess(s.ticket);
      else if (outcome === "failed") state.breaker.recordFailure(s.ticket, s.error ?? "failed");
      else state.breaker.release(s.ticket);
    }
    if (s.disabledReason !== undefined) {
      state.enabled = false;
      log.warn({ reason: s.disabledReason }, `${spec.noun} disabled: its receiver answered 410 Gone`);
    }
    if (s.state === "RETRYING") {
      metrics.retried(delivery);
      state.queue.set({ ...delivery, attempts: delivery.attempts + 1, dueAt: s.nextDueAt });
    } else if (s.state === "DEAD_LETTERED") {
      metrics.deadLettered(delivery);
      log.warn(
        {
          delivery_id: delivery.id,
          event_type: delivery.eventType,
          attempts: delivery.attempts + 1,
          last_error: s.error,
        },
        `${spec.noun} delivery dead-lettered`,
      );
    }
  }
}

/** A target actor's ref. */
export type TargetRef = ActorRef<TargetMsg>;
