/**
 * The schedulers feature: a `schedulers` supervisor with one SchedulerActor per schedule (receipt
 * retention always; the maintenance playbooks unless ARAGORA_MAINTENANCE_SCHEDULES=false, and on
 * PostgreSQL only cleanup, see maintenance.ts), their state in the `schedules` table, and the
 * /api/admin/schedulers routes. Running jobs get the shutdown window to finish (the drain).
 *
 * @example
 * const schedulers = await schedulersFeature(ctx, { runbooks: runbooks.runbooks, receipts: debates.receipts });
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type ActorRef, supervisor } from "../../runtime/actor/index.ts";
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import { PROJECT_ROOT } from "../../runtime/paths.ts";
import type { DebateStore } from "../debate/debate-store.ts";
import type { RunbookService } from "../runbook/service.ts";
import { maintenanceSchedules, type PlaybookRunner } from "./maintenance.ts";
import { receiptRetentionSchedule } from "./receipt-retention.ts";
import { schedulerRoutes } from "./routes.ts";
import { openScheduleStore } from "./schedule-store.ts";
import { type ScheduleDefinition, type SchedulerMsg, schedulerActor } from "./scheduler-actor.ts";

/** Runs shipped playbooks through the server's runbook interpreter (journaled like any run). */
function playbookRunner(service: Pick<RunbookService, "start" | "cancel">): PlaybookRunner {
  return async (name, signal) => {
    const path = join(PROJECT_ROOT, "ops", "playbooks", name);
    // Loaded when a maintenance schedule first fires, not at start.
    const { loadPlaybook } = await import("../../ops/playbook.ts");
    const loaded = loadPlaybook(readFileSync(path, "utf8"), path);
    if (!loaded.playbook) {
      throw new Error(loaded.diagnostics.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).join("\n"));
    }
    const started = await service.start({ playbook: loaded.playbook, params: {}, env: {}, startedBy: "scheduler" });
    const cancel = () => void service.cancel(started.runId).catch(() => {});
    signal.addEventListener("abort", cancel, { once: true });
    try {
      return { runId: started.runId, ...(await started.done) };
    } finally {
      signal.removeEventListener("abort", cancel);
    }
  };
}

export interface SchedulersFeatureDeps {
  /** The server's runbook interpreter: maintenance playbooks run through it, journaled like any run. */
  runbooks: Pick<RunbookService, "start" | "cancel">;
  /** The debate store: the receipt retention schedule prunes receipts through it. */
  receipts: Pick<DebateStore, "deleteReceiptsBefore">;
  /** Where runs started by hand over HTTP are recorded. */
  audit: AuditRecorder;
}

export async function schedulersFeature(
  ctx: FeatureContext,
  { runbooks, receipts, audit }: SchedulersFeatureDeps,
): Promise<Feature> {
  const { config, log, system, drain } = ctx;
  const store = await openScheduleStore(ctx.store);
  const definitions: ScheduleDefinition[] = [
    receiptRetentionSchedule({
      receipts,
      retentionDays: config.receiptRetentionDays,
      intervalHours: config.receiptCleanupIntervalHours,
    }),
    ...(config.maintenanceSchedules
      ? maintenanceSchedules(playbookRunner(runbooks), {
          store: ctx.store.kind,
          cron: config.maintenanceCron,
        })
      : []),
  ];
  const refs = new Map<string, ActorRef<SchedulerMsg>>();
  const running = new Set<Promise<void>>();
  const slog = log.child({ feature: "schedulers" });

  drain.register({
    name: "schedulers",
    drain: async (signal) => {
      // Stop the clocks, then give running jobs the shutdown window.
      const wait = Promise.allSettled([...running]);
      await Promise.race([wait, new Promise((r) => signal.addEventListener("abort", r, { once: true }))]);
    },
  });

  return {
    name: "schedulers",
    routes: schedulerRoutes({ config, schedules: () => refs, audit }),
    async start() {
      const parent = system.spawn(supervisor(), {
        name: "schedulers",
        supervisor: { strategy: "one_for_one", maxRestarts: 20, periodMs: 60_000 },
      });
      for (const definition of definitions) {
        const ref = system.spawn(
          schedulerActor({
            definition,
            store,
            log: slog,
            onRunStart: (_name, done) => {
              running.add(done);
              void done.finally(() => running.delete(done));
            },
          }),
          { parent, name: definition.name, restart: "permanent", kind: "scheduler" },
        );
        refs.set(definition.name, ref);
      }
      slog.info({ schedules: definitions.map((d) => d.name) }, "schedulers started");
    },
    async stop() {
      const parent = system.lookup("/system/schedulers");
      if (parent) await system.stop(parent as ActorRef<never>);
      refs.clear();
      await store.close();
    },
  };
}
