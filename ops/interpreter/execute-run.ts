/**
 * The runbook interpreter: executes one playbook run step by step, journaling every step start,
 * attempt, output and end before it moves on, so that {@link executeRun} called again on the same
 * run (after a crash or a restart) resumes at the first unfinished step. It implements `when`,
 * `timeout`, `retry` with backoff, `on_failure` (abort | continue | goto:<id>), compensation in
 * reverse order when the run aborts, approval gates, cancel, and dry runs (plan instead of run).
 * The phases live beside it: ./resume-plan.ts, ./step-attempt.ts, ./compensation.ts,
 * ./approvals.ts, over the shared ./run-session.ts. The RunbookActor (actors/runbook) owns one
 * execution; this module is the procedure.
 *
 * @example
 * const outcome = await executeRun({ playbook, params, env, journal, run, mode: "start", ... });
 * outcome.status; // "succeeded"
 */
import { hostname } from "node:os";
import type { RunRecord, StepRecord } from "../journal.ts";
import type { CompiledStep } from "../playbook.ts";
import { truthy } from "../template.ts";
import { compensate } from "./compensation.ts";
import { resumePlan } from "./resume-plan.ts";
import { RunCancelled, type RunDeps, type RunOutcome, RunSession } from "./run-session.ts";
import { executeStep } from "./step-attempt.ts";

/** The whole run stops here: more step executions than this means a goto loop. */
const MAX_STEP_EXECUTIONS = 1000;

/**
 * Execute (or resume) a run to its end, a pause, or a cancel. Never throws for step failures:
 * they are the run's outcome. Throws only when the journal itself fails (the actor then restarts
 * and resumes from what was written).
 */
export async function executeRun(deps: RunDeps): Promise<RunOutcome> {
  const session = new RunSession(deps);
  const onOuterAbort = () => session.cancel.abort(new RunCancelled());
  deps.signal.addEventListener("abort", onOuterAbort, { once: true });
  if (deps.signal.aborted) onOuterAbort();

  if (deps.mode === "start") await journalStart(session);
  else {
    const paused = await resumePlan(session);
    if (paused) return paused;
  }

  const control = watchControl(session);
  let outcome: RunOutcome;
  try {
    outcome = await runSteps(session);
  } catch (err) {
    const cancel = session.cancel;
    if (!(err instanceof RunCancelled) && !(cancel.signal.aborted && err === cancel.signal.reason)) throw err;
    outcome = await finishCancelled(session);
  } finally {
    clearInterval(control);
    deps.signal.removeEventListener("abort", onOuterAbort);
  }
  await session.record(null, "run_finished", { status: outcome.status, error: outcome.error }, undefined, {
    status: outcome.status,
    finishedAt: session.now(),
    error: outcome.error && session.redactor.redact(outcome.error),
    currentStep: null,
  });
  return outcome;
}

/** A new run: its record (secret params masked) and its first journal line. */
async function journalStart(session: RunSession): Promise<void> {
  const { run, playbook, redactor, secretParams, deps } = session;
  await session.journal.createRun({ ...run, params: redactor.redactKeys(run.params, secretParams) });
  await session.record(null, "run_started", {
    playbook: playbook.name,
    file: playbook.file,
    started_by: run.startedBy,
    dry_run: session.dryRun,
    params: redactor.redactKeys(deps.params, secretParams),
    steps: playbook.steps.map((s) => ({ id: s.id, action: s.action.name })),
  });
}

/** Poll the store for a cancel request (`ops cancel` from another process) and keep the heartbeat fresh. */
function watchControl(session: RunSession): ReturnType<typeof setInterval> {
  const { journal, run, cancel } = session;
  let lastBeat = session.now();
  return setInterval(async () => {
    try {
      if (session.dryRun) return;
      const current = await journal.getRun(run.id);
      if (current?.cancelRequested && !cancel.signal.aborted) cancel.abort(new RunCancelled());
      if (session.now() - lastBeat >= 5000) {
        lastBeat = session.now();
        await journal.updateRun(run.id, { heartbeatAt: lastBeat });
      }
    } catch (err) {
      session.deps.log.warn({ err, run_id: run.id }, "ops control poll failed");
    }
  }, session.pollMs);
}

