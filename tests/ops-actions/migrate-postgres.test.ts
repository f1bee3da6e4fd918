/**
 * migrate.status / apply / rollback on PostgreSQL (DATABASE_URL): the plan lists the PostgreSQL
 * migrations and changes nothing, apply creates the tables, status counts them, rollback undoes the
 * last one with its .down.sql, and apply restores it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { migrateApply, migrateRollback, migrateStatus } from "../../ops/actions/migrate.ts";
import { migrationsDir, readMigrations } from "../../runtime/store/migrations.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";
import { actionContext, treeChecksums } from "./context.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("migrate actions on PostgreSQL", () => {
  let db: TempDatabase;
  let dir: TempDir;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    dir = tempDataDir();
  });
  afterAll(async () => {
    await db?.drop();
    dir?.remove();
  });

  /** The public tables of the temporary database, sorted. */
  async function tables(): Promise<string[]> {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const rows = await sql<{ name: string }[]>`
        SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`;
      return rows.map((r) => r.name);
    } finally {
      await sql.end({ timeout: 1 });
    }
  }

  test("plan, apply, status, rollback and re-apply go through the Migrator on DATABASE_URL", async () => {
    const all = readMigrations(migrationsDir("postgres")).map((m) => m.tag);
    const last = all.at(-1) as string;
    const ctx = actionContext(dir.path, { env: { DATABASE_URL: db.url } });

    const plan = await migrateApply.plan({}, ctx);
    expect(plan.changes.map((c) => c.target)).toEqual(all);
    // The PostgreSQL files, not the SQLite ones.
    expect(plan.changes.map((c) => c.diff).join("\n")).toContain("timestamp (3) with time zone");
    expect(await migrateStatus.run({}, ctx)).toEqual({
      applied: 0,
      pending: all.length,
      problems: 0,
      last_applied: "",
    });
    // Nothing is created by a plan or a status, in the database or the data dir.
    expect(await tables()).toEqual([]);
    expect(treeChecksums(dir.path)).toEqual({ "./": "dir" });

    expect(await migrateApply.run({}, ctx)).toEqual({ applied: all.length, tags: all.join(",") });
    expect(await tables()).toContain("schedules");
    expect(await migrateStatus.run({}, ctx)).toEqual({
      applied: all.length,
      pending: 0,
      problems: 0,
      last_applied: last,
    });
    expect(await migrateApply.run({}, ctx)).toEqual({ applied: 0, tags: "" });

    const rollbackPlan = await migrateRollback.plan({}, ctx);
    expect(rollbackPlan.summary).toBe(`roll back ${last}`);
    const before = await tables();
    expect(await migrateRollback.run({}, ctx)).toEqual({ rolled_back: last });
    expect(await migrateStatus.run({}, ctx)).toMatchObject({ pending: 1, last_applied: all.at(-2) as string });
    // Back to the newest migration whose down script changes the tables (a data migration's does not).
    let undone = 1;
    while ((await tables()).join() === before.join() && undone < all.length) {
      expect(await migrateRollback.run({}, ctx)).toEqual({ rolled_back: all.at(-1 - undone) });
      undone++;
    }
    expect(await tables()).not.toEqual(before);
    expect(await migrateStatus.run({}, ctx)).toMatchObject({ pending: undone });

    expect(await migrateApply.run({}, ctx)).toEqual({ applied: undone, tags: all.slice(-undone).join(",") });
    expect(await tables()).toEqual(before);
  });
});
