/**
 * The debates feature: the event writer, the live streams on the WebSocket gateway, the debates
 * supervisor with its DebateActors, the receipt key, the HTTP routes, resume at start and the
 * drain at shutdown. Runs after the agents feature, whose directory it is given. It offers later
 * features the event outbox (./event-outbox.ts): the committed events they act on (webhooks).
 *
 * @example
 * const debates = await debatesFeature(ctx, { agents: (await agentsFeature(ctx, { audit })).agents });
 */
import { Elysia } from "elysia";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import { metrics } from "../../runtime/metrics.ts";
import { EVENT_FLUSH_GRACE_MS } from "../../runtime/store/store-health.ts";
import type { AgentDirectory } from "../agent/turn.ts";
import { billingRoutes } from "./billing-routes.ts";
import { CostCaps } from "./cost-caps.ts";
import { debateRoutes } from "./debate-routes.ts";
import { type DebateStore, openDebateStore, reportingHealth } from "./debate-store.ts";
import { DebateStreams } from "./debate-streams.ts";
import { DebateSupervisor } from "./debate-supervisor.ts";
import { debateIdsForLog, EventWriter } from "./event-log.ts";
import { type DebateEventOutbox, isOutboxPayload } from "./event-outbox.ts";
import { loadOrCreateReceiptKey } from "./receipt.ts";

export interface DebatesFeatureDeps {
  /** Where turns run; without one, debates can be read but not started (503). */
  agents: AgentDirectory | undefined;
  /**
   * The organisation (and its default workspace) that receives the debates made before
   * organisations existed: the first one.
   */
  legacyOwner: { orgId: string; workspaceId: string };
}

export async function debatesFeature(
  ctx: FeatureContext,
  { agents, legacyOwner }: DebatesFeatureDeps,
): Promise<
  Feature & {
    receipts: Pick<DebateStore, "deleteReceiptsBefore">;
    outbox: DebateEventOutbox;
    /** Server-internal reads of a debate and its log (integrations make outcomes of them). */
    history: Pick<DebateStore, "byId" | "events">;
  }
> {
  const { config, log } = ctx;
  const health = ctx.storeHealth;
  const store = reportingHealth(await openDebateStore(ctx.store, config), health);
  health.addProbe("debates", () => store.probeWrite());
  const adopted = await store.adoptLegacy(legacyOwner);
  if (adopted > 0) {
    log.info(
      { org_id: legacyOwner.orgId, workspace_id: legacyOwner.workspaceId, debates: adopted },
      "debates made before organisations existed now belong to the first one",
    );
  }
  // The event log is writable again when its queue is written (the writer's own retry) or empty
  // and a probe write goes through; never while events still wait.
  health.addProbe("event_log", () =>
    writer.pending === 0
      ? Promise.resolve()
      : Promise.reject(new Error(`${writer.pending} debate events still waiting`)),
  );
  const key = loadOrCreateReceiptKey(ctx.dataDir);
  const streams = new DebateStreams({
    gateway: ctx.gateway,
    store,
    bufferLimit: config.eventBufferSize,
    log,
    firstUnpublished: (id) => writer.firstUnpublished(id),
  });
  streams.register();
  // Set below: the supervisor needs the writer, and the writer tells it which debates to release.
  let release: ((id: string) => void) | undefined;
  // Told after each commit that wrote outbox rows: the writer publishes only after the commit.
  const outboxListeners = new Set<() => void>();
  const writer = new EventWriter({
    store,
    log,
    publish: (id, seq, payload) => {
      streams.publish(id, seq, payload);
      if (outboxListeners.size > 0 && isOutboxPayload(payload)) for (const heard of outboxListeners) heard();
    },
    onConflict: (id) => release?.(id),
    onCommit: (seconds, events) => {
      metrics.debateEventAppendSeconds.observe(seconds);
      metrics.debateEventsAppended.inc(events);
      metrics.debateEventsUnwritten.set(writer.pending);
    },
    // The store wrapper has reported the failure to health; this keeps the gauge current.
    onFailure: () => metrics.debateEventsUnwritten.set(writer.pending),
  });
  health.countUnwritten(() => writer.unwritten());
  if (!agents) log.warn("no agent directory: debates can be read but not started");
  const caps = new CostCaps({ store, defaultCapUsd: config.defaultMonthlyCostCapUsd });
  const debates = agents
    ? new DebateSupervisor({
        system: ctx.system,
        store,
        writer,
        agents,
        key,
        log,
        health,
        defaults: {
          rounds: 3,
          turnMs: config.debateTurnTimeoutSeconds * 1000,
          roundMs: config.debateRoundTimeoutSeconds * 1000,
          debateMs: config.debateTimeoutSeconds * 1000,
        },
        onStarted: () => {
          metrics.debatesTotal.inc();
          metrics.debatesActive.inc();
        },
        onFinished: (id, status) => {
          caps.finished(id);
          metrics.debatesActive.dec();
          if (status === "completed") metrics.debatesCompleted.inc();
          if (status === "failed") metrics.debatesFailed.inc();
        },
      })
    : undefined;
  if (debates) {
    release = (id) => debates.release(id, "another process is writing this debate's log");
    debates.start();
    ctx.drain.register({ name: "debates", drain: (signal) => debates.drain(signal) });
  }
  const outbox: DebateEventOutbox = {
    take: (limit) => store.outboxTake(limit),
    remove: (rows) => store.outboxRemove(rows),
    onCommitted(listener) {
      outboxListeners.add(listener);
      return () => outboxListeners.delete(listener);
    },
  };
  return {
    name: "debates",
    // The schedulers' receipt retention prunes through it: only this feature writes its tables.
    receipts: store,
    outbox,
    history: store,
    routes: new Elysia({ name: "aragora-debates-and-billing" })
      .use(debateRoutes({ store, debates, key, caps }))
      .use(billingRoutes({ store, caps, log })),
    async start() {
      const resumed = (await debates?.resumeUnfinished()) ?? 0;
      metrics.debatesActive.inc(resumed);
    },
    async stop() {
      // Bounded: a store that cannot write gets EVENT_FLUSH_GRACE_MS in all; then what is still
      // not written is given up on, reported (health.unwritten(), the "stopped" log line) and lost.
      const deadline = Date.now() + EVENT_FLUSH_GRACE_MS;
      const within = (work: Promise<unknown>) =>
        Promise.race([
          work.then(
            () => true,
            () => false,
          ),
          Bun.sleep(Math.max(0, deadline - Date.now())).then(() => false),
        ]);
      if (debates) await within(debates.interruptAll());
      if (!(await within(writer.flush()))) {
        const lost = writer.abandon();
        health.abandoned(lost);
        if (lost.events > 0) {
          log.error(
            { events: lost.events, ...debateIdsForLog(lost.debateIds), debate_ids_all: lost.debateIds },
            `shutdown: ${lost.events} debate events could not be written (the store cannot write); they are lost, and their debates resume from what was written`,
          );
        }
      }
      await store.close();
    },
  };
}
