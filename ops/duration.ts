/**
 * Durations as playbooks write them: `500ms`, `30s`, `5m`, `2h`, `1d`, or a bare number of
 * milliseconds. One parser so params, timeouts, retry delays and the `sleep` action agree.
 *
 * @example
 * parseDuration("1m30s"); // 90000
 * parseDuration("250");   // 250
 * parseDuration("soon");  // undefined
 */
import { type } from "arktype";
import { lazy } from "../schemas/lazy.ts";

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** Milliseconds for a duration string or number, or undefined when it is not one. */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  if (text === "") return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed = PART.lastIndex;
  }
  return consumed === text.length ? Math.round(total) : undefined;
}

/** Render milliseconds the short way a person reads them. @example formatDuration(90000) // "1m30s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const m = Math.floor(ms / 60_000);
  const s = Math.round((ms % 60_000) / 1000);
  return s === 0 ? `${m}m` : `${m}m${s}s`;
}

/** arktype for a duration value in a playbook: parses to milliseconds. */
export const Duration = lazy(() =>
  type("string | number")
    .pipe((value, ctx) => parseDuration(value) ?? ctx.error("a duration such as 500ms, 30s, 5m, 2h or 1d"))
    .describe("a duration such as 500ms, 30s, 5m, 2h or 1d"),
);
