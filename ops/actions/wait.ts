/**
 * `wait`: wait until `duration` has passed since this step first started. Unlike `sleep`, the
 * start is taken from the run's journal, so a long wait (the key rotation's grace period of days)
 * interrupted by a crash or a restart goes on, after `ops resume`, from where it was, not from
 * zero. Honours cancel and the step timeout (give it one longer than the duration).
 *
 * @example
 * - id: grace
 *   action: wait
 *   with: { duration: "${{ params.grace }}" }
 *   timeout: 400d
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";
import { Duration, formatDuration } from "../duration.ts";
import { stepFirstStarted } from "./key-rotation.ts";
import { abortableSleep } from "./sleep.ts";

const Input = lazy(() => type({ "+": "reject", duration: Duration }));

export const waitAction: ActionDefinition<typeof Input.infer, { until: string }> = {
  name: "wait",
  description: "wait until a duration has passed since the step first started (kept across crashes and resumes)",
  input: Input,
  outputs: ["until"],
  idempotent: true,
  async plan(input) {
    return { summary: `wait ${formatLong(input.duration)} from the step's start`, changes: [] };
  },
  async run(input, ctx) {
    const until = new Date((await stepFirstStarted(ctx)).getTime() + input.duration);
    const left = until.getTime() - Date.now();
    if (left > 0) {
      ctx.progress(`waiting until ${until.toISOString()} (${formatLong(left)} left)`);
      await abortableSleep(left, ctx.signal);
    }
    return { until: until.toISOString() };
  },
};

/** Days and hours for long waits, formatDuration below a day. @example formatLong(7 * 86_400_000) // "7d" */
function formatLong(ms: number): string {
  if (ms < 86_400_000) return formatDuration(ms);
  const d = Math.floor(ms / 86_400_000);
  const h = Math.round((ms % 86_400_000) / 3_600_000);
  return h === 0 ? `${d}d` : `${d}d${h}h`;
}
