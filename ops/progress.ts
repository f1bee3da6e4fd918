/**
 * How a run's progress is shown: `--json` prints every event as one JSON line; a terminal gets a
 * live step list with a spinner; anything else (a pipe, a log file, CI) gets plain lines.
 * Events arrive already redacted (they are journal lines).
 *
 * @example
 * const view = progressView(process.stdout.isTTY ? "tty" : "plain", process.stdout, stepIds);
 * service.subscribe(runId, view.event);
 * view.close();
 */
import type { RunEvent } from "./journal.ts";

export type ProgressMode = "json" | "plain" | "tty";

interface Writable {
  write(text: string): unknown;
}

export interface ProgressView {
  event(e: RunEvent): void;
  close(): void;
}

/** The JSON form of an event: one object per line. */
export function eventJson(e: RunEvent): string {
  return JSON.stringify({
    run_id: e.runId,
    seq: e.seq,
    at: new Date(e.at).toISOString(),
    step: e.stepId,
    kind: e.kind,
    ...e.data,
  });
}

/** One human line for an event, or undefined for events not worth a line. */
export function eventLine(e: RunEvent): string | undefined {
  const d = e.data;
  const step = e.stepId ? `${e.stepId}: ` : "";
  switch (e.kind) {
    case "run_started":
      return `run ${e.runId} (${d.playbook}${d.dry_run ? ", dry run" : ""}) started by ${d.started_by}`;
    case "step_started":
      return `${step}started (${d.action})`;
    case "attempt_failed":
      return `${step}attempt ${d.attempt} failed: ${d.error}${d.retry_in_ms !== undefined ? ` (retry in ${d.retry_in_ms} ms)` : ""}`;
    case "step_progress":
      return `${step}${d.message}${typeof d.fraction === "number" ? ` (${Math.round(d.fraction * 100)}%)` : ""}`;
    case "step_planned": {
      const plan = d.plan as { summary: string; changes?: { kind: string; target: string; diff?: string }[] };
      const changes = (plan.changes ?? []).map(
        (c) => `\n    ${c.kind} ${c.target}${c.diff ? `\n${indent(c.diff, 6)}` : ""}`,
      );
      return `${step}would ${plan.summary}${changes.join("")}`;
    }
    case "step_output":
      return `${step}outputs ${JSON.stringify(d.outputs)}`;
    case "step_finished":
      return `${step}${d.status}${d.error ? `: ${d.error}` : ""}`;
    case "step_skipped":
      return `${step}skipped (${d.reason})`;
    case "approval_waiting":
      return `${step}waiting for ${d.min_approvals} approval(s): ops approve ${e.runId} ${e.stepId}`;
    case "approval_granted":
      return `${step}approved by ${(d.approvers as string[]).join(", ")}`;
    case "run_paused":
      return `run paused: ${d.reason}`;
    case "run_aborting":
      return `aborting: ${d.reason}`;
    case "compensation_finished":
      return `${step}compensation ${d.status}${d.error ? `: ${d.error}` : ""}`;
    case "run_finished":
      return `run ${e.runId} ${d.status}${d.error ? `: ${d.error}` : ""}`;
    default:
      return undefined;
  }
}

function indent(text: string, n: number): string {
  return text
    .split("\n")
    .map((l) => " ".repeat(n) + l)
    .join("\n");
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const MARK: Record<string, string> = {
  pending: " ",
  succeeded: "✓",
  failed: "✗",
  skipped: "-",
  planned: "~",
  compensated: "↺",
  waiting: "?",
};

/**
 * A renderer for one run. In "tty" mode the step list is redrawn in place (a spinner on the
 * running step) and notable lines (failures, plans, the result) print above it.
 */
export function progressView(mode: ProgressMode, out: Writable, steps: readonly string[] = []): ProgressView {
  if (mode === "json") return { event: (e) => out.write(`${eventJson(e)}\n`), close() {} };
  if (mode === "plain") {
    return {
      event(e) {
        const line = eventLine(e);
        if (line) out.write(`${new Date(e.at).toISOString().slice(11, 19)} ${line}\n`);
      },
      close() {},
    };
  }
  const state = new Map<string, { status: string; note: string }>(
    steps.map((s) => [s, { status: "pending", note: "" }]),
  );
  let drawn = 0;
  let frame = 0;
  const draw = () => {
    if (drawn > 0) out.write(`\x1b[${drawn}A`);
    const lines = [...state].map(([id, s]) => {
      const mark = s.status === "running" ? SPINNER[frame % SPINNER.length] : (MARK[s.status] ?? " ");
      return `\x1b[2K ${mark} ${id}${s.note ? `  ${s.note}` : ""}`;
    });
    out.write(`${lines.join("\n")}\n`);
    drawn = lines.length;
  };
  const above = (text: string) => {
    if (drawn > 0) out.write(`\x1b[${drawn}A\x1b[0J`);
    drawn = 0;
    out.write(`${text}\n`);
    draw();
  };
  const timer = setInterval(() => {
    frame++;
    if ([...state.values()].some((s) => s.status === "running")) draw();
  }, 100);
  return {
    event(e) {
      const s = e.stepId ? state.get(e.stepId) : undefined;
      if (s) {
        if (e.kind === "step_started" || e.kind === "step_resumed") Object.assign(s, { status: "running", note: "" });
        else if (e.kind === "step_progress") s.note = String(e.data.message);
        else if (e.kind === "approval_waiting")
          Object.assign(s, { status: "waiting", note: `ops approve ${e.runId} ${e.stepId}` });
        else if (e.kind === "step_finished")
          Object.assign(s, { status: String(e.data.status), note: e.data.error ? String(e.data.error) : "" });
        else if (e.kind === "step_skipped") Object.assign(s, { status: "skipped", note: String(e.data.reason) });
        else if (e.kind === "step_planned") s.status = "planned";
        else if (e.kind === "compensation_finished") s.status = "compensated";
      }
      if (
        ["step_planned", "attempt_failed", "run_started", "run_paused", "run_aborting", "run_finished"].includes(e.kind)
      ) {
        const line = eventLine(e);
        if (line) above(line);
      } else draw();
    },
    close() {
      clearInterval(timer);
      draw();
    },
  };
}
