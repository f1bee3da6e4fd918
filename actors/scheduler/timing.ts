/**
 * When a schedule runs: a cron pattern (croner; minute resolution, optional seconds field and time
 * zone) or a fixed interval. Pure functions of "from", so tests step through them with any clock.
 *
 * @example
 * nextRunAfter({ cron: "0 * * * *" }, new Date("2026-11-28T10:15:00Z")); // 2026-11-28T11:00:00Z
 * nextRunAfter({ everyMs: 86_400_000 }, new Date("2026-11-28T10:15:00Z")); // 2026-11-29T10:15:00Z
 * describeTiming({ cron: "0 3 * * 0" }); // "cron 0 3 * * 0 (UTC)"
 */
import { Cron } from "croner";

export type Timing = { cron: string; timezone?: string } | { everyMs: number };

/** The first run strictly after `from`; throws on a pattern that never fires again. */
export function nextRunAfter(timing: Timing, from: Date): Date {
  if ("everyMs" in timing) {
    if (!(timing.everyMs > 0)) throw new RangeError("everyMs must be > 0");
    return new Date(from.getTime() + timing.everyMs);
  }
  // UTC as an offset of 0 rather than a zone: the same runs, without the Intl time-zone formatter
  // croner makes for a named zone (its first one costs ~20 ms, on the way to the first request).
  const zone =
    timing.timezone === undefined || timing.timezone === "UTC" ? { utcOffset: 0 } : { timezone: timing.timezone };
  const next = new Cron(timing.cron, { ...zone, paused: true }).nextRun(from);
  if (next === null) throw new Error(`cron pattern "${timing.cron}" has no run after ${from.toISOString()}`);
  return next;
}

/** A short human form for status pages. */
export function describeTiming(timing: Timing): string {
  if ("everyMs" in timing) {
    const hours = timing.everyMs / 3_600_000;
    return Number.isInteger(hours) ? `every ${hours}h` : `every ${timing.everyMs}ms`;
  }
  return `cron ${timing.cron} (${timing.timezone ?? "UTC"})`;
}
