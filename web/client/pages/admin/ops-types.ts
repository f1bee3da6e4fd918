/** What /api/ops/runs answers (the fields the admin console reads). */

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

export interface RunStep {
  step_id: string;
  action: string;
  status: string;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  error: string | null;
}

export interface JournalLine {
  seq: number;
  at: string;
  step: string | null;
  kind: string;
  data: Record<string, unknown>;
}

export interface RunDetail {
  run: RunSummary;
  steps: RunStep[];
  journal: JournalLine[];
}

/** Statuses a run does not leave. */
export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
