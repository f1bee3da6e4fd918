/**
 * The fan-out: turns the debates' committed events (their outbox, actors/debate/event-outbox.ts)
 * into deliveries, one per enabled endpoint of the debate's organisation that takes the event's
 * type, and hands them to the endpoint actors. An actor of its own (`/system/webhooks/fanout`),
 * so batches are made one at a time.
 *
 * Durable at least once, without a transaction across the two features: the deliveries of a batch
 * are inserted first (a delivery is unique per (endpoint, event): `<debate id>:<seq>`), the outbox
 * rows removed after. A crash between the two makes the batch again at the next start, and the
 * unique key keeps the deliveries made the first time, with their ids. Rows another process
 * committed (or this one before a crash) are found by the poll every {@link POLL_MS}; this
 * process's own commits wake it at once.
 *
 * @example
 * const fanout = system.spawn(eventFanout(deps), { parent, name: "fanout" });
 * outbox.onCommitted(() => fanout.tell({ type: "drain" }));
 */
import { behavior } from "../../runtime/actor/index.ts";
import type { Logger } from "../../runtime/log.ts";
import type { DebateEventOutbox, OutboxEvent } from "../debate/event-outbox.ts";
import type { DeliveryStore } from "../delivery/delivery-store.ts";
import { type QueuedDelivery, queued } from "../delivery/target-actor.ts";
import { debateEventBodies, type EventEnvelope } from "./delivery-body.ts";
import { type DeliveryRow, type EndpointRow, newDelivery, takes, type WebhookStore } from "./webhook-store.ts";

/** Outbox rows made into deliveries at a time. */
export const FANOUT_BATCH = 500;
/** How often the outbox is read when nothing woke the fan-out. */
export const POLL_MS = 1000;

export type FanoutMsg = { type: "drain" };

/**
 * Another feature's deliveries of the same events (the integrations'): made from each batch after
 * the webhooks' and before the batch leaves the outbox, so they are as durable. A batch can come
 * again after a crash: a sink makes its deliveries idempotently. A sink that fails fails the
 * batch, which is taken again.
 */
export interface FanoutSink {
  deliver(rows: readonly OutboxEvent[]): Promise<void>;
}

export interface FanoutDeps {
  outbox: Pick<DebateEventOutbox, "take" | "remove">;
  store: Pick<WebhookStore, "enabledEndpointsOf">;
  /** The delivery engine's ledger, where the deliveries are made. */
  deliveries: Pick<DeliveryStore, "insertDeliveries">;
  /** Hands new deliveries to their endpoints' actors. */
  enqueue(endpointId: string, deliveries: QueuedDelivery[]): void;
  /** Other features' deliveries of the same events. */
  sinks?: readonly FanoutSink[];
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
}

/**
 * The deliveries of a batch of outbox rows for the endpoints given (the enabled endpoints of the
 * rows' organisations).
 *
 * @example deliveriesOf(rows, endpoints, new Date())
 */
export function deliveriesOf(
  rows: readonly OutboxEvent[],
  endpoints: readonly Pick<EndpointRow, "id" | "orgId" | "eventTypes">[],
  now: Date,
): DeliveryRow[] {
  const made: DeliveryRow[] = [];
  for (const row of rows) {
    // Parsed and written once for all the event's endpoints.
    let bodyOf: ((deliveryId: string, webhookId: string) => string) | undefined;
    const eventKey = `${row.debateId}:${row.seq}`;
    for (const endpoint of endpoints) {
      if (endpoint.orgId !== row.orgId || !takes(endpoint, row.type)) continue;
      bodyOf ??= debateEventBodies(JSON.parse(row.payload) as EventEnvelope);
      const body = bodyOf;
      made.push(newDelivery(endpoint, row.type, eventKey, (id) => body(id, endpoint.id), now));
    }
  }
  return made;
}

/** What {@link outboxFanout} drains: an outbox, and how a batch of it becomes deliveries. */
export interface OutboxDrain<Row> {
  /** The actor's kind (inspect, the admin console's tree). */
  kind: string;
  outbox: { take(limit: number): Promise<Row[]>; remove(rows: readonly Row[]): Promise<void> };
  /** A batch's deliveries (the endpoints that take each row read for the batch). */
  deliveriesOf(rows: readonly Row[], now: Date): Promise<DeliveryRow[]>;
  /** Run once a batch's deliveries are stored, before the batch leaves the outbox. */
  afterInsert?(rows: readonly Row[]): Promise<void>;
  deliveries: Pick<DeliveryStore, "insertDeliveries">;
  /** Hands new deliveries to their endpoints' actors. */
  enqueue(endpointId: string, deliveries: QueuedDelivery[]): void;
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
}

/**
 * A fan-out's behaviour, for any outbox (the debates', the ops runs'): each `drain` makes
 * deliveries of the outbox until it is empty; a poll every {@link POLL_MS} finds rows another
 * process committed. The deliveries are stored first, the outbox rows removed after (see the
 * module's comment).
 *
 * @example system.spawn(outboxFanout({ kind: "webhook_fanout", outbox, deliveriesOf, ... }), { parent, name: "fanout" })
 */
export function outboxFanout<Row>(drain: OutboxDrain<Row>) {
  return behavior<FanoutMsg, undefined>({
    kind: drain.kind,
    preStart(_state, ctx) {
      ctx.timers.startRepeating("poll", { type: "drain" }, POLL_MS);
      ctx.self.tell({ type: "drain" });
      return undefined;
    },
    async receive(_state, _msg) {
      for (;;) {
        const rows = await drain.outbox.take(FANOUT_BATCH);
        if (rows.length === 0) return undefined;
        const inserted = await drain.deliveries.insertDeliveries(await drain.deliveriesOf(rows, new Date(drain.now())));
        await drain.afterInsert?.(rows);
        // Stored: the actors may send them now, before the outbox rows are removed (a crash
        // between the two makes nothing twice: the deliveries' unique key).
        const byEndpoint = new Map<string, QueuedDelivery[]>();
        for (const d of inserted) {
          const list = byEndpoint.get(d.endpointId);
          if (list) list.push(queued(d));
          else byEndpoint.set(d.endpointId, [queued(d)]);
        }
        for (const [endpointId, list] of byEndpoint) drain.enqueue(endpointId, list);
        await drain.outbox.remove(rows);
        if (inserted.length > 0) {
          drain.log.debug(
            { fanout: drain.kind, events: rows.length, deliveries: inserted.length },
            "webhook deliveries made",
          );
        }
        if (rows.length < FANOUT_BATCH) return undefined;
      }
    },
  });
}

/**
 * The debates' fan-out (see the module's comment).
 *
 * @example system.spawn(eventFanout(deps), { parent, name: "fanout", restart: "permanent" })
 */
export function eventFanout(deps: FanoutDeps) {
  return outboxFanout<OutboxEvent>({
    kind: "webhook_fanout",
    outbox: deps.outbox,
    async deliveriesOf(rows, now) {
      const endpoints = await deps.store.enabledEndpointsOf([...new Set(rows.map((r) => r.orgId))]);
      return deliveriesOf(rows, endpoints, now);
    },
    // The integrations' deliveries of the same events, made (idempotently) before the outbox rows go.
    async afterInsert(rows) {
      for (const sink of deps.sinks ?? []) await sink.deliver(rows);
    },
    deliveries: deps.deliveries,
    enqueue: deps.enqueue,
    log: deps.log,
    now: deps.now,
  });
}
