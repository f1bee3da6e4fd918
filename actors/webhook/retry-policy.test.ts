import { expect, test } from "bun:test";
import { afterFailure, retryAfterMs, retryDelayMs, verdictOf } from "./retry-policy.ts";

const policy = { maxRetries: 5, baseDelayMs: 1000, maxDelayMs: 300_000 };

test("delays double from the base to the cap, with up to a tenth of jitter", () => {
  expect([1, 2, 3, 4, 5, 9, 10, 20].map((a) => retryDelayMs(policy, a, () => 0))).toEqual([
    1000, 2000, 4000, 8000, 16_000, 256_000, 300_000, 300_000,
  ]);
  expect(retryDelayMs(policy, 3, () => 0.999)).toBeCloseTo(4000 * 1.0999, 0);
});

test("five retries, then the dead-letter queue; Retry-After wins when longer, up to a day", () => {
  expect(afterFailure(policy, 5, undefined, () => 0)).toEqual({ deadLetter: false, delayMs: 16_000 });
  expect(afterFailure(policy, 6, undefined, () => 0)).toEqual({ deadLetter: true });
  expect(afterFailure(policy, 1, 120_000, () => 0)).toEqual({ deadLetter: false, delayMs: 120_000 });
  expect(afterFailure(policy, 4, 10, () => 0)).toEqual({ deadLetter: false, delayMs: 8000 });
  expect(afterFailure(policy, 1, 10 ** 12, () => 0)).toEqual({ deadLetter: false, delayMs: 86_400_000 });
});

test("Retry-After as seconds or an HTTP date; 2xx delivered, 410 gone, anything else failed", () => {
  expect(retryAfterMs("30", 0)).toBe(30_000);
  expect(retryAfterMs("Thu, 01 Jan 1970 00:01:00 GMT", 0)).toBe(60_000);
  expect(retryAfterMs("soon", 0)).toBeUndefined();
  expect(retryAfterMs(null, 0)).toBeUndefined();
  expect([200, 204, 299, 301, 302, 404, 410, 429, 500, null].map(verdictOf)).toEqual([
    "delivered",
    "delivered",
    "delivered",
    "failed",
    "failed",
    "failed",
    "gone",
    "failed",
    "failed",
    "failed",
  ]);
});
