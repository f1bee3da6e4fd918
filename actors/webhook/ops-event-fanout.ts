/**
 * The operator's fan-out: turns the ops runs' committed events (their outbox, ops/event-outbox.ts)
 * into deliveries, one per enabled endpoint that lists the event's type by name (only the operator
 * can list one: ./operator-events.ts), and hands them to the endpoint actors. An actor of its own
 * (`/system/webhooks/ops-fanout`) beside the debates' fan-out (./event-fanout.ts), with the same
 * durability: the deliveries of a batch are inserted first (unique per endpoint and
 * `ops:<run id>:<seq>`), the outbox rows removed after, so a crash between the two makes the batch
 * again and the unique key keeps the deliveries made the first time, with their ids. Rows an `ops`
 * process committed (a run executed without a server, or before this one started) are found by
 * the poll every second (./event-fanout.ts POLL_MS); this process's own commits wake it at once.
 *
 * @example
 * const fanout = system.spawn(opsEventFanout(deps), { parent, name: "ops-fanout" });
 * opsOutbox.onCommitted(() => fanout.tell({ type: "drain" }));
 */
import type { OpsEventOutbox, OpsOutboxEvent } from "../../ops/event-outbox.ts";
import { opsEventData } from "../../ops/event-outbox.ts";
import type { Logger } from "../../runtime/log.ts";
import type { DeliveryRow, DeliveryStore } from "../delivery/delivery-store.ts";
import type { QueuedDelivery } from "../delivery/target-actor.ts";
import { deliveryBody } from "./delivery-body.ts";
import { outboxFanout } from "./event-fanout.ts";
import { type EndpointRow, eventTypesOf, newDelivery, type WebhookStore } from "./webhook-store.ts";

export interface OpsFanoutDeps {
  outbox: Pick<OpsEventOutbox, "take" | "remove">;
  store: Pick<WebhookStore, "enabledEndpointsListingOpsEvents">;
  /** The delivery engine's ledger, where the deliveries are made. */
  deliveries: Pick<DeliveryStore, "insertDeliveries">;
  /** Hands new deliveries to their endpoints' actors. */
  enqueue(endpointId: string, deliveries: QueuedDelivery[]): void;
  log: Logger;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
}

/**
 * The deliveries of a batch of ops events for the endpoints given: those that list each event's
 * type by name (an endpoint that lists none takes its organisation's events, not the operator's).
 *
 * @example opsDeliveriesOf(rows, endpoints, new Date())
 */
export function opsDeliveriesOf(
  rows: readonly OpsOutboxEvent[],
  endpoints: readonly Pick<EndpointRow, "id" | "orgId" | "eventTypes">[],
  now: Date,
): DeliveryRow[] {
  const listed = endpoints.map((e) => ({ endpoint: e, types: new Set(eventTypesOf(e)) }));
  const made: DeliveryRow[] = [];
  for (const row of rows) {
    const timestamp = new Date(row.at).toISOString();
    for (const { endpoint, types } of listed) {
      if (!types.has(row.type)) continue;
      made.push(
        newDelivery(
          endpoint,
          row.type,
          `ops:${row.runId}:${row.seq}`,
          (id) =>
            deliveryBody({
              deliveryId: id,
              webhookId: endpoint.id,
              eventType: row.type,
              timestamp,
              data: opsEventData(row),
            }),
          now,
        ),
      );
    }
  }
  return made;
}

/**
 * The ops runs' fan-out (see the module's comment), on the shared outbox drain.
 *
 * @example system.spawn(opsEventFanout(deps), { parent, name: "ops-fanout", restart: "permanent" })
 */
export function opsEventFanout(deps: OpsFanoutDeps) {
  return outboxFanout<OpsOutboxEvent>({
    kind: "webhook_ops_fanout",
    outbox: deps.outbox,
    deliveriesOf: async (rows, now) => opsDeliveriesOf(rows, await deps.store.enabledEndpointsListingOpsEvents(), now),
    deliveries: deps.deliveries,
    enqueue: deps.enqueue,
    log: deps.log,
    now: deps.now,
  });
}
