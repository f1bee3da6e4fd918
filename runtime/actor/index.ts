/**
 * The actor kernel's public API. See ARCHITECTURE.md ("The actor kernel").
 *
 * @example
 * import { ActorSystem, behavior, supervisor } from "./runtime/actor/index.ts";
 * const system = new ActorSystem({ mailboxLimit: config.actorMailboxLimit });
 * const debates = system.spawn(supervisor(), { name: "debates", supervisor: { strategy: "one_for_one" } });
 * const d42 = system.spawn(debateBehavior, { parent: debates, name: "d-42", restart: "transient" });
 * d42.tell({ type: "start" });
 * await system.shutdown();
 */
export { ActorRef, type AskOptions, type Sender } from "./actor-ref.ts";
export {
  type ActorContext,
  type BackoffOptions,
  type Behavior,
  behavior,
  type RestartType,
  type SpawnOptions,
  type SupervisionStrategy,
  type SupervisorOptions,
  supervisor,
  type Terminated,
} from "./behavior.ts";
export { type Clock, realClock, SimulatedClock, type TimerHandle } from "./clock.ts";
export { type DeadLetter, DeadLetterOffice, type DeadLetterReason, messageTypeOf } from "./dead-letters.ts";
export { ActorStoppedError, AskTimeoutError, MailboxOverflowError, RestartIntensityError } from "./errors.ts";
export { type InspectEvent, type InspectListener, InspectStream, type StopReason } from "./inspect.ts";
export type { KernelCounters } from "./kernel-metrics.ts";
export type { OverflowPolicy } from "./mailbox.ts";
export { backoffDelay } from "./supervisor.ts";
export { ActorSystem, type ActorSystemOptions, type ActorTreeNode } from "./system.ts";
export { type TaskMsg, type TaskRun, type TaskSpec, taskActor } from "./task-actor.ts";
export { advance, settle } from "./testing.ts";
export type { ActorTimers } from "./timers.ts";
