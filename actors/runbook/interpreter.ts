/**
 * The runbook interpreter: executes one playbook run step by step, journaling every step start,
 * attempt, output and end before it moves on, so that {@link executeRun} called again on the same
 * run (after a crash or a restart) resumes at the first unfinished step. It implements `when`,
 * `timeout`, `retry` with backoff, `on_failure` (abort | continue | goto:<id>), compensation in
 * reverse order when the run aborts, approval gates, cancel, and dry runs (plan instead of run).
 * The RunbookActor (./runbook-actor.ts) owns one execution; this module is the pure procedure.
 *
 * @example
 * const outcome = await executeRun({ playbook, params, env, journal, run, mode: "start", ... });
 * outcome.status; // "succeeded"
 */
import { hostname } from "node:os";
import { type } from "arktype";
import type { ActionContext, ApprovalRecord, ApprovalRule, Plan } from "../../ops/action.ts";
import type { AnyAction } from "../../ops/actions/index.ts";
import type { JournalEntry, OpsJournal, RunPatch, RunRecord, RunStatus, StepRecord } from "../../ops/journal.ts";
import type { CompiledStep, Playbook, RetryPolicy } from "../../ops/playbook.ts";
import { MASK, Redactor } from "../../ops/redact.ts";
import { parseTemplate, renderTemplate, type TemplateScope, truthy, UnresolvedReference } from "../../ops/template.ts";
import type { Config } from "../../runtime/config.ts";
import type { Logger } from "../../runtime/log.ts";

/** One line of progress: a journal entry of a run (what `--json` prints and `ops:<run>` streams). */
export type RunEvent = JournalEntry & { runId: string };

export interface RunDeps {
  playbook: Playbook;
  /** Typed param values, secrets included (never journaled as such). */
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  journal: OpsJournal;
  run: RunRecord;
  /** "start": a new run (createRun first); "resume": continue from the journal. */
  mode: "start" | "resume";
  config: Config;
  dataDir: string;
  log: Logger;
  signal: AbortSignal;
  emit: (event: RunEvent) => void;
  server?: { apiBaseUrl: string };
  /** How often approval gates and cancel requests are polled in the store; default 200 ms. */
  pollMs?: number;
  now?: () => number;
  random?: () => number;
}

export interface RunOutcome {
  status: RunStatus;
  error: string | null;
}

/** The whole run stops here: more step executions than this means a goto loop. */
const MAX_STEP_EXECUTIONS = 1000;

class RunCancelled extends Error {
  override name = "RunCancelled";
  constructor() {
    super("the run was cancelled");
  }
}

class StepTimeout extends Error {
  override name = "StepTimeout";
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/** Why the run paused: an in-flight, non-idempotent step needs an operator's retry or skip. */
export class NeedsDecision extends Error {
  override name = "NeedsDecision";
}

/** Delay before retry `attempt` (1-based) under a policy; jitter adds up to `jitter` of itself. */
export function retryDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base =
    policy.backoff === "fixed" ? policy.initialMs : policy.initialMs * policy.factor ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelayMs, base);
  return Math.round(capped + capped * policy.jitter * random());
}

function isIdempotent(action: AnyAction, input: unknown): boolean {
  return typeof action.idempotent === "function" ? action.idempotent(input) : action.idempotent;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Wait `ms` or until the signal aborts (then reject with its reason). */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(signal.reason);
      else resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Execute (or resume) a run to its end, a pause, or a cancel. Never throws for step failures:
 * they are the run's outcome. Throws only when the journal itself fails (the actor then restarts
 * and resumes from what was written).
 */
