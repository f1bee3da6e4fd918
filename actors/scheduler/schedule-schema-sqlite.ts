/**
 * `schedules` for SQLite: one row per scheduler (actors/scheduler). `next_run_at` is persisted so a
 * server that was down when a run was due notices it on start and applies the schedule's missed-run
 * policy; the last run's outcome and the running totals back GET /api/admin/schedulers.
 * Keep in agreement with ./schedule-schema-postgres.ts.
 *
 * @example
 * import { schedules } from "./schedule-schema-sqlite.ts";
 * db.select().from(schedules).where(eq(schedules.name, "backup"));
 */
import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const schedules = sqliteTable("schedules", {
  name: text("name").primaryKey(),
  // Milliseconds since the epoch, like nodes: comparable as numbers in the sqlite3 shell.
  nextRunAt: integer("next_run_at", { mode: "timestamp_ms" }).notNull(),
  lastStartedAt: integer("last_started_at", { mode: "timestamp_ms" }),
  lastFinishedAt: integer("last_finished_at", { mode: "timestamp_ms" }),
  /** succeeded | failed | skipped (a run was still going) | missed (the server was down; policy skip). */
  lastOutcome: text("last_outcome"),
  lastError: text("last_error"),
  lastDurationMs: integer("last_duration_ms"),
  runs: integer("runs").notNull().default(0),
  failures: integer("failures").notNull().default(0),
  /** Items the job reported across all runs (receipts deleted, files removed ...). */
  items: integer("items").notNull().default(0),
  updatedAt: integer("updated_at", { mode: "timestamp_ms" }).notNull(),
});
