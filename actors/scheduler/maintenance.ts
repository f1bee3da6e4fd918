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
 * @example
 * const defs = maintenanceSchedules(runPlaybook);
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

/** The maintenance schedule definitions, each running its playbook with `runPlaybook`. */
export function maintenanceSchedules(runPlaybook: PlaybookRunner): ScheduleDefinition[] {
  return [
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
}
