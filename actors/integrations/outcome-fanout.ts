/**
 * The integrations' part of the webhooks' fan-out (actors/webhook/event-fanout.ts): for each
 * `debate_end` in a batch of the debates' committed events, one delivery per enabled integration
 * of the debate's organisation, inserted before the fan-out removes the batch from the outbox
 * (unique per (integration, event): a batch made again after a crash makes each once), then handed
 * to the integrations' actors. So an outcome reaches Slack, Discord, Teams and OAuth2 APIs by the
 * same durable path as webhooks.
 *
 * @example
 * webhooksFeature(ctx, { ..., sinks: [outcomeFanout({ integrations, deliveries, history, actors, now })] });
 */
import type { OutboxEvent } from "../debate/event-outbox.ts";
import { type DeliveryRow, type DeliveryStore, newTargetDelivery } from "../delivery/delivery-store.ts";
import { queued } from "../delivery/target-actor.ts";
import type { TargetActors } from "../delivery/target-actors.ts";
import type { FanoutSink } from "../webhook/event-fanout.ts";
import { type DebateHistory, outcomeOfEnd } from "./debate-outcome.ts";
import type { IntegrationStore } from "./integration-store.ts";

/** The event whose outcome integrations post (it carries the consensus the debate reached). */
export const OUTCOME_EVENT = "debate_end";

export interface OutcomeFanoutDeps {
  integrations: Pick<IntegrationStore, "enabledOf">;
  /** The delivery engine's ledger. */
  deliveries: Pick<DeliveryStore, "insertDeliveries">;
  history: DebateHistory;
  actors: Pick<TargetActors, "enqueue">;
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
      const integrations = await deps.integrations.enabledOf([...new Set(ends.map((r) => r.orgId))]);
      if (integrations.length === 0) return;
      // A debate's consensus is committed just before its end, so usually comes in the same batch.
      // A batch holds each debate's outbox rows in seq order, with every earlier one still in the
      // outbox: the last consensus before the end found here is the debate's last. Without one
      // here, its event log is read for it.
      const consensusBefore = (end: OutboxEvent) => {
        let found: OutboxEvent | undefined;
        for (const r of rows) {
          if (r.debateId !== end.debateId || r.type !== "consensus" || r.seq >= end.seq) continue;
          if (found === undefined || r.seq > found.seq) found = r;
        }
        return found;
      };
      const made: DeliveryRow[] = [];
      const now = new Date(deps.now());
      for (const row of ends) {
        const theirs = integrations.filter((i) => i.orgId === row.orgId);
        if (theirs.length === 0) continue;
        const outcome = await outcomeOfEnd(row, deps.history, consensusBefore(row));
        const payload = JSON.stringify(outcome);
        for (const integration of theirs) {
          made.push(
            newTargetDelivery("integration", integration, row.type, `${row.debateId}:${row.seq}`, () => payload, now),
          );
        }
      }
      const inserted = await deps.deliveries.insertDeliveries(made);
      const byIntegration = new Map<string, DeliveryRow[]>();
      for (const d of inserted) {
        const list = byIntegration.get(d.endpointId);
        if (list) list.push(d);
        else byIntegration.set(d.endpointId, [d]);
      }
      for (const [id, list] of byIntegration) deps.actors.enqueue(id, list.map(queued));
    },
  };
}
