/** What /api/ops/runs answers (the fields the admin console reads), and the statuses of a run. */

export interface RunSummary {
  id: string;
  playbook: string;
  file: string;
  status: "running" | "waiting_approval" | "paused" | "succeeded" | "failed" | "cancelled";
  started_by: string;
  created_at: string;
  finished_at: string | null;
  current_step: string | null;
  error: string | null;
  dry_run: boolean;
}

/** Statuses a run does not leave. */
export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
