/**
 * The integrations feature: an organisation's Slack, Discord, Teams and OAuth2 integrations and
 * the delivery of debates' outcomes to them. Their rows live in the instrumented integration store
 * (the runbook's metrics and health); the outcome of every debate that ends is made into one
 * delivery per enabled integration of its organisation by the webhooks' fan-out ({@link sink}:
 * made before the event leaves the outbox, so a crash loses none), and posted by one
 * IntegrationActor per integration under `/system/integrations` with the webhooks' retry policy.
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
import type { FanoutSink } from "../webhook/event-fanout.ts";
import type { DebateHistory } from "./debate-outcome.ts";
import { InstrumentedIntegrationStore } from "./instrumented-integration-store.ts";
import { IntegrationActors } from "./integration-actors.ts";
import { openIntegrationDeliveryStore } from "./integration-delivery-store.ts";
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
): Promise<Feature & { sink: FanoutSink; actors: IntegrationActors }> {
  const { config, system } = ctx;
  const log = ctx.log.child({ component: "integrations" });
  const now = deps.now ?? Date.now;
  const base = await openIntegrationStore(ctx.store, ctx.sealer);
  const store = new InstrumentedIntegrationStore(base, {
    backendType: ctx.store.kind === "postgres" ? "postgresql" : "sqlite",
  });
  const deliveries = await openIntegrationDeliveryStore(ctx.store);
  const actors = new IntegrationActors(system, {
    deliveries,
    secrets: base,
    store,
    send: deps.send,
    // The webhooks' settings: one retry policy for everything that leaves the server.
    policy: {
      maxRetries: config.webhookMaxRetries,
      baseDelayMs: config.webhookBaseDelaySeconds * 1000,
      maxDelayMs: config.webhookMaxDelaySeconds * 1000,
    },
    timeoutMs: config.webhookTimeoutSeconds * 1000,
    log,
    now,
    random: deps.random ?? Math.random,
  });
  return {
    name: "integrations",
    actors,
    sink: outcomeFanout({ deliveries, history: deps.history, actors, now }),
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
      const ids = await deliveries.integrationIds();
      actors.start(ids);
      log.info({ integrations: ids.length }, `integrations started: ${ids.length} integration actors`);
    },
    async stop() {
      await actors.stop();
      await deliveries.close();
      await base.close();
    },
  };
}
