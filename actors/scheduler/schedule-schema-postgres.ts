/**
 * `schedules` for PostgreSQL: one row per scheduler (actors/scheduler); see ./schedule-schema-sqlite.ts.
 *
 * @example
 * import { schedules } from "./schedule-schema-postgres.ts";
 * db.select().from(schedules);
 */
import { bigint, integer, pgTable, text, timestamp } from "drizzle-orm/pg-core";

const instant = (name: string) => timestamp(name, { withTimezone: true, precision: 3, mode: "date" });

export const schedules = pgTable("schedules", {
  name: text("name").primaryKey(),
  nextRunAt: instant("next_run_at").notNull(),
  lastStartedAt: instant("last_started_at"),
  lastFinishedAt: instant("last_finished_at"),
  /** succeeded | failed | skipped (a run was still going) | missed (the server was down; policy skip). */
  lastOutcome: text("last_outcome"),
  lastError: text("last_error"),
  lastDurationMs: integer("last_duration_ms"),
  runs: integer("runs").notNull().default(0),
  failures: integer("failures").notNull().default(0),
  /** Items the job reported across all runs (receipts deleted, files removed ...). */
  items: bigint("items", { mode: "number" }).notNull().default(0),
  updatedAt: instant("updated_at").notNull(),
});
