/**
 * RunbookActor: one supervised task actor per playbook run, under the `runbooks` supervisor. It
 * owns the run's execution (ops/interpreter) and its cancel switch. If the execution fails for a
 * reason other than a step (the journal could not be written), the actor crashes; its supervisor
 * restarts it and the new incarnation resumes the run from the journal, as a restarted process would.
 * Stopping the actor (server shutdown) does not cancel the run: it stays resumable from the journal.
 *
 * @example
 * const ref = ctx.system.spawn(runbookActor({ ...deps, onDone }), { parent: runbooks, name: runId, restart: "transient" });
 * ref.tell(cancelRun());
 */

import { executeRun, type RunDeps, type RunOutcome } from "../../ops/interpreter/index.ts";
import { type Behavior, type TaskMsg, taskActor } from "../../runtime/actor/index.ts";

export type RunbookMsg = TaskMsg<RunOutcome>;

export interface RunbookActorOptions extends Omit<RunDeps, "signal"> {
  /** Called once with the outcome (a pause counts: the run waits for an operator). */
  onDone(outcome: RunOutcome): void;
  /** Crashes tolerated before the run is recorded as failed instead of restarted again. */
  maxCrashes?: number;
}

/** The message that cancels a run: its steps stop, compensation runs. @example ref.tell(cancelRun()) */
export const cancelRun = (): RunbookMsg => ({ type: "abort", reason: new Error("cancelled by an operator") });

export function runbookActor(options: RunbookActorOptions): Behavior<RunbookMsg, unknown> {
  return taskActor<RunOutcome>({
    kind: "runbook",
    maxRestarts: options.maxCrashes ?? 3,
    run: ({ signal, incarnation, clock }) =>
      executeRun({ ...options, mode: incarnation === 0 ? options.mode : "resume", signal, clock }),
    onFinished: (outcome) => options.onDone(outcome),
    onCrashed(err, _crashes, final) {
      if (!final)
        options.log.warn({ err, run_id: options.run.id }, "runbook crashed; restarting to resume from the journal");
    },
    async giveUp(err, crashes) {
      const error = `the interpreter crashed ${crashes} times: ${String((err as Error)?.message ?? err)}`;
      options.log.error({ err, run_id: options.run.id }, "runbook gave up");
      await options.journal
        .updateRun(options.run.id, { status: "failed", error, finishedAt: Date.now() })
        .catch((e: unknown) =>
          options.log.error({ err: e, run_id: options.run.id }, "could not record the run as failed"),
        );
      options.onDone({ status: "failed", error });
    },
  }) as Behavior<RunbookMsg, unknown>;
}
