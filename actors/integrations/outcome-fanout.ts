/**
 * The integrations' part of the webhooks' fan-out (actors/webhook/event-fanout.ts): for each
 * `debate_end` in a batch of the debates' committed events, one delivery per enabled integration
 * of the debate's organisation, inserted before the fan-out removes the batch from the outbox
 * (unique per (integration, event): a batch made again after a crash makes each once), then handed
 * to the integrations' actors. So an outcome reaches Slack, Discord, Teams and OAuth2 APIs by the
 * same durable path as webhooks.
 *
 * @example
 * webhooksFeature(ctx, { ..., sinks: [outcomeFanout({ deliveries, history, actors, now })] });
 */
import type { OutboxEvent } from "../debate/event-outbox.ts";
import type { FanoutSink } from "../webhook/event-fanout.ts";
import { type DebateHistory, outcomeOfEnd } from "./debate-outcome.ts";
import { queuedOutcome } from "./integration-actor.ts";
import type { IntegrationActors } from "./integration-actors.ts";
import {
  type IntegrationDeliveryRow,
  type IntegrationDeliveryStore,
  newIntegrationDelivery,
} from "./integration-delivery-store.ts";

/** The event whose outcome integrations post (it carries the consensus the debate reached). */
export const OUTCOME_EVENT = "debate_end";

export interface OutcomeFanoutDeps {
  deliveries: Pick<IntegrationDeliveryStore, "enabledOf" | "insert">;
  history: DebateHistory;
  actors: Pick<IntegrationActors, "enqueue">;
  /** Wall-clock epoch milliseconds. */
  now: () => number;
}

/**
 * The sink the webhooks' fan-out calls with each batch.
 *
 * @example const sink = outcomeFanout(deps); await sink.deliver(rows);
 */
export function outcomeFanout(deps: OutcomeFanoutDeps): FanoutSink {
  return {
    async deliver(rows: readonly OutboxEvent[]): Promise<void> {
      const ends = rows.filter((r) => r.type === OUTCOME_EVENT);
      if (ends.length === 0) return;
      const integrations = await deps.deliveries.enabledOf([...new Set(ends.map((r) => r.orgId))]);
      if (integrations.length === 0) return;
      const made: IntegrationDeliveryRow[] = [];
      const now = new Date(deps.now());
      for (const row of ends) {
        const theirs = integrations.filter((i) => i.orgId === row.orgId);
        if (theirs.length === 0) continue;
        const outcome = await outcomeOfEnd(row, deps.history);
        for (const integration of theirs) {
          made.push(newIntegrationDelivery(integration, row.type, `${row.debateId}:${row.seq}`, outcome, now));
        }
      }
      const inserted = await deps.deliveries.insert(made);
      const byIntegration = new Map<string, IntegrationDeliveryRow[]>();
      for (const d of inserted) {
        const list = byIntegration.get(d.integrationId);
        if (list) list.push(d);
        else byIntegration.set(d.integrationId, [d]);
      }
      for (const [id, list] of byIntegration) deps.actors.enqueue(id, list.map(queuedOutcome));
    },
  };
}
