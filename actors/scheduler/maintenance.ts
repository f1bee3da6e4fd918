/**
 * The maintenance schedules: the shipped maintenance playbooks, run through the runbook
 * interpreter (so each run is journaled and visible in `ops runs` like an operator's):
 *
 * | schedule           | when (UTC)           | playbook               | missed run |
 * |--------------------|----------------------|------------------------|------------|
 * | wal-checkpoint     | hourly, minute 0     | maintenance-daily.yml  | skip       |
 * | backup             | daily 02:00          | backup.yml             | run once   |
 * | analyze            | Sundays 03:00        | maintenance-weekly.yml | run once   |
 * | cleanup            | Sundays 03:30        | cleanup.yml            | run once   |
 *
 * The first three look after the SQLite databases of the data dir. With DATABASE_URL the store is
 * PostgreSQL, which checkpoints and analyzes itself and is backed up with its own tools, so those
 * schedules are left out (a nightly backup.yml would only fail: there is nothing to copy).
 *
 * @example
 * const defs = maintenanceSchedules(runPlaybook, { store: ctx.store.kind });
 */
import type { ScheduleDefinition } from "./scheduler-actor.ts";

/** Runs a shipped playbook by name to its end; resolves with the run's outcome. */
export type PlaybookRunner = (
  name: string,
  signal: AbortSignal,
) => Promise<{ runId: string; status: string; error: string | null }>;

function playbookJob(runPlaybook: PlaybookRunner, playbook: string): ScheduleDefinition["job"] {
  return async ({ signal }) => {
    const outcome = await runPlaybook(playbook, signal);
    if (outcome.status !== "succeeded") {
      throw new Error(
        `${playbook} run ${outcome.runId} ended ${outcome.status}${outcome.error ? `: ${outcome.error}` : ""}`,
      );
    }
    return { summary: `${playbook} run ${outcome.runId} succeeded` };
  };
}

/** The schedules that only make sense when the server's store is the data dir's SQLite. */
export const SQLITE_UPKEEP = new Set(["wal-checkpoint", "backup", "analyze"]);

/**
 * The maintenance schedule definitions for a store, each running its playbook with `runPlaybook`;
 * `cron` (ARAGORA_MAINTENANCE_CRON) replaces the time of the schedules it names, and naming a
 * schedule that does not exist throws, so a typo stops the server instead of silently doing nothing.
 *
 * @example
 * maintenanceSchedules(run, { store: "postgres" }).map((d) => d.name); // ["cleanup"]
 * maintenanceSchedules(run, { store: "sqlite", cron: { backup: "0 4 * * *" } })[1]?.timing; // { cron: "0 4 * * *" }
 */
export function maintenanceSchedules(
  runPlaybook: PlaybookRunner,
  options: { store: "sqlite" | "postgres"; cron?: Record<string, string> },
): ScheduleDefinition[] {
  const all: ScheduleDefinition[] = [
    {
      name: "wal-checkpoint",
      description: "WAL checkpoint (PASSIVE) of every database: maintenance-daily.yml",
      timing: { cron: "0 * * * *" },
      // The next hour's checkpoint does the same work; a catch-up run adds nothing.
      missed: "skip",
      job: playbookJob(runPlaybook, "maintenance-daily.yml"),
    },
    {
      name: "backup",
      description: "hot backup of every database into <data dir>/backups: backup.yml",
      timing: { cron: "0 2 * * *" },
      missed: "run_once",
      job: playbookJob(runPlaybook, "backup.yml"),
    },
    {
      name: "analyze",
      description: "ANALYZE every database: maintenance-weekly.yml",
      timing: { cron: "0 3 * * 0" },
      missed: "run_once",
      job: playbookJob(runPlaybook, "maintenance-weekly.yml"),
    },
    {
      name: "cleanup",
      description: "storage cleanup with the runbook's retention: cleanup.yml",
      timing: { cron: "30 3 * * 0" },
      missed: "run_once",
      job: playbookJob(runPlaybook, "cleanup.yml"),
    },
  ];
  const cron = options.cron ?? {};
  const unknown = Object.keys(cron).filter((name) => !all.some((d) => d.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `ARAGORA_MAINTENANCE_CRON names no maintenance schedule: ${unknown.join(", ")} (known: ${all.map((d) => d.name).join(", ")})`,
    );
  }
  const timed = all.map((d) => (cron[d.name] === undefined ? d : { ...d, timing: { cron: cron[d.name] as string } }));
  return options.store === "sqlite" ? timed : timed.filter((d) => !SQLITE_UPKEEP.has(d.name));
}
