/**
 * What an attempt's outcome means for its delivery, and when the next attempt is due: the
 * runbook's rules.
 *
 * - 2xx: delivered. 410 Gone: the receiver says the endpoint is gone for good; the endpoint is
 *   disabled (saying so) and the delivery dead-lettered. Anything else (3xx: redirects are never
 *   followed; 4xx; 5xx; a timeout, a refused or reset connection): a failure, retried.
 * - A failed delivery is retried after `min(base * 2^(attempt-1), max) + jitter` (1 s, 2 s, 4 s, 8 s,
 *   16 s ... 300 s by default; the jitter up to a tenth of the delay), or after the receiver's
 *   `Retry-After` (seconds or an HTTP date) when that is longer, up to {@link RETRY_AFTER_LIMIT_MS};
 *   after `maxRetries` retries it is dead-lettered.
 *
 * @example
 * const policy: RetryPolicy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 300_000 };
 * retryDelayMs(policy, 3, () => 0) // 4000: the third attempt failed, the fourth waits 4 s
 */

export interface RetryPolicy {
  maxRetries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** A receiver's Retry-After is honoured up to a day: beyond, the delivery waits a day. */
export const RETRY_AFTER_LIMIT_MS = 86_400_000;

/**
 * The delay before the attempt after the `attempt`-th failed one (the first attempt is 1).
 *
 * @example retryDelayMs({ maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 300_000 }, 1, () => 0) // 1000
 */
export function retryDelayMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const exponential = Math.min(policy.baseDelayMs * 2 ** Math.max(0, attempt - 1), policy.maxDelayMs);
  return exponential + random() * exponential * 0.1;
}

/**
 * A Retry-After header in milliseconds from `nowMs`: delta-seconds or an HTTP date; undefined when
 * absent or unreadable.
 *
 * @example retryAfterMs("120", 0) // 120000; retryAfterMs("Wed, 21 Oct 2015 07:28:00 GMT", Date.now())
 */
export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** What one attempt came to. */
export type AttemptVerdict = "delivered" | "gone" | "failed";

/**
 * The verdict of an HTTP status (no status: no answer at all, a failure).
 *
 * @example verdictOf(204) // "delivered"; verdictOf(302) // "failed"; verdictOf(410) // "gone"
 */
export function verdictOf(status: number | null): AttemptVerdict {
  if (status !== null && status >= 200 && status < 300) return "delivered";
  if (status === 410) return "gone";
  return "failed";
}

/**
 * After a failed attempt: dead-letter, or retry after how long. `attempt` counts from the last
 * manual retry (`attempts - retry_base`).
 *
 * @example afterFailure(policy, 6, undefined, Math.random) // { deadLetter: true } with maxRetries 5
 */
export function afterFailure(
  policy: RetryPolicy,
  attempt: number,
  retryAfter: number | undefined,
  random: () => number,
): { deadLetter: true } | { deadLetter: false; delayMs: number } {
  if (attempt > policy.maxRetries) return { deadLetter: true };
  const backoff = retryDelayMs(policy, attempt, random);
  const asked = retryAfter === undefined ? 0 : Math.min(retryAfter, RETRY_AFTER_LIMIT_MS);
  return { deadLetter: false, delayMs: Math.max(backoff, asked) };
}
