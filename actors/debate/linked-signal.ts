/**
 * Abort signals for a debate's nested deadlines (debate, round, turn) that are released as soon as
 * their scope ends. `AbortSignal.any([...])` with `AbortSignal.timeout(ms)` costs ~7 us per turn
 * in Bun and leaves every turn's signal attached to the debate's signal and its timer armed until
 * the garbage collector finds them; a debate runs dozens of turns and a server thousands of debates.
 *
 * A linked signal aborts with its first parent's reason, or with a `TimeoutError` DOMException
 * (as AbortSignal.timeout does, which classifyFailure reports as a timeout) when its time is up.
 *
 * @example
 * const scope = new SignalScope();
 * const round = scope.link([cancel, debateDeadline], 120_000);
 * const turn = scope.link([round], 60_000);
 * try { await runTurn({ signal: turn }); } finally { scope.release(turn); }
 * scope.releaseAll(); // at the end of the debate
 */
import { type Clock, realClock, type TimerHandle } from "../../runtime/actor/clock.ts";

export class SignalScope {
  private readonly cleanups = new Map<AbortSignal, () => void>();

  /** Deadlines run on `clock` (the actor system's, so tests drive them without sleeping). */
  constructor(private readonly clock: Clock = realClock) {}

  /**
   * A signal that aborts when any parent does or after `ms` (none when null).
   *
   * @example const s = scope.link([parent], 5000);
   */
  link(parents: AbortSignal[], ms: number | null): AbortSignal {
    const controller = new AbortController();
    const { signal } = controller;
    const aborted = parents.find((p) => p.aborted);
    if (aborted) {
      controller.abort(aborted.reason);
      return signal;
    }
    let timer: TimerHandle | undefined;
    const cleanup = () => {
      if (timer !== undefined) this.clock.clearTimeout(timer);
      for (const p of parents) p.removeEventListener("abort", onParent);
      this.cleanups.delete(signal);
    };
    function onParent(this: AbortSignal) {
      cleanup();
      controller.abort(this.reason);
    }
    for (const p of parents) p.addEventListener("abort", onParent);
    if (ms !== null) {
      // Like AbortSignal.timeout, the real clock's pending deadline does not keep the process alive.
      timer = this.clock.setTimeout(() => {
        cleanup();
        controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
      }, ms);
    }
    this.cleanups.set(signal, cleanup);
    return signal;
  }

  /** Detach one signal from its parents and disarm its timer. @example scope.release(turnSignal) */
  release(signal: AbortSignal): void {
    this.cleanups.get(signal)?.();
  }

  /** Release every signal still linked. @example scope.releaseAll() */
  releaseAll(): void {
    for (const cleanup of [...this.cleanups.values()]) cleanup();
  }

  /** Signals still linked (for tests). */
  get size(): number {
    return this.cleanups.size;
  }
}
