/**
 * Where a resumed run goes on: the journal is read back into the session (step rows, outputs,
 * which steps can be compensated, whether it was aborting), then the first unfinished step is
 * chosen. A step that was in flight when the run stopped runs again only if it is idempotent or
 * an operator chose retry; skip moves past it; otherwise the run pauses for a decision. A later
 * step that needs a secret output (never journaled) gets it by re-running its idempotent producer.
 *
 * @example
 * const paused = await resumePlan(session); // undefined: go on from session.cursor
 */

import type { RunStatus } from "../journal.ts";
import type { CompiledStep } from "../playbook.ts";
import { MASK } from "../redact.ts";
import type { RunOutcome, RunSession } from "./run-session.ts";

/** Read the journal back into the session; the outcome when the run must pause instead. */
export async function resumePlan(session: RunSession): Promise<RunOutcome | undefined> {
  await replayJournal(session);
  const paused = await recoverSecretOutputs(session);
  if (paused) return paused;
  return decideInFlight(session);
}

async function replayJournal(session: RunSession): Promise<void> {
  const { journal, run, stepsById, rows, scope } = session;
  const entries = await journal.entries(run.id);
  session.seq = entries.at(-1)?.seq ?? 0;
  for (const row of await journal.steps(run.id)) rows.set(row.stepId, row);
  for (const e of entries) {
    if (e.kind === "step_finished" || e.kind === "step_skipped")
      session.cursor = (e.data.next as string | null) ?? null;
    if (e.kind === "step_finished" && e.data.status === "succeeded" && stepsById.get(e.stepId ?? "")?.compensate) {
      session.compensable.push(e.stepId as string);
    }
    if (e.kind === "run_aborting")
      session.aborting = { reason: String(e.data.reason), status: e.data.status as RunStatus };
    if (e.kind === "compensation_finished" && e.stepId) session.compensated.add(e.stepId);
  }
  for (const [id, row] of rows) {
    if (row.status === "succeeded" || row.status === "failed" || row.status === "skipped") {
      scope.steps[id] = { status: row.status, outputs: row.outputs ?? {} };
    }
  }
}

/**
 * Secret outputs were never journaled: a later step that needs one gets it by re-running the
 * (idempotent) producer; otherwise the run cannot continue faithfully and pauses.
 */
async function recoverSecretOutputs(session: RunSession): Promise<RunOutcome | undefined> {
  const { playbook, stepsById, rows, scope } = session;
  const remaining = new Set<string>();
  if (session.cursor)
    for (let i = stepsById.get(session.cursor)?.index ?? 0; i < playbook.steps.length; i++)
      remaining.add(playbook.steps[i]?.id as string);
  for (const id of remaining) {
    for (const ref of stepsById.get(id)?.refs ?? []) {
      if (ref.kind !== "output") continue;
      const producer = stepsById.get(ref.step);
      const value = scope.steps[ref.step]?.outputs[ref.name];
      if (producer && value === MASK && producer.secretOutputs.has(ref.name)) {
        const row = rows.get(ref.step);
        if (row?.idempotent && producer.index < (stepsById.get(session.cursor as string)?.index ?? 0))
          session.cursor = producer.id;
        else if (!row?.idempotent) {
          return session.pause(
            null,
            `step "${id}" needs the secret output ${ref.text}, which is not journaled, and step "${ref.step}" is not idempotent; cancel this run and start a new one`,
          );
        }
      }
    }
  }
  return undefined;
}

/** The step that was in flight when the run stopped: run it again, skip it, or pause for a decision. */
async function decideInFlight(session: RunSession): Promise<RunOutcome | undefined> {
  const { run, rows, stepsById, playbook, scope } = session;
  const inFlight = [...rows.values()].find((r) => r.status === "running");
  if (!inFlight || session.aborting) {
    await session.record(null, "run_resumed", { next: session.cursor }, undefined, {
      status: "running",
      error: null,
      executor: run.executor,
    });
    return undefined;
  }
  const decision = run.decision;
  if (inFlight.idempotent || decision === "retry") {
    session.cursor = inFlight.stepId;
    await session.record(
      inFlight.stepId,
      "step_resumed",
      { reason: inFlight.idempotent ? "idempotent" : "operator chose retry" },
      undefined,
      { status: "running", decision: null, error: null },
    );
    return undefined;
  }
  if (decision === "skip") {
    const step = stepsById.get(inFlight.stepId) as CompiledStep;
    const next = playbook.steps[step.index + 1]?.id ?? null;
    scope.steps[step.id] = { status: "skipped", outputs: {} };
    session.cursor = next;
    await session.record(
      step.id,
      "step_skipped",
      { reason: "operator chose skip after a crash", next },
      { ...inFlight, status: "skipped", finishedAt: session.now() },
      { status: "running", decision: null, error: null },
    );
    return undefined;
  }
  return session.pause(
    inFlight.stepId,
    `step "${inFlight.stepId}" (${inFlight.action}) was in flight when the run stopped and is not idempotent: resume with --retry or --skip, or cancel`,
  );
}
