/**
 * The days of a usage report as chart series: one point per UTC day from `from` to `to`, a day
 * without debates counted as zero (GET /api/billing/usage lists only the days that had some), x in
 * seconds since the epoch as uPlot reads it.
 *
 * @example
 * dailySeries("2026-12-01", "2026-12-03", [{ date: "2026-12-02", cost_usd: 0.5, ... }]).cost
 * // [0, 0.5, 0]
 */

/** One day of GET /api/billing/usage's `by_day`. */
export interface UsageDay {
  date: string;
  debates: number;
  input_tokens: number;
  output_tokens: number;
  tokens: number;
  cost_usd: number;
  estimated: boolean;
}

export interface DailySeries {
  /** Midnight UTC of each day, in seconds. */
  x: number[];
  dates: string[];
  cost: number[];
  input: number[];
  output: number[];
  debates: number[];
}

const DAY_S = 86_400;

/** `YYYY-MM-DD` of the UTC day `days` before today (0: today). */
export function daysAgo(days: number, now = Date.now()): string {
  return new Date(now - days * DAY_S * 1000).toISOString().slice(0, 10);
}

/** Every day from `from` to `to` (inclusive), zero where `days` has none. */
export function dailySeries(from: string, to: string, days: readonly UsageDay[]): DailySeries {
  const byDate = new Map(days.map((d) => [d.date, d]));
  const out: DailySeries = { x: [], dates: [], cost: [], input: [], output: [], debates: [] };
  const start = Date.parse(`${from}T00:00:00Z`) / 1000;
  const end = Date.parse(`${to}T00:00:00Z`) / 1000;
  for (let t = start; t <= end; t += DAY_S) {
    const date = new Date(t * 1000).toISOString().slice(0, 10);
    const day = byDate.get(date);
    out.x.push(t);
    out.dates.push(date);
    out.cost.push(day?.cost_usd ?? 0);
    out.input.push(day?.input_tokens ?? 0);
    out.output.push(day?.output_tokens ?? 0);
    out.debates.push(day?.debates ?? 0);
  }
  return out;
}
