/**
 * How the console writes times and numbers: one place, so every page says them the same way.
 *
 * @example when("2026-12-05T01:02:03Z"); // "5 Dec 2026, 01:02"
 */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

/** An ISO timestamp as a person reads it; "—" for none. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}
