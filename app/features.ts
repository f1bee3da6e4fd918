/**
 * The server's features, made in start order (the server stops them in reverse). Each factory
 * gets the shared parts and, as typed arguments, what it needs from the features made before it:
 * the order is written here, once, in code the compiler checks. Here too the one authenticator the
 * shell and the WebSocket listeners ask is composed: the operator's tokens first, then each
 * feature's credentials, then the admin API's "off" answer.
 *
 * @example
 * const { features, authenticator } = await makeFeatures(ctx); // access, agents, debates, runbooks, schedulers, integrations, webhooks
 */
import { accessFeature } from "../access/feature.ts";
import { agentsFeature } from "../actors/agent/feature.ts";
import { debatesFeature } from "../actors/debate/index.ts";
import { integrationsFeature } from "../actors/integrations/feature.ts";
import { runbooksFeature } from "../actors/runbook/feature.ts";
import { schedulersFeature } from "../actors/scheduler/feature.ts";
import { webhooksFeature } from "../actors/webhook/feature.ts";
import type { AuditRecorder } from "../runtime/audit.ts";
import type { Feature, FeatureContext } from "../runtime/feature.ts";
import { firstOf } from "../runtime/http/authenticators.ts";
import { guardedSender } from "../runtime/http/guarded-sender.ts";
import { adminApiOff, operatorAuthenticator } from "../runtime/http/operator-auth.ts";
import { outboundPolicyOf } from "../runtime/http/outbound-guard.ts";
import type { Authenticator } from "../runtime/http/principal.ts";
import { openEncryptedStores } from "./encrypted-stores.ts";
import { openIssuedCredentials } from "./issued-credentials.ts";

export interface MadeFeatures {
  /** In start order. */
  features: Feature[];
  /** Who is calling, for every HTTP request and WebSocket upgrade. */
  authenticator: Authenticator;
  /** Where the shell's own admin actions are recorded (the access feature's audit log). */
  audit: AuditRecorder;
}

/** Make every feature; `made` receives each as it is made, so a failure part-way can stop those. */
export async function makeFeatures(ctx: FeatureContext, made: Feature[] = []): Promise<MadeFeatures> {
  // First: every other feature's routes are behind its authenticator, and the operator acts in
  // the organisation it names (or the first one).
  const access = await accessFeature(ctx);
  made.push(access);
  const agents = await agentsFeature(ctx, { audit: access.audit });
  made.push(agents);
  const debates = await debatesFeature(ctx, { agents: agents.agents, legacyOwner: access.firstOrganisation });
  made.push(debates);
  const runbooks = await runbooksFeature(ctx, {
    audit: access.audit,
    encryptedStores: openEncryptedStores,
    credentials: openIssuedCredentials,
  });
  made.push(runbooks);
  made.push(
    await schedulersFeature(ctx, { runbooks: runbooks.runbooks, receipts: debates.receipts, audit: access.audit }),
  );
  // Webhooks and integrations leave only through the guarded sender: no internal address, the
  // connection pinned to the address that was checked, redirects never followed.
  const send = guardedSender({ policy: outboundPolicyOf(ctx.config) });
  // Before webhooks: the webhooks' fan-out makes the integrations' deliveries too (one durable path).
  const integrations = await integrationsFeature(ctx, { audit: access.audit, send, history: debates.history });
  made.push(integrations);
  made.push(
    await webhooksFeature(ctx, {
      outbox: debates.outbox,
      // The ops runs' events go only to endpoints the operator subscribed (actors/webhook/operator-events.ts).
      opsOutbox: runbooks.opsOutbox,
      audit: access.audit,
      send,
      sinks: [integrations.sink],
    }),
  );
  const authenticator = firstOf([
    operatorAuthenticator(ctx.config, {
      handoffToken: runbooks.handoffToken,
      defaultScope: () => access.firstOrganisation,
      scopeOf: access.organisationScope,
    }),
    ...made.flatMap((f) => (f.authenticator ? [f.authenticator] : [])),
    adminApiOff(ctx.config),
  ]);
  return { features: made, authenticator, audit: access.audit };
}
