/**
 * One step's execution: its input rendered and checked, then attempts of its action, each bounded
 * by the step's timeout and the run's cancel, retried under the step's policy with backoff. Every
 * attempt is journaled before it runs and after it fails; a dry run plans instead of running.
 *
 * @example
 * const result = await executeStep(session, step); // { status: "succeeded" } or { status: "failed", error }
 */
import { type } from "arktype";
import type { Plan } from "../action.ts";
import type { AnyAction } from "../actions/index.ts";
import type { StepRecord } from "../journal.ts";
import type { CompiledStep, RetryPolicy } from "../playbook.ts";
import { UnresolvedReference } from "../template.ts";
import { awaitApprovals } from "./approvals.ts";
import { message, type RunSession, wait } from "./run-session.ts";

export class StepTimeout extends Error {
  override name = "StepTimeout";
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** What an action runs as: a step's action, or a compensation's, with its own timeout. */
export interface ActionTarget {
  id: string;
  action: AnyAction;
  timeoutMs: number;
}

export interface StepResult {
  status: "succeeded" | "failed";
  error?: string;
}

/**
 * Delay before retry `attempt` (1-based) under a policy; jitter adds up to `jitter` of itself.
 *
 * @example retryDelay({ backoff: "exponential", initialMs: 100, factor: 2, maxDelayMs: 1000, jitter: 0, max: 3 }, 3) // 400
 */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base =
    policy.backoff === "fixed" ? policy.initialMs : policy.initialMs * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, base);
  return Math.round(capped + capped * policy.jitter * random());
}

function isIdempotent(action: AnyAction, input: unknown): boolean {
  return typeof action.idempotent === "function" ? action.idempotent(input) : action.idempotent;
}

/**
 * Run one attempt of an action (plan it in a dry run) under `signal` and a timeout of its own.
 * With `cancellable` false only the timeout stops it: compensation must run even after a cancel.
 */
export async function attemptAction(
  session: RunSession,
  target: ActionTarget,
  input: unknown,
  cancellable = true,
): Promise<Record<string, unknown> | Plan> {
  const timeout = new AbortController();
  const signal = cancellable ? AbortSignal.any([session.cancel.signal, timeout.signal]) : timeout.signal;
  const timer = session.clock.setTimeout(() => timeout.abort(new StepTimeout(target.timeoutMs)), target.timeoutMs);
  const progress: Promise<void>[] = [];
  const ctx = session.actionContext(target.id, signal, progress, (rule) =>
    awaitApprovals(session, target.id, rule, signal),
  );
  try {
    const work = session.dryRun ? target.action.plan(input, ctx) : target.action.run(input, ctx);
    if (!cancellable) return (await work) as Record<string, unknown> | Plan;
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
    aborted.catch(() => {});
    return (await Promise.race([work, aborted])) as Record<string, unknown> | Plan;
  } finally {
    session.clock.clearTimeout(timer);
    await Promise.all(progress);
  }
}

async function finishPlanned(
  session: RunSession,
  step: CompiledStep,
  row: StepRecord,
  plan: Plan,
): Promise<StepResult> {
  const shown = session.redactor.redact(plan);
  await session.record(step.id, "step_planned", { plan: shown }, { ...row, status: "planned" });
  session.scope.steps[step.id] = { status: "planned", outputs: {} };
  return { status: "succeeded" };
}

/** Execute one step with its retries; returns how it ended (a cancel rejects with the cancel's reason). */
export async function executeStep(session: RunSession, step: CompiledStep): Promise<StepResult> {
  const { redactor, dryRun, cancel } = session;
  const row = session.startingRow(step);
  const maxAttempts = (step.retry?.max ?? 0) + 1;
  let lastError = "";
  let started = false;
  for (let n = 1; n <= maxAttempts; n++) {
    if (cancel.signal.aborted) throw cancel.signal.reason;
    let input: unknown;
    try {
      const rendered = session.render(step.with, dryRun);
      const checked = step.action.input(rendered);
      if (checked instanceof type.errors) {
        if (dryRun && JSON.stringify(rendered).includes("<steps.")) {
          const summary = `${step.action.name} with inputs known only at run time: ${JSON.stringify(rendered)}`;
          return finishPlanned(session, step, row, { summary, changes: [] });
        }
        throw new Error(`${step.action.name}: invalid input after templating: ${checked.summary}`);
      }
      input = checked;
    } catch (err) {
      if (err instanceof UnresolvedReference) throw new Error(`${err.message} (step "${step.id}")`);
      lastError = message(err);
      break;
    }
    row.idempotent = isIdempotent(step.action, input);
    row.attempts += 1;
    if (!started) {
      started = true;
      await session.record(
        step.id,
        "step_started",
        { action: step.action.name, idempotent: row.idempotent, input: redactor.redact(input) },
        { ...row },
        { currentStep: step.id },
      );
    }
    await session.record(step.id, "attempt_started", { attempt: row.attempts }, { ...row });
    try {
      const result = await attemptAction(session, step, input);
      if (dryRun) return finishPlanned(session, step, row, result as Plan);
      const outputs = (result ?? {}) as Record<string, unknown>;
      for (const name of step.secretOutputs) redactor.addSecret(outputs[name]);
      session.scope.steps[step.id] = { status: "succeeded", outputs };
      const shown = redactor.redactKeys(outputs, step.secretOutputs);
      row.outputs = shown;
      await session.record(step.id, "step_output", { outputs: shown }, { ...row });
      return { status: "succeeded" };
    } catch (err) {
      if (cancel.signal.aborted) throw cancel.signal.reason;
      lastError = message(err);
      const retrying = n < maxAttempts && step.retry;
      const delay = retrying ? retryDelay(step.retry as RetryPolicy, n, session.random) : 0;
      row.error = lastError;
      await session.record(
        step.id,
        "attempt_failed",
        { attempt: row.attempts, error: lastError, ...(retrying ? { retry_in_ms: delay } : {}) },
        { ...row },
      );
      if (retrying) await wait(delay, cancel.signal, session.clock);
    }
  }
  row.error = lastError;
  if (!started)
    await session.record(
      step.id,
      "step_started",
      { action: step.action.name, idempotent: false },
      { ...row },
      { currentStep: step.id },
    );
  return { status: "failed", error: lastError };
}
