/**
 * An actor that runs one long task (a debate, a playbook run) under supervision. Each incarnation
 * starts the task; the task's result ends the actor; a crash (the task rejects) goes to the
 * supervisor, which restarts the actor, whose next incarnation starts the task again (resuming
 * from whatever the task journals). After `maxRestarts` restarts the next crash is final:
 * `giveUp` records it (e.g. marks the debate failed) and the actor stops instead of restarting.
 * An `abort` message aborts the task's signal with its reason (a cancel, a shutdown).
 *
 * @example
 * const ref = system.spawn(
 *   taskActor({
 *     kind: "runbook",
 *     maxRestarts: 3,
 *     run: ({ signal, incarnation }) => executeRun({ ...deps, mode: incarnation === 0 ? "start" : "resume", signal }),
 *     onFinished: (outcome) => console.log(outcome.status),
 *     giveUp: (error, crashes) => journal.updateRun(id, { status: "failed", error: String(error) }),
 *   }),
 *   { parent: runbooks, name: id, restart: "transient" },
 * );
 * ref.tell({ type: "abort", reason: new Error("cancelled by an operator") });
 */
import type { Behavior } from "./behavior.ts";
import type { Clock } from "./clock.ts";

/** What others send a task actor; `started`, `finished` and `crashed` are its own. */
export type TaskMsg<R> =
  | { type: "abort"; reason: Error }
  | { type: "started" }
  | { type: "finished"; result: R }
  | { type: "crashed"; error: unknown };

export interface TaskRun {
  /** Aborted by an `abort` message (and by stopping the actor when `abortOnStop` is set). */
  signal: AbortSignal;
  /** 0 for the first start, then 1, 2, ... for each restart after a crash. */
  incarnation: number;
  /** The actor system's clock: timeouts of the task follow it, so tests drive them without sleeping. */
  clock: Clock;
}

export interface TaskSpec<R> {
  /** The actor's kind in the tree and inspect stream. */
  kind: string;
  run(task: TaskRun): Promise<R>;
  /** Restarts after crashes before a crash is final. */
  maxRestarts: number;
  /** Told once, with the task's result; the actor stops after it. */
  onFinished(result: R): void;
  /** Told on every crash, before the restart (or the give-up); `final` when no restart follows. */
  onCrashed?(error: unknown, crashes: number, final: boolean): void;
  /** The final crash: record it; the actor stops when it settles (its errors are its own to log). */
  giveUp(error: unknown, crashes: number): void | Promise<void>;
  /** When set, stopping the actor while the task runs aborts the task with this reason. */
  abortOnStop?: () => Error;
}

interface TaskState {
  controller: AbortController;
  running: boolean;
}

/** A supervised actor for one long task; see the module comment. */
export function taskActor<R>(spec: TaskSpec<R>): Behavior<TaskMsg<R>, TaskState> {
  // The behaviour object outlives restarts: these count across incarnations.
  let incarnation = 0;
  let crashes = 0;
  return {
    kind: spec.kind,
    init: () => ({ controller: new AbortController(), running: false }),
    preStart(state, ctx) {
      // Started from the mailbox, so spawn() has returned its ref before the task can end.
      ctx.self.tell({ type: "started" });
      return state;
    },
    async receive(state, msg, ctx) {
      switch (msg.type) {
        case "started": {
          if (state.running) return state;
          state.running = true;
          const run = { signal: state.controller.signal, incarnation: incarnation++, clock: ctx.system.clock };
          spec.run(run).then(
            (result) => ctx.self.tell({ type: "finished", result }),
            (error: unknown) => ctx.self.tell({ type: "crashed", error }),
          );
          return state;
        }
        case "abort":
          state.controller.abort(msg.reason);
          return state;
        case "finished":
          state.running = false;
          spec.onFinished(msg.result);
          ctx.stop();
          return state;
        case "crashed": {
          state.running = false;
          crashes++;
          const final = crashes > spec.maxRestarts;
          spec.onCrashed?.(msg.error, crashes, final);
          if (!final) throw msg.error;
          try {
            await spec.giveUp(msg.error, crashes);
          } catch {
            // A failing give-up must not restart what was given up; giveUp reports its own errors.
          }
          ctx.stop();
          return state;
        }
      }
    },
    postStop(state) {
      if (state.running && spec.abortOnStop) state.controller.abort(spec.abortOnStop());
    },
  };
}
