/**
 * The inspect stream: lifecycle events that tests and the admin console subscribe to.
 * Emitters check {@link InspectStream.active} first, so with no listener no event object is built.
 */
import type { DeadLetter } from "./dead-letters.ts";

/** Why an actor stopped; carried by `stopped` events and Terminated messages. */
export type StopReason =
  /** It stopped itself (ctx.stop()) and its restart type did not call for a restart. */
  | "normal"
  /** Someone stopped it (ctx.stop(ref), system.stop(ref)). */
  | "stopped"
  /** Its supervisor stopped it: the parent stopped, escalated, or the system shut down. */
  | "shutdown"
  /** It crashed and was not restarted. */
  | "failed"
  /** It did not finish stopping within its shutdown timeout and was forced. */
  | "killed"
  /** It was already gone when watched. */
  | "noproc";

export type InspectEvent =
  | { type: "spawned"; path: string; kind: string; at: number }
  | { type: "failed"; path: string; kind: string; error: unknown; at: number }
  | { type: "restarted"; path: string; kind: string; restarts: number; at: number }
  | { type: "stopped"; path: string; kind: string; reason: StopReason; error?: unknown; at: number }
  | { type: "escalated"; path: string; error: unknown; at: number }
  | { type: "dead_letter"; letter: DeadLetter; at: number };

export type InspectListener = (event: InspectEvent) => void;

export class InspectStream {
  private readonly listeners = new Set<InspectListener>();

  /** True when someone listens; emitters skip building events otherwise. */
  get active(): boolean {
    return this.listeners.size > 0;
  }

  /**
   * Adds a listener; returns the function that removes it.
   *
   * @example
   * const off = system.inspect.subscribe((e) => { if (e.type === "restarted") console.log(e.path); });
   * off();
   */
  subscribe(listener: InspectListener): () => void {
    this.listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  /** @example system.inspect.unsubscribe(listener); */
  unsubscribe(listener: InspectListener): void {
    this.listeners.delete(listener);
  }

  /** Sends an event to every listener; listener errors are swallowed. @example stream.emit({ type: "escalated", path: "/system", error, at: 0 }); */
  emit(event: InspectEvent): void {
    for (const l of this.listeners) {
      // A broken listener (an admin console tab) must not break the kernel.
      try {
        l(event);
      } catch {}
    }
  }
}
