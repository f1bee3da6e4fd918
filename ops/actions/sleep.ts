/**
 * `sleep`: wait a while (let a server settle, space out probes). Honours cancel and the step timeout.
 *
 * @example
 * - id: settle
 *   action: sleep
 *   with: { duration: 5s }
 *   timeout: 10s
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { Duration, formatDuration } from "../duration.ts";

const SleepInput = lazy(() => type({ duration: Duration, "+": "reject" }));

/** The longest delay one host timer takes (2^31-1 ms); longer sleeps are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Resolve after `ms` (days too), or reject with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const due = Date.now() + ms;
    let timer: ReturnType<typeof setTimeout>;
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const arm = () => {
      const left = due - Date.now();
      timer = setTimeout(
        () => {
          if (left > MAX_TIMER_MS) return arm();
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
        Math.max(0, Math.min(left, MAX_TIMER_MS)),
      );
    };
    arm();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export const sleepAction: ActionDefinition<typeof SleepInput.infer, Record<string, never>> = {
  name: "sleep",
  description: "wait for a duration (500ms, 30s, 5m ...)",
  input: SleepInput,
  outputs: [],
  idempotent: true,
  async plan(input) {
    return { summary: `wait ${formatDuration(input.duration)}`, changes: [] };
  },
  async run(input, ctx) {
    await abortableSleep(input.duration, ctx.signal);
    return {};
  },
};
