/**
 * When to try a provider call again and how long to wait first. The provider's word wins:
 * `x-should-retry: false` stops, `x-should-retry: true` retries; `retry-after-ms` or `retry-after`
 * (seconds or an HTTP date) sets the wait, and a wait beyond the cap fails at once rather than
 * holding a debate seat hostage. Without a hint: exponential backoff with jitter.
 *
 * @example
 * const decision = retryDecision(failure, 1, { maxAttempts: 3, baseMs: 500, maxWaitMs: 60_000 }, Math.random);
 * if (decision.retry) await sleep(clock, decision.delayMs, signal);
 */
import type { ProviderFailure } from "./providers/failure.ts";

export interface RetryPolicy {
  /** Calls per turn, the first included. */
  maxAttempts: number;
  baseMs: number;
  /** Longest wait allowed, from a provider hint or from backoff. */
  maxWaitMs: number;
}

export type RetryDecision = { retry: true; delayMs: number } | { retry: false; reason: string };

/**
 * Decides on a retry after the `attempt`-th call (1-based) failed.
 *
 * @example
 * retryDecision({ ...failure, status: 429, retryAfterMs: 2000 }, 1, policy, () => 0.5); // { retry: true, delayMs: 2000 }
 */
export function retryDecision(
  failure: ProviderFailure,
  attempt: number,
  policy: RetryPolicy,
  random: () => number,
): RetryDecision {
  if (failure.kind === "aborted" || failure.kind === "timeout") return { retry: false, reason: failure.message };
  if (failure.kind === "quota") return { retry: false, reason: "quota exhausted" };
  if (failure.afterFirstToken) return { retry: false, reason: "the stream failed after the first token" };
  if (failure.shouldRetry === false) return { retry: false, reason: "the provider said x-should-retry: false" };
  if (!(failure.retryable || failure.shouldRetry === true)) return { retry: false, reason: "not retryable" };
  if (attempt >= policy.maxAttempts) return { retry: false, reason: `gave up after ${attempt} attempts` };
  if (failure.retryAfterMs !== undefined) {
    const wait = Math.max(0, failure.retryAfterMs);
    if (wait > policy.maxWaitMs) {
      return {
        retry: false,
        reason: `retry-after of ${Math.ceil(wait / 1000)} s exceeds the cap of ${Math.round(policy.maxWaitMs / 1000)} s`,
      };
    }
    return { retry: true, delayMs: wait };
  }
  return { retry: true, delayMs: backoffMs(attempt, policy, random) };
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so retries from
 * many seats spread out while each still waits a predictable minimum.
 *
 * @example
 * backoffMs(3, { maxAttempts: 5, baseMs: 500, maxWaitMs: 60_000 }, () => 0); // 1000 (step 2000, half fixed)
 */
export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number): number {
  const step = Math.min(policy.maxWaitMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
