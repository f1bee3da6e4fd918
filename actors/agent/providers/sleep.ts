/**
 * Waiting on the actor system's clock, so retries, backoff and demo token pacing run on
 * simulated time in tests; every wait ends early when its signal aborts.
 *
 * @example
 * await sleep(system.clock, 500, request.signal); // rejects with signal.reason on abort
 */
import type { Clock } from "../../../runtime/actor/index.ts";

export function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal.reason);
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
