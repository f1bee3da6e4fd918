/**
 * RunbookActor: one supervised actor per playbook run, under the `runbooks` supervisor. It owns
 * the run's execution (../interpreter.ts) and its cancel switch. If the execution fails for a
 * reason other than a step (the journal could not be written), the actor crashes; its supervisor
 * restarts it and the new incarnation resumes the run from the journal, as a restarted process would.
 * Stopping the actor (server shutdown) does not cancel the run: it stays resumable from the journal.
 *
 * @example
 * const ref = ctx.system.spawn(runbookActor({ ...deps, onDone }), { parent: runbooks, name: runId, restart: "transient" });
 * ref.tell({ type: "cancel" });
 */

import { executeRun, type RunDeps, type RunOutcome } from "../../ops/interpreter/index.ts";
import type { Behavior } from "../../runtime/actor/index.ts";

export type RunbookMsg =
  | { type: "cancel" }
  | { type: "finished"; outcome: RunOutcome }
  | { type: "crashed"; error: unknown };

interface RunbookState {
  controller: AbortController;
}

export interface RunbookActorOptions extends Omit<RunDeps, "signal"> {
  /** Called once with the outcome (a pause counts: the run waits for an operator). */
  onDone(outcome: RunOutcome): void;
  /** Crashes tolerated before the run is recorded as failed instead of restarted again. */
  maxCrashes?: number;
}

export function runbookActor(options: RunbookActorOptions): Behavior<RunbookMsg, RunbookState> {
  let incarnation = 0;
  const maxCrashes = options.maxCrashes ?? 3;
  return {
    kind: "runbook",
    init: () => ({ controller: new AbortController() }),
    preStart(state, ctx) {
      const mode = incarnation === 0 ? options.mode : "resume";
      incarnation++;
      executeRun({ ...options, mode, signal: state.controller.signal }).then(
        (outcome) => ctx.self.tell({ type: "finished", outcome }),
        (error: unknown) => ctx.self.tell({ type: "crashed", error }),
      );
      return state;
    },
    receive(state, msg, ctx) {
      switch (msg.type) {
        case "cancel":
          state.controller.abort();
          return state;
        case "finished":
          options.onDone(msg.outcome);
          ctx.stop();
          return state;
        case "crashed":
          if (incarnation > maxCrashes) {
            const error = `the interpreter crashed ${incarnation} times: ${String((msg.error as Error)?.message ?? msg.error)}`;
            options.log.error({ err: msg.error, run_id: options.run.id }, "runbook gave up");
            void options.journal
              .updateRun(options.run.id, { status: "failed", error, finishedAt: Date.now() })
              .finally(() => {
                options.onDone({ status: "failed", error });
              });
            ctx.stop();
            return state;
          }
          options.log.warn(
            { err: msg.error, run_id: options.run.id },
            "runbook crashed; restarting to resume from the journal",
          );
          throw msg.error;
      }
    },
  };
}