/** The step loop from the session's cursor, then compensation if the run aborted. */
async function runSteps(session: RunSession): Promise<RunOutcome> {
  const { playbook, stepsById, scope, dryRun, cancel } = session;
  let executions = 0;
  while (session.cursor !== null && !session.aborting) {
    const step = stepsById.get(session.cursor) as CompiledStep;
    if (++executions > MAX_STEP_EXECUTIONS) {
      session.aborting = { reason: `more than ${MAX_STEP_EXECUTIONS} step executions: a goto loop?`, status: "failed" };
      break;
    }
    if (cancel.signal.aborted) throw cancel.signal.reason;
    const natural = playbook.steps[step.index + 1]?.id ?? null;
    if (step.when !== undefined && !truthy(session.render(step.when, dryRun))) {
      await skipStep(session, step, natural);
      session.cursor = natural;
      continue;
    }
    const result = await executeStep(session, step);
    const row = session.rows.get(step.id) as StepRecord;
    const status = dryRun ? "planned" : result.status;
    let next: string | null = natural;
    if (result.status === "failed") {
      scope.steps[step.id] = { status: "failed", outputs: {} };
      if (step.onFailure.kind === "goto") next = step.onFailure.target;
      else if (step.onFailure.kind === "abort") next = null;
    } else if (step.compensate) session.compensable.push(step.id);
    await session.record(
      step.id,
      "step_finished",
      { status, next, ...(result.error ? { error: result.error } : {}) },
      { ...row, status, finishedAt: session.now(), error: result.error ?? null },
      { currentStep: null },
    );
    if (result.status === "failed" && step.onFailure.kind === "abort") {
      session.aborting = { reason: `step "${step.id}" failed: ${result.error}`, status: "failed" };
    }
    session.cursor = next;
  }
  const aborting = session.aborting;
  if (!aborting) return { status: "succeeded", error: null };
  if (session.compensable.some((id) => !session.compensated.has(id))) {
    await session.record(null, "run_aborting", { reason: aborting.reason, status: aborting.status });
    await compensate(session);
  }
  return { status: aborting.status, error: aborting.reason };
}

/** A step whose `when` is false: journaled as skipped, with no attempt. */
async function skipStep(session: RunSession, step: CompiledStep, next: string | null): Promise<void> {
  session.scope.steps[step.id] = { status: "skipped", outputs: {} };
  const row: StepRecord = {
    runId: session.run.id,
    stepId: step.id,
    index: step.index,
    action: step.action.name,
    status: "skipped",
    attempts: 0,
    idempotent: true,
    startedAt: null,
    finishedAt: session.now(),
    outputs: null,
    error: null,
  };
  await session.record(step.id, "step_skipped", { reason: "when is false", next }, row);
}

/** An operator cancelled: the step in flight fails as cancelled, then compensation runs. */
async function finishCancelled(session: RunSession): Promise<RunOutcome> {
  const current = [...session.rows.values()].find((r) => r.status === "running");
  if (current) {
    await session.record(
      current.stepId,
      "step_finished",
      { status: "failed", next: null, error: "cancelled" },
      { ...current, status: "failed", finishedAt: session.now(), error: "cancelled" },
    );
  }
  await session.record(null, "run_aborting", { reason: "cancelled by an operator", status: "cancelled" });
  await compensate(session);
  return { status: "cancelled", error: "cancelled by an operator" };
}

/** Who is executing: this process. @example thisExecutor("n-1") // { pid, host, nodeId: "n-1" } */
export function thisExecutor(nodeId?: string): RunRecord["executor"] {
  return { pid: process.pid, host: hostname(), ...(nodeId ? { nodeId } : {}) };
}
