/**
 * An agent's circuit breaker. Closed: turns flow and consecutive failures are counted; at the
 * threshold it opens. Open: turns are refused until the cooldown has passed, then it is half-open.
 * Half-open: exactly one probe turn is let through; its success closes the breaker, its failure
 * opens it again for another cooldown. Time is the actor system's clock (monotonic ms).
 *
 * @example
 * const breaker = new CircuitBreaker({ failureThreshold: 5, cooldownMs: 60_000 }, clock);
 * const ticket = breaker.admit();           // "pass" | "probe" | "refused"
 * if (ticket !== "refused") { ...; breaker.recordSuccess(ticket) or breaker.recordFailure(ticket, message) }
 */
import type { Clock } from "../../runtime/actor/index.ts";

export type BreakerState = "closed" | "half_open" | "open";
export type Admission = "pass" | "probe" | "refused";

/** Gauge values of aragora_circuit_breaker_state. */
export const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, half_open: 1, open: 2 };

export interface BreakerSnapshot {
  state: BreakerState;
  /** Consecutive failures (reset by a success). */
  failures: number;
  lastFailure: { at: string; message: string } | null;
  /** Seconds until an open breaker lets a probe through; null unless open. */
  secondsUntilHalfOpen: number | null;
  probeInFlight: boolean;
}

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
}

export class CircuitBreaker {
  private current: BreakerState = "closed";
  private failures = 0;
  private openedAt = 0;
  private probing = false;
  private lastFailure: { at: string; message: string } | null = null;

  constructor(
    private readonly options: BreakerOptions,
    private readonly clock: Clock,
    restored?: BreakerSnapshot,
    /** Exact time left until half-open now (default: the snapshot's rounded seconds). */
    restoredMsUntilHalfOpen?: number,
  ) {
    if (restored !== undefined) {
      // A restarted actor keeps its breaker: a crash must not close an open circuit.
      this.current = restored.state === "half_open" ? "open" : restored.state;
      this.failures = restored.failures;
      this.lastFailure = restored.lastFailure;
      const left = Math.max(0, restoredMsUntilHalfOpen ?? (restored.secondsUntilHalfOpen ?? 0) * 1000);
      this.openedAt = clock.now() - (options.cooldownMs - Math.min(options.cooldownMs, left));
    }
  }

  /** The state now, moving open to half-open once the cooldown has passed. @example breaker.state // "closed" */
  get state(): BreakerState {
    if (this.current === "open" && this.clock.now() - this.openedAt >= this.options.cooldownMs) {
      this.current = "half_open";
    }
    return this.current;
  }

  /** Milliseconds until an open breaker turns half-open (0 when not open). @example breaker.msUntilHalfOpen() */
  msUntilHalfOpen(): number {
    return this.state === "open" ? Math.max(0, this.openedAt + this.options.cooldownMs - this.clock.now()) : 0;
  }

  /**
   * Asks to run a turn: "pass" when closed, "probe" for the single half-open trial, else "refused".
   *
   * @example
   * if (breaker.admit() === "refused") throw new AgentTurnError(agent, "circuit_open", "...");
   */
  admit(): Admission {
    const state = this.state;
    if (state === "closed") return "pass";
    if (state === "half_open" && !this.probing) {
      this.probing = true;
      return "probe";
    }
    return "refused";
  }

  /** A turn succeeded: failures reset; a successful probe closes the breaker. @example breaker.recordSuccess("probe"); */
  recordSuccess(ticket: Admission): void {
    if (ticket === "probe") this.probing = false;
    this.failures = 0;
    this.current = "closed";
  }

  /** A turn failed: counts towards the threshold; a failed probe reopens at once. @example breaker.recordFailure("pass", "HTTP 500"); */
  recordFailure(ticket: Admission, message: string): void {
    this.failures++;
    this.lastFailure = { at: new Date().toISOString(), message };
    if (ticket === "probe") {
      this.probing = false;
      this.openBreaker();
    } else if (this.current === "closed" && this.failures >= this.options.failureThreshold) {
      this.openBreaker();
    }
  }

  /** A turn ended without a verdict on the provider (cancelled): a probe slot is given back. @example breaker.release("probe"); */
  release(ticket: Admission): void {
    if (ticket === "probe") this.probing = false;
  }

  /** @example breaker.snapshot().state */
  snapshot(): BreakerSnapshot {
    const state = this.state;
    return {
      state,
      failures: this.failures,
      lastFailure: this.lastFailure,
      secondsUntilHalfOpen: state === "open" ? Math.ceil(this.msUntilHalfOpen() / 1000) : null,
      probeInFlight: this.probing,
    };
  }

  private openBreaker(): void {
    this.current = "open";
    this.openedAt = this.clock.now();
  }
}
