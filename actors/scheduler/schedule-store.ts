/**
 * Where schedulers keep their state between processes: the `schedules` table (one row per
 * schedule), one repository for both dialects on drizzle's query builder (the style of
 * runtime/store/repo.ts) with its own connection to the server's database (SQLite) or its own pool
 * of two (PostgreSQL: schedulers write rarely).
 *
 * @example
 * const schedules = await openScheduleStore(ctx.store);
 * await schedules.save({ ...row, nextRunAt: new Date(Date.now() + 3_600_000) });
 * await schedules.close();
 */
import { eq } from "drizzle-orm";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import { schedules as postgresSchedules } from "./schedule-schema-postgres.ts";
import { schedules as sqliteSchedules } from "./schedule-schema-sqlite.ts";

/** The `schedules` table in each dialect. */
export const scheduleTables = dialectTables({
  sqlite: { schedules: sqliteSchedules },
  postgres: { schedules: postgresSchedules },
});

type Tables = typeof scheduleTables.postgres;

/** succeeded | failed | skipped (the previous run was still going) | missed (down when due, policy skip). */
export type ScheduleOutcome = "succeeded" | "failed" | "skipped" | "missed";

/** One schedule's persisted state: its row without the bookkeeping `updatedAt`. */
export type ScheduleRow = Omit<Tables["schedules"]["$inferSelect"], "updatedAt" | "lastOutcome"> & {
  lastOutcome: ScheduleOutcome | null;
};

export interface ScheduleStore {
  load(name: string): Promise<ScheduleRow | undefined>;
  /** Insert or replace the row of `row.name`. */
  save(row: ScheduleRow): Promise<void>;
  close(): Promise<void>;
}

/** {@link ScheduleStore} on a {@link Repo} of the server's database. */
export class SqlScheduleStore implements ScheduleStore {
  constructor(private readonly repo: Repo<Tables>) {}

  async load(name: string): Promise<ScheduleRow | undefined> {
    const { schedules } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(schedules).where(eq(schedules.name, name)));
    if (!row) return undefined;
    const { updatedAt: _, ...state } = row;
    return { ...state, lastOutcome: state.lastOutcome as ScheduleOutcome | null };
  }

  async save(row: ScheduleRow): Promise<void> {
    const { schedules } = this.repo.tables;
    const { name: _, ...state } = row;
    const set = { ...state, updatedAt: new Date() };
    await this.repo.write((db) =>
      db
        .insert(schedules)
        .values({ name: row.name, ...set })
        .onConflictDoUpdate({ target: schedules.name, set }),
    );
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The schedule store on the server's database (the migrations that create `schedules` ran when
 * the server opened its store, which also decided the dialect).
 *
 * @example
 * const schedules = await openScheduleStore(ctx.store);
 */
export async function openScheduleStore(store: Pick<Store, "openRepo">): Promise<ScheduleStore> {
  return new SqlScheduleStore(await store.openRepo(scheduleTables, { name: "schedules", maxConnections: 2 }));
}
