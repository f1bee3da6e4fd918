/**
 * The webhooks feature: an organisation's endpoints and their durable deliveries. It takes the
 * debates' committed events from their outbox (the fan-out), runs one WebhookEndpointActor per
 * endpoint under `/system/webhooks` (queue, retries, circuit breaker), writes every attempt, and
 * mounts /api/webhooks. At start every endpoint's actor loads the deliveries still to send (those
 * a crash interrupted included, with their ids), and the fan-out makes the deliveries of events
 * committed before the crash. Given the ops runs' outbox, it delivers their events too, only to
 * endpoints the operator subscribed to them (./operator-events.ts, ./ops-event-fanout.ts).
 *
 * On PostgreSQL several server processes may share the database: each endpoint's actor then runs
 * on the one node holding its delivery lease (../delivery/target-actors.ts, actors/node/lease-keeper.ts),
 * so a delivery is never sent by two nodes at once, and a dead node's endpoints move to the others.
 *
 * Requests leave through the `send` it is given (runtime/http/outbound.ts): the guarded sender in
 * production, a plain one until that lands, one pointed at local receivers in tests.
 *
 * @example
 * const webhooks = await webhooksFeature(ctx, { outbox: debates.outbox, audit: access.audit, send: guardedSender({ policy: outboundPolicyOf(ctx.config) }) });
 */

import type { OpsEventOutbox } from "../../ops/event-outbox.ts";
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import { outboundPolicyOf } from "../../runtime/http/outbound-guard.ts";
import type { DebateEventOutbox } from "../debate/event-outbox.ts";
import { DeliveryJournal } from "../delivery/delivery-journal.ts";
import { openDeliveryStore } from "../delivery/delivery-store.ts";
import { deliveryPolicyOf } from "../delivery/target-actor.ts";
import { openTargetCluster } from "../delivery/target-actors.ts";
import type { FanoutSink } from "./event-fanout.ts";
import { WebhookActors } from "./webhook-actors.ts";
import { webhookRoutes } from "./webhook-routes.ts";
import { openWebhookStore } from "./webhook-store.ts";

export interface WebhooksFeatureDeps {
  /** The debates' committed events. */
  outbox: DebateEventOutbox;
  /** The ops runs' committed events (the runbooks feature's journal); absent: none delivered. */
  opsOutbox?: OpsEventOutbox;
  /** Where changes to endpoints are recorded. */
  audit: AuditRecorder;
  send: SendOutbound;
  /** Other features' deliveries of the same events (the integrations'), made as durably. */
  sinks?: readonly FanoutSink[];
  /** Wall-clock epoch milliseconds; default Date.now (tests derive it from a simulated clock). */
  now?: () => number;
  /** Jitter's random source; default Math.random. */
  random?: () => number;
}

export async function webhooksFeature(
  ctx: FeatureContext,
  deps: WebhooksFeatureDeps,
): Promise<Feature & { actors: WebhookActors }> {
  const { config, system } = ctx;
  const log = ctx.log.child({ component: "webhooks" });
  const now = deps.now ?? Date.now;
  const store = await openWebhookStore(ctx.store, ctx.sealer);
  const deliveries = await openDeliveryStore(ctx.store, "webhook-deliveries");
  const journal = new DeliveryJournal(deliveries, log);
  // PostgreSQL: as many nodes as share the database, each endpoint delivered for by one of them.
  const cluster = await openTargetCluster(ctx, "webhook", {
    ids: () => store.endpointIds(),
    updatedAtOf: (ids) => store.updatedAtOf(ids),
  });
  const actors = new WebhookActors(
    system,
    { ledger: deliveries, journal, ...deliveryPolicyOf(config), log, now, random: deps.random ?? Math.random },
    { store, send: deps.send, timeoutMs: config.webhookTimeoutSeconds * 1000, log, version: ctx.version, now },
    { outbox: deps.outbox, store, deliveries, log, now, sinks: deps.sinks ?? [] },
    deps.opsOutbox && { outbox: deps.opsOutbox, store, deliveries, log, now },
    cluster,
  );
  let unsubscribe: (() => void) | undefined;
  let unsubscribeOps: (() => void) | undefined;
  return {
    name: "webhooks",
    actors,
    routes: webhookRoutes({
      store,
      deliveries,
      actors,
      audit: deps.audit,
      log,
      overlapSeconds: config.webhookSecretOverlapSeconds,
      nodeId: ctx.nodeId,
      now,
      urlPolicy: outboundPolicyOf(config),
    }),
    async start() {
      const ids = await store.endpointIds();
      actors.start(ids);
      unsubscribe = deps.outbox.onCommitted(() => actors.kick());
      unsubscribeOps = deps.opsOutbox?.onCommitted(() => actors.kickOps());
      log.info(
        { endpoints: ids.length, leased: cluster !== undefined },
        cluster === undefined
          ? `webhooks started: ${ids.length} endpoint actors`
          : `webhooks started: ${ids.length} endpoints, delivered for by the nodes holding their leases`,
      );
    },
    async stop() {
      unsubscribe?.();
      unsubscribeOps?.();
      await actors.stop();
      journal.stop();
      await journal.flush();
      // Only once every attempt made is written: the node taking a lease over loads what is still open.
      await actors.releaseLeases();
      await Promise.all([deliveries.close(), store.close(), cluster?.close()]);
    },
  };
}
