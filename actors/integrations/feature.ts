/**
 * The integrations feature: an organisation's Slack, Discord, Teams and OAuth2 integrations and
 * the delivery of debates' outcomes to them. Their rows live in the instrumented integration store
 * (the runbook's metrics and health); the outcome of every debate that ends is made into one
 * delivery per enabled integration of its organisation by the webhooks' fan-out ({@link sink}:
 * made before the event leaves the outbox, so a crash loses none), and posted by one
 * IntegrationActor per integration under `/system/integrations`: the delivery engine's target actor
 * (../delivery/), with the webhooks' retry policy, circuit breaker, attempt log and dead letters.
 * On PostgreSQL with several nodes, each integration's actor runs on the one node holding its
 * delivery lease (../delivery/target-actors.ts).
 *
 * Requests leave through the `send` it is given: the guarded sender (no internal address, the
 * connection pinned to the address checked, redirects never followed).
 *
 * @example
 * const integrations = await integrationsFeature(ctx, { audit, send: guardedSender({ policy }), history: debates.history });
 * await webhooksFeature(ctx, { ..., sinks: [integrations.sink] });
 */
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import { outboundPolicyOf } from "../../runtime/http/outbound-guard.ts";
import { DeliveryJournal } from "../delivery/delivery-journal.ts";
import { openDeliveryStore } from "../delivery/delivery-store.ts";
import { deliveryPolicyOf } from "../delivery/target-actor.ts";
import { openTargetCluster, TargetActors } from "../delivery/target-actors.ts";
import type { FanoutSink } from "../webhook/event-fanout.ts";
import type { DebateHistory } from "./debate-outcome.ts";
import { InstrumentedIntegrationStore } from "./instrumented-integration-store.ts";
import { INTEGRATION_TARGET, integrationLink } from "./integration-actor.ts";
import { integrationRoutes } from "./integration-routes.ts";
import { openIntegrationStore } from "./integration-store.ts";
import { outcomeFanout } from "./outcome-fanout.ts";

export interface IntegrationsFeatureDeps {
  /** Where changes to integrations are recorded. */
  audit: AuditRecorder;
  send: SendOutbound;
  /** The debates' rows and logs, read to make an ended debate's outcome. */
  history: DebateHistory;
  /** Wall-clock epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Jitter's random source; default Math.random. */
  random?: () => number;
}

export async function integrationsFeature(
  ctx: FeatureContext,
  deps: IntegrationsFeatureDeps,
): Promise<Feature & { sink: FanoutSink; actors: TargetActors }> {
  const { config, system } = ctx;
  const log = ctx.log.child({ component: "integrations" });
  const now = deps.now ?? Date.now;
  const base = await openIntegrationStore(ctx.store, ctx.sealer);
  const store = new InstrumentedIntegrationStore(base, {
    backendType: ctx.store.kind === "postgres" ? "postgresql" : "sqlite",
  });
  const deliveries = await openDeliveryStore(ctx.store, "integration-deliveries");
  const journal = new DeliveryJournal(deliveries, log);
  // PostgreSQL: as many nodes as share the database, each integration delivered for by one of them.
  const cluster = await openTargetCluster(ctx, "integration", {
    ids: () => base.ids(),
    updatedAtOf: (ids) => base.updatedAtOf(ids),
  });
  const actors = new TargetActors(
    system,
    "integrations",
    { ledger: deliveries, journal, ...deliveryPolicyOf(config), log, now, random: deps.random ?? Math.random },
    INTEGRATION_TARGET,
    (id) =>
      integrationLink(
        { integrations: base, store, send: deps.send, timeoutMs: config.webhookTimeoutSeconds * 1000, log, now },
        id,
      ),
    cluster,
  );
  return {
    name: "integrations",
    actors,
    sink: outcomeFanout({ integrations: base, deliveries, history: deps.history, actors, now }),
    routes: integrationRoutes({
      store,
      secrets: base,
      deliveries,
      actors,
      audit: deps.audit,
      log,
      now,
      urlPolicy: outboundPolicyOf(config),
    }),
    async start() {
      const ids = await base.ids();
      actors.start(ids);
      log.info({ integrations: ids.length }, `integrations started: ${ids.length} integration actors`);
    },
    async stop() {
      await actors.stop();
      journal.stop();
      await journal.flush();
      // Only once every attempt made is written: the node taking a lease over loads what is still open.
      await actors.releaseLeases();
      await Promise.all([cluster?.close()]);
      await deliveries.close();
      await base.close();
    },
  };
}
