/**
 * Compensation: when a run aborts (a step failed with `on_failure: abort`, or an operator
 * cancelled), the `compensate` action of every step that succeeded runs in reverse order, once
 * each (a resumed run skips those already journaled as compensated). A cancel does not stop a
 * compensation; only its own timeout bounds it.
 *
 * @example
 * await compensate(session);
 */
import { type } from "arktype";
import type { CompiledStep } from "../playbook.ts";
import { message, type RunSession } from "./run-session.ts";
import { attemptAction } from "./step-attempt.ts";

export async function compensate(session: RunSession): Promise<void> {
  const { redactor } = session;
  for (const id of [...session.compensable].reverse()) {
    if (session.compensated.has(id)) continue;
    const step = session.stepsById.get(id) as CompiledStep;
    const spec = step.compensate;
    if (!spec) continue;
    const target = { id: step.id, action: spec.action, timeoutMs: spec.timeoutMs };
    await session.record(id, "compensation_started", { action: spec.action.name });
    try {
      const rendered = session.render(spec.with, false);
      const checked = spec.action.input(rendered);
      if (checked instanceof type.errors) throw new Error(`${spec.action.name}: ${checked.summary}`);
      const result = await attemptAction(session, target, checked, false);
      const row = session.rows.get(id);
      await session.record(
        id,
        "compensation_finished",
        { status: "succeeded", outputs: redactor.redact(result) },
        row && { ...row, status: "compensated" },
      );
    } catch (err) {
      await session.record(id, "compensation_finished", { status: "failed", error: message(err) });
    }
    session.compensated.add(id);
  }
}