export async function executeRun(deps: RunDeps): Promise<RunOutcome> {
  const { playbook, journal, run, emit } = deps;
  const now = deps.now ?? Date.now;
  const random = deps.random ?? Math.random;
  const pollMs = deps.pollMs ?? 200;
  const dryRun = run.dryRun;
  const redactor = new Redactor();
  const secretParams = new Set(
    Object.entries(playbook.params)
      .filter(([, s]) => s.type === "secret")
      .map(([n]) => n),
  );
  for (const name of secretParams) redactor.addSecret(deps.params[name]);
  const stepsById = new Map(playbook.steps.map((s) => [s.id, s]));
  const scope: TemplateScope = { params: deps.params, env: deps.env, steps: {} };
  const rows = new Map<string, StepRecord>();
  const compensable: string[] = [];
  let seq = 0;

  // A cancel arrives as the actor's signal (server) or as a flag in the store (`ops cancel` from
  // another process); either aborts this controller, which every step's signal follows.
  const cancel = new AbortController();
  const onOuterAbort = () => cancel.abort(new RunCancelled());
  deps.signal.addEventListener("abort", onOuterAbort, { once: true });
  if (deps.signal.aborted) onOuterAbort();

  const record = async (
    stepId: string | null,
    kind: string,
    data: Record<string, unknown>,
    step?: StepRecord,
    patch?: RunPatch,
  ) => {
    const entry: JournalEntry = { seq: ++seq, at: now(), stepId, kind, data: redactor.redact(data) };
    const row = step && {
      ...step,
      outputs: step.outputs && redactor.redact(step.outputs),
      error: step.error && redactor.redact(step.error),
    };
    await journal.record(run.id, entry, row, patch);
    if (row) rows.set(row.stepId, row);
    emit({ ...entry, runId: run.id });
  };

  if (deps.mode === "start") {
    await journal.createRun({ ...run, params: redactor.redactKeys(run.params, secretParams) });
    await record(null, "run_started", {
      playbook: playbook.name,
      file: playbook.file,
      started_by: run.startedBy,
      dry_run: dryRun,
      params: redactor.redactKeys(deps.params, secretParams),
      steps: playbook.steps.map((s) => ({ id: s.id, action: s.action.name })),
    });
  }

  let cursor: string | null = playbook.steps[0]?.id ?? null;
  let aborting: { reason: string; status: RunStatus } | undefined;
  const compensated = new Set<string>();

  if (deps.mode === "resume") {
    const entries = await journal.entries(run.id);
    seq = entries.at(-1)?.seq ?? 0;
    for (const row of await journal.steps(run.id)) rows.set(row.stepId, row);
    for (const e of entries) {
      if (e.kind === "step_finished" || e.kind === "step_skipped") cursor = (e.data.next as string | null) ?? null;
      if (e.kind === "step_finished" && e.data.status === "succeeded" && stepsById.get(e.stepId ?? "")?.compensate) {
        compensable.push(e.stepId as string);
      }
      if (e.kind === "run_aborting") aborting = { reason: String(e.data.reason), status: e.data.status as RunStatus };
      if (e.kind === "compensation_finished" && e.stepId) compensated.add(e.stepId);
    }
    for (const [id, row] of rows) {
      if (row.status === "succeeded" || row.status === "failed" || row.status === "skipped") {
        scope.steps[id] = { status: row.status, outputs: row.outputs ?? {} };
      }
    }
    // Secret outputs were never journaled: a later step that needs one gets it by re-running
    // the (idempotent) producer; otherwise the run cannot continue faithfully.
    const remaining = new Set<string>();
    if (cursor)
      for (let i = stepsById.get(cursor)?.index ?? 0; i < playbook.steps.length; i++)
        remaining.add(playbook.steps[i]?.id as string);
    for (const id of remaining) {
      for (const ref of stepsById.get(id)?.refs ?? []) {
        if (ref.kind !== "output") continue;
        const producer = stepsById.get(ref.step);
        const value = scope.steps[ref.step]?.outputs[ref.name];
        if (producer && value === MASK && producer.secretOutputs.has(ref.name)) {
          const row = rows.get(ref.step);
          if (row?.idempotent && producer.index < (stepsById.get(cursor as string)?.index ?? 0)) cursor = producer.id;
          else if (!row?.idempotent) {
            const reason = `step "${id}" needs the secret output ${ref.text}, which is not journaled, and step "${ref.step}" is not idempotent; cancel this run and start a new one`;
            await record(null, "run_paused", { reason });
            await journal.updateRun(run.id, { status: "paused", error: reason });
            return { status: "paused", error: reason };
          }
        }
      }
    }
    const inFlight = [...rows.values()].find((r) => r.status === "running");
    if (inFlight && !aborting) {
      const decision = run.decision;
      if (inFlight.idempotent || decision === "retry") {
        cursor = inFlight.stepId;
        await record(
          inFlight.stepId,
          "step_resumed",
          { reason: inFlight.idempotent ? "idempotent" : "operator chose retry" },
          undefined,
          {
            status: "running",
            decision: null,
            error: null,
          },
        );
      } else if (decision === "skip") {
        const step = stepsById.get(inFlight.stepId) as CompiledStep;
        const next = playbook.steps[step.index + 1]?.id ?? null;
        scope.steps[step.id] = { status: "skipped", outputs: {} };
        cursor = next;
        await record(
          step.id,
          "step_skipped",
          { reason: "operator chose skip after a crash", next },
          { ...inFlight, status: "skipped", finishedAt: now() },
          {
            status: "running",
            decision: null,
            error: null,
          },
        );
      } else {
        const reason = `step "${inFlight.stepId}" (${inFlight.action}) was in flight when the run stopped and is not idempotent: resume with --retry or --skip, or cancel`;
        await record(inFlight.stepId, "run_paused", { reason });
        await journal.updateRun(run.id, { status: "paused", error: reason });
        return { status: "paused", error: reason };
      }
    } else {
      await record(null, "run_resumed", { next: cursor }, undefined, {
        status: "running",
        error: null,
        executor: run.executor,
      });
    }
  }

  // Poll the store for a cancel request and keep the heartbeat fresh while the run executes.
  let lastBeat = now();
  const control = setInterval(async () => {
    try {
      if (dryRun) return;
      const current = await journal.getRun(run.id);
      if (current?.cancelRequested && !cancel.signal.aborted) cancel.abort(new RunCancelled());
      if (now() - lastBeat >= 5000) {
        lastBeat = now();
        await journal.updateRun(run.id, { heartbeatAt: lastBeat });
      }
    } catch (err) {
      deps.log.warn({ err, run_id: run.id }, "ops control poll failed");
    }
  }, pollMs);

  const actionContext = (stepId: string, signal: AbortSignal, progressEntries: Promise<void>[]): ActionContext => ({
    config: deps.config,
    dataDir: deps.dataDir,
    log: deps.log.child({ run_id: run.id, step: stepId }),
    signal,
    runId: run.id,
    stepId,
    progress(text, fraction) {
      progressEntries.push(
        record(stepId, "step_progress", fraction === undefined ? { message: text } : { message: text, fraction }),
      );
    },
    server: deps.server,
    playbook: { name: playbook.name, shellAllowlist: playbook.shellAllowlist },
    async timeline() {
      return (await journal.entries(run.id)).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
    },
    awaitApprovals: (rule) => awaitApprovals(stepId, rule, signal),
  });

  let waitingShown = false;
  const awaitApprovals = async (stepId: string, rule: ApprovalRule, signal: AbortSignal): Promise<ApprovalRecord[]> => {
    for (;;) {
      const valid = (await journal.approvals(run.id, stepId)).filter(
        (a) =>
          (rule.approvers === undefined || rule.approvers.includes(a.approver)) &&
          (rule.role === undefined || a.roles.includes(rule.role)),
      );
      if (valid.length >= rule.minApprovals) {
        await record(stepId, "approval_granted", { approvers: valid.map((a) => a.approver) }, undefined, {
          status: "running",
        });
        return valid.map((a) => ({ approver: a.approver, roles: a.roles, at: new Date(a.at).toISOString() }));
      }
      if (!waitingShown) {
        waitingShown = true;
        await record(
          stepId,
          "approval_waiting",
          {
            approvers: rule.approvers ?? null,
            role: rule.role ?? null,
            min_approvals: rule.minApprovals,
            have: valid.length,
          },
          undefined,
          { status: "waiting_approval" },
        );
      }
      if (dryRun) throw new Error("approval gates wait only in real runs");
      await wait(pollMs, signal);
    }
  };

  /** Run one attempt of an action with the step's timeout; plan instead in a dry run. */
  const attempt = async (step: { id: string; action: AnyAction; timeoutMs: number }, input: unknown) => {
    const timeout = new AbortController();
    const signal = AbortSignal.any([cancel.signal, timeout.signal]);
    const timer = setTimeout(() => timeout.abort(new StepTimeout(step.timeoutMs)), step.timeoutMs);
    const progress: Promise<void>[] = [];
    const ctx = actionContext(step.id, signal, progress);
    try {
      const work = dryRun ? step.action.plan(input, ctx) : step.action.run(input, ctx);
      const aborted = new Promise<never>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      });
      aborted.catch(() => {});
      return (await Promise.race([work, aborted])) as Record<string, unknown> | Plan;
    } finally {
      clearTimeout(timer);
      await Promise.all(progress);
    }
  };

  const render = (value: unknown, lenient: boolean): unknown => {
    if (typeof value === "string")
      return value.includes("${{") ? renderTemplate(parseTemplate(value), scope, lenient) : value;
    if (Array.isArray(value)) return value.map((v) => render(v, lenient));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, render(v, lenient)]));
    }
    return value;
  };

  /** Execute one step with its retries; returns how it ended. */
  const executeStep = async (step: CompiledStep): Promise<{ status: "succeeded" | "failed"; error?: string }> => {
    const previous = rows.get(step.id);
    const row: StepRecord = {
      runId: run.id,
      stepId: step.id,
      index: step.index,
      action: step.action.name,
      status: "running",
      attempts: previous?.status === "running" ? previous.attempts : 0,
      idempotent: false,
      startedAt: now(),
      finishedAt: null,
      outputs: null,
      error: null,
    };
    const maxAttempts = (step.retry?.max ?? 0) + 1;
    let lastError = "";
    let started = false;
    for (let n = 1; n <= maxAttempts; n++) {
      if (cancel.signal.aborted) throw cancel.signal.reason;
      let input: unknown;
      try {
        const rendered = render(step.with, dryRun);
        const checked = step.action.input(rendered);
        if (checked instanceof type.errors) {
          if (dryRun && JSON.stringify(rendered).includes("<steps.")) {
            const summary = `${step.action.name} with inputs known only at run time: ${JSON.stringify(rendered)}`;
            return finishPlanned(step, row, { summary, changes: [] });
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
        await record(
          step.id,
          "step_started",
          { action: step.action.name, idempotent: row.idempotent, input: redactor.redact(input) },
          { ...row },
          { currentStep: step.id },
        );
      }
      await record(step.id, "attempt_started", { attempt: row.attempts }, { ...row });
      try {
        const result = await attempt(step, input);
        if (dryRun) return finishPlanned(step, row, result as Plan);
        const outputs = (result ?? {}) as Record<string, unknown>;
        for (const name of step.secretOutputs) redactor.addSecret(outputs[name]);
        scope.steps[step.id] = { status: "succeeded", outputs };
        const shown = redactor.redactKeys(outputs, step.secretOutputs);
        row.outputs = shown;
        await record(step.id, "step_output", { outputs: shown }, { ...row });
        return { status: "succeeded" };
      } catch (err) {
        if (cancel.signal.aborted) throw cancel.signal.reason;
        lastError = message(err);
        const retrying = n < maxAttempts && step.retry;
        const delay = retrying ? retryDelay(step.retry as RetryPolicy, n, random) : 0;
        row.error = lastError;
        await record(
          step.id,
          "attempt_failed",
          { attempt: row.attempts, error: lastError, ...(retrying ? { retry_in_ms: delay } : {}) },
          { ...row },
        );
        if (retrying) await wait(delay, cancel.signal);
      }
    }
    row.error = lastError;
    if (!started)
      await record(
        step.id,
        "step_started",
        { action: step.action.name, idempotent: false },
        { ...row },
        { currentStep: step.id },
      );
    return { status: "failed", error: lastError };
  };

  const finishPlanned = async (step: CompiledStep, row: StepRecord, plan: Plan) => {
    const shown = redactor.redact(plan);
    await record(step.id, "step_planned", { plan: shown }, { ...row, status: "planned" });
    scope.steps[step.id] = { status: "planned", outputs: {} };
    return { status: "succeeded" as const };
  };

  const compensate = async () => {
    for (const id of [...compensable].reverse()) {
      if (compensated.has(id)) continue;
      const step = stepsById.get(id) as CompiledStep;
      const spec = step.compensate;
      if (!spec) continue;
      const target = { id: step.id, action: spec.action, timeoutMs: spec.timeoutMs };
      await record(id, "compensation_started", { action: spec.action.name });
      try {
        const rendered = render(spec.with, false);
        const checked = spec.action.input(rendered);
        if (checked instanceof type.errors) throw new Error(`${spec.action.name}: ${checked.summary}`);
        // Compensation must run even when the run was cancelled: only its own timeout bounds it.
        const result = await runUncancellable(target, checked);
        const row = rows.get(id);
        await record(
          id,
          "compensation_finished",
          { status: "succeeded", outputs: redactor.redact(result) },
          row && { ...row, status: "compensated" },
        );
      } catch (err) {
        await record(id, "compensation_finished", { status: "failed", error: message(err) });
      }
      compensated.add(id);
    }
  };

  const runUncancellable = async (step: { id: string; action: AnyAction; timeoutMs: number }, input: unknown) => {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new StepTimeout(step.timeoutMs)), step.timeoutMs);
    const progress: Promise<void>[] = [];
    try {
      const ctx = actionContext(step.id, timeout.signal, progress);
      return dryRun ? await step.action.plan(input, ctx) : await step.action.run(input, ctx);
    } finally {
      clearTimeout(timer);
      await Promise.all(progress);
    }
  };

  let outcome: RunOutcome;
  try {
    let executions = 0;
    while (cursor !== null && !aborting) {
      const step = stepsById.get(cursor) as CompiledStep;
      if (++executions > MAX_STEP_EXECUTIONS) {
        aborting = { reason: `more than ${MAX_STEP_EXECUTIONS} step executions: a goto loop?`, status: "failed" };
        break;
      }
      if (cancel.signal.aborted) throw cancel.signal.reason;
      const natural = playbook.steps[step.index + 1]?.id ?? null;
      if (step.when !== undefined) {
        const value = render(step.when, dryRun);
        if (!truthy(value)) {
          scope.steps[step.id] = { status: "skipped", outputs: {} };
          const row: StepRecord = {
            runId: run.id,
            stepId: step.id,
            index: step.index,
            action: step.action.name,
            status: "skipped",
            attempts: 0,
            idempotent: true,
            startedAt: null,
            finishedAt: now(),
            outputs: null,
            error: null,
          };
          await record(step.id, "step_skipped", { reason: "when is false", next: natural }, row);
          cursor = natural;
          continue;
        }
      }
      const result = await executeStep(step);
      const row = rows.get(step.id) as StepRecord;
      const status = dryRun ? "planned" : result.status;
      let next: string | null = natural;
      if (result.status === "failed") {
        scope.steps[step.id] = { status: "failed", outputs: {} };
        if (step.onFailure.kind === "goto") next = step.onFailure.target;
        else if (step.onFailure.kind === "abort") next = null;
      } else if (step.compensate) compensable.push(step.id);
      await record(
        step.id,
        "step_finished",
        { status, next, ...(result.error ? { error: result.error } : {}) },
        { ...row, status, finishedAt: now(), error: result.error ?? null },
        { currentStep: null },
      );
      if (result.status === "failed" && step.onFailure.kind === "abort") {
        aborting = { reason: `step "${step.id}" failed: ${result.error}`, status: "failed" };
      }
      cursor = next;
    }
    if (aborting) {
      if (compensable.some((id) => !compensated.has(id))) {
        await record(null, "run_aborting", { reason: aborting.reason, status: aborting.status });
        await compensate();
      }
      outcome = { status: aborting.status, error: aborting.reason };
    } else {
      outcome = { status: "succeeded", error: null };
    }
  } catch (err) {
    if (!(err instanceof RunCancelled) && !(cancel.signal.aborted && err === cancel.signal.reason)) throw err;
    const current = [...rows.values()].find((r) => r.status === "running");
    if (current) {
      await record(
        current.stepId,
        "step_finished",
        { status: "failed", next: null, error: "cancelled" },
        { ...current, status: "failed", finishedAt: now(), error: "cancelled" },
      );
    }
    await record(null, "run_aborting", { reason: "cancelled by an operator", status: "cancelled" });
    await compensate();
    outcome = { status: "cancelled", error: "cancelled by an operator" };
  } finally {
    clearInterval(control);
    deps.signal.removeEventListener("abort", onOuterAbort);
  }
  await record(null, "run_finished", { status: outcome.status, error: outcome.error }, undefined, {
    status: outcome.status,
    finishedAt: now(),
    error: outcome.error && redactor.redact(outcome.error),
    currentStep: null,
  });
  return outcome;
}

/** Who is executing: this process. */
export function thisExecutor(nodeId?: string): RunRecord["executor"] {
  return { pid: process.pid, host: hostname(), ...(nodeId ? { nodeId } : {}) };
}
