/**
 * One ops run as the page shows it, folded from its journal lines (the events
 * GET /api/ops/runs/:id/events streams): the run's status, each step's status, attempts, times and
 * lines of progress, and the gate it waits at. The journal is the run's whole history, so the fold
 * of its lines is the run; each line carries a seq, and a line at or below the last one applied (a
 * reconnection replays the journal from the start) is skipped, so nothing shows twice.
 *
 * @example
 * const model = emptyRun("r-20261205-1a2b3c4d");
 * applyRunEvent(model, { seq: 1, at: Date.now(), stepId: null, kind: "run_started", data: { steps: [] }, runId: model.id });
 * model.status; // "running"
 */
import type { RunSummary } from "./ops-types.ts";

/** One journal line as the stream sends it (ops/journal.ts RunEvent: `at` in epoch ms). */
export interface RunEvent {
  seq: number;
  at: number;
  stepId: string | null;
  kind: string;
  data: Record<string, unknown>;
  runId: string;
}

/** A line of what a step said: its progress messages, outputs, failed attempts, compensation. */
export interface StepLine {
  seq: number;
  at: number;
  text: string;
}

export interface StepView {
  id: string;
  action: string;
  /** The journal's step status, or `waiting_approval` while the step is a gate that waits. */
  status: string;
  attempts: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: string | null;
  lines: StepLine[];
}

export interface RunModel {
  id: string;
  /** The seq of the last line applied (0: none yet). */
  lastSeq: number;
  playbook: string;
  file: string;
  startedBy: string;
  dryRun: boolean;
  createdAt: number | null;
  finishedAt: number | null;
  status: RunSummary["status"];
  error: string | null;
  /** The step that waits for approvals, while the run waits. */
  gate: string | null;
  steps: StepView[];
  journal: RunEvent[];
}

/** A run nothing is known of yet. */
export function emptyRun(id: string): RunModel {
  return {
    id,
    lastSeq: 0,
    playbook: "",
    file: "",
    startedBy: "",
    dryRun: false,
    createdAt: null,
    finishedAt: null,
    status: "running",
    error: null,
    gate: null,
    steps: [],
    journal: [],
  };
}

const text = (v: unknown) => (typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v));

/** The step a line is about, made when the run's first line did not list it (a playbook changed under a resume). */
function stepOf(model: RunModel, id: string, action = ""): StepView {
  let step = model.steps.find((s) => s.id === id);
  if (!step) {
    step = { id, action, status: "pending", attempts: 0, startedAt: null, finishedAt: null, error: null, lines: [] };
    model.steps.push(step);
  }
  return step;
}

/**
 * Applies one journal line; false when it was already applied (its seq is not past the last one),
 * so a replayed journal after a reconnection changes nothing it had shown.
 *
 * @example if (applyRunEvent(model, event)) scheduleDraw();
 */
export function applyRunEvent(model: RunModel, e: RunEvent): boolean {
  if (e.seq <= model.lastSeq) return false;
  model.lastSeq = e.seq;
  model.journal.push(e);
  const d = e.data;
  const step = e.stepId === null ? undefined : stepOf(model, e.stepId);
  const say = (line: string) => step?.lines.push({ seq: e.seq, at: e.at, text: line });
  switch (e.kind) {
    case "run_started": {
      model.playbook = text(d.playbook);
      model.file = text(d.file);
      model.startedBy = text(d.started_by);
      model.dryRun = d.dry_run === true;
      model.createdAt = e.at;
      model.status = "running";
      for (const s of (d.steps as { id: string; action: string }[] | undefined) ?? []) stepOf(model, s.id, s.action);
      break;
    }
    case "step_started":
      if (step) {
        Object.assign(step, { status: "running", startedAt: e.at, finishedAt: null, error: null });
        if (typeof d.action === "string") step.action = d.action;
      }
      break;
    case "attempt_started":
      if (step && typeof d.attempt === "number") step.attempts = d.attempt;
      break;
    case "attempt_failed":
      if (step) step.error = text(d.error);
      say(
        `attempt ${d.attempt} failed: ${text(d.error)}${d.retry_in_ms === undefined ? "" : ` (retry in ${d.retry_in_ms} ms)`}`,
      );
      break;
    case "step_progress":
      say(`${text(d.message)}${typeof d.fraction === "number" ? ` (${Math.round(d.fraction * 100)}%)` : ""}`);
      break;
    case "step_output": {
      const outputs = (d.outputs ?? {}) as Record<string, unknown>;
      if (Object.keys(outputs).length > 0) say(`outputs ${JSON.stringify(outputs)}`);
      break;
    }
    case "step_finished":
      if (step)
        Object.assign(step, { status: text(d.status), finishedAt: e.at, error: d.error ? text(d.error) : null });
      if (model.gate === e.stepId) model.gate = null;
      break;
    case "step_skipped":
      if (step) Object.assign(step, { status: "skipped", finishedAt: e.at });
      say(`skipped: ${text(d.reason)}`);
      break;
    case "step_planned":
      if (step) step.status = "planned";
      break;
    case "step_resumed":
      if (step) Object.assign(step, { status: "running", error: null });
      say(`resumed: ${text(d.reason)}`);
      Object.assign(model, { status: "running", error: null });
      break;
    case "approval_waiting":
      if (step) step.status = "waiting_approval";
      Object.assign(model, { status: "waiting_approval", gate: e.stepId });
      break;
    case "approval_granted":
      if (step) step.status = "running";
      say(`approved by ${((d.approvers as string[] | undefined) ?? []).join(", ")}`);
      Object.assign(model, { status: "running", gate: null });
      break;
    case "compensation_started":
      say(`compensating (${text(d.action)})`);
      break;
    case "compensation_finished":
      if (step && d.status === "succeeded") step.status = "compensated";
      say(`compensation ${text(d.status)}${d.error ? `: ${text(d.error)}` : ""}`);
      break;
    case "run_paused":
      // The step in flight waits for the operator's retry or skip, not running any more.
      if (step) step.status = "paused";
      Object.assign(model, { status: "paused", error: text(d.reason), gate: null });
      break;
    case "run_resumed":
      Object.assign(model, { status: "running", error: null });
      break;
    case "run_aborting":
      model.error = text(d.reason);
      break;
    case "run_finished":
      Object.assign(model, {
        status: text(d.status) as RunModel["status"],
        error: d.error ? text(d.error) : null,
        finishedAt: e.at,
        gate: null,
      });
      break;
  }
  return true;
}
