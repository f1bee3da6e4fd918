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

/** Resolve after `ms`, or reject with the signal's reason when it aborts first. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
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
