/**
 * `aragora migrate status|apply|rollback` end to end, on SQLite (ARAGORA_DATA_DIR) and on a
 * throwaway PostgreSQL database (DATABASE_URL).
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { readMigrations } from "../../runtime/store/migrations.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";
import { aragora } from "./cli.ts";
import { rollBackAfter } from "./roll-back.ts";

const TAGS = readMigrations(join(import.meta.dir, "..", "..", "migrations", "sqlite")).map((m) => m.tag);
const PG_TAGS = readMigrations(join(import.meta.dir, "..", "..", "migrations", "postgres")).map((m) => m.tag);

interface StatusJson {
  store: string;
  migrations: { tag: string; applied: boolean; appliedAt?: string; problem?: string }[];
}

interface Target {
  env: () => Record<string, string>;
  /** Run one SQL statement against the target database from outside the CLI. */
  sql: (statement: string) => Promise<void>;
  /** Table names in the database (user tables only). */
  tables: () => Promise<string[]>;
  /** View names in the database. */
  views: () => Promise<string[]>;
  /** Appended to DROP TABLE: " CASCADE" where the dialect needs it for foreign keys. */
  dropSuffix: string;
  tags: string[];
}

async function status(target: Target): Promise<StatusJson> {
  const r = await aragora(["migrate", "status", "--json"], target.env());
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

function scenario(target: Target) {
  test("status on an empty database lists every migration as pending", async () => {
    const s = await status(target);
    expect(s.migrations.map((m) => m.tag)).toEqual(target.tags);
    expect(s.migrations.every((m) => !m.applied)).toBe(true);
  });

  test("apply applies every migration in order, then has nothing to do", async () => {
    const r = await aragora(["migrate", "apply"], target.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(target.tags.map((t) => `applied ${t}\n`).join(""));
    const again = await aragora(["migrate", "apply", "--json"], target.env());
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).applied).toEqual([]);
    const s = await status(target);
    expect(s.migrations.every((m) => m.applied && typeof m.appliedAt === "string")).toBe(true);
    expect(await target.tables()).toContain("nodes");
  });

  test("status prints a readable table", async () => {
    const r = await aragora(["migrate", "status"], target.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^MIGRATION\s+STATE\s+APPLIED AT$/m);
    for (const tag of target.tags) expect(r.stdout).toMatch(new RegExp(`^${tag}\\s+applied\\s+\\d{4}-`, "m"));
  });

  test("rollback undoes the last migration with its down file, one at a time", async () => {
    const last = target.tags.at(-1) as string;
    const r = await aragora(["migrate", "rollback"], target.env());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`rolled back ${last}\n`);
    const s = await status(target);
    expect(s.migrations.find((m) => m.tag === last)?.applied).toBe(false);
    expect(s.migrations.filter((m) => m.applied).length).toBe(target.tags.length - 1);

    const rollbackJson = async () => {
      const next = await aragora(["migrate", "rollback", "--json"], target.env());
      expect(next.code).toBe(0);
      return JSON.parse(next.stdout).rolledBack as string;
    };
    const first = target.tags[0] as string;
    expect(await rollbackJson()).toBe(target.tags.at(-2) as string);
    // The down files between, in this process (one `aragora migrate` each made this the slowest
    // store test), each checked to undo the last applied; the first through the command again.
    await rollBackAfter(target.env(), first);
    expect((await status(target)).migrations.filter((m) => m.applied).map((m) => m.tag)).toEqual([first]);
    expect(await rollbackJson()).toBe(first);
    expect(await target.tables()).not.toContain("nodes");
    const none = await aragora(["migrate", "rollback"], target.env());
    expect(none.code).toBe(0);
    expect(none.stdout).toContain("nothing to roll back");
  }, 120_000);

  test("apply after rollback re-applies everything", async () => {
    const r = await aragora(["migrate", "apply", "--json"], target.env());
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).applied).toEqual(target.tags);
    expect(await target.tables()).toContain("nodes");
  });

  test("an applied migration whose file changed is reported and blocks apply", async () => {
    const first = target.tags[0] as string;
    await target.sql(`UPDATE "__aragora_migrations" SET hash = 'not-the-file' WHERE tag = '${first}'`);
    const r = await aragora(["migrate", "status", "--json"], target.env());
    expect(r.code).toBe(1);
    const s = JSON.parse(r.stdout) as StatusJson;
    expect(s.migrations.find((m) => m.tag === first)?.problem).toBe("modified");
    expect(r.stderr).toContain(`${first}.sql changed after it was applied`);
    await aragora(["migrate", "rollback"], target.env());
    const apply = await aragora(["migrate", "apply"], target.env());
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(first);
  });

  test("two processes applying at once apply each migration exactly once", async () => {
    // Start from scratch: drop every view and table the migrations made, forget them, restore the
    // honest hash. (SQLite keeps a view whose table is dropped.)
    for (const view of await target.views()) await target.sql(`DROP VIEW IF EXISTS "${view}"`);
    for (const table of await target.tables()) {
      if (!table.startsWith("sqlite_")) await target.sql(`DROP TABLE IF EXISTS "${table}"${target.dropSuffix}`);
    }
    const [a, b] = await Promise.all([
      aragora(["migrate", "apply", "--json"], target.env()),
      aragora(["migrate", "apply", "--json"], target.env()),
    ]);
    expect([a.code, b.code, a.stderr, b.stderr]).toEqual([0, 0, "", ""]);
    const applied = [...JSON.parse(a.stdout).applied, ...JSON.parse(b.stdout).applied].sort();
    expect(applied).toEqual(target.tags);
  });
}

describe("aragora migrate on SQLite", () => {
  let dir: TempDir;
  beforeAll(() => {
    dir = tempDataDir();
  });
  afterAll(() => dir.remove());
  const dbPath = () => join(dir.path, "core.db");
  const schemaNames = async (type: "table" | "view") => {
    const db = new Database(dbPath(), { readonly: true });
    try {
      return db
        .query<{ name: string }, [string]>("SELECT name FROM sqlite_schema WHERE type = ?")
        .all(type)
        .map((r) => r.name);
    } finally {
      db.close();
    }
  };
  scenario({
    tags: TAGS,
    dropSuffix: "",
    env: () => ({ ARAGORA_DATA_DIR: dir.path }),
    sql: async (statement) => {
      const db = new Database(dbPath());
      try {
        db.run(statement);
      } finally {
        db.close();
      }
    },
    tables: () => schemaNames("table"),
    views: () => schemaNames("view"),
  });

  test("bad usage exits 2", async () => {
    expect((await aragora(["migrate"], { ARAGORA_DATA_DIR: dir.path })).code).toBe(2);
    expect((await aragora(["migrate", "sideways"], { ARAGORA_DATA_DIR: dir.path })).code).toBe(2);
    expect((await aragora(["migrate", "status", "--nope"], { ARAGORA_DATA_DIR: dir.path })).code).toBe(2);
    const help = await aragora(["migrate", "--help"], { ARAGORA_DATA_DIR: dir.path });
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: aragora migrate status|apply|rollback");
  });
});

describe.skipIf(!(await postgresAvailable()))("aragora migrate on PostgreSQL", () => {
  let db: TempDatabase;
  let sql: postgres.Sql;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    sql = postgres(db.url, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await sql.end({ timeout: 1 });
    await db.drop();
  });
  scenario({
    tags: PG_TAGS,
    dropSuffix: " CASCADE",
    env: () => ({ DATABASE_URL: db.url }),
    sql: async (statement) => {
      await sql.unsafe(statement);
    },
    tables: async () =>
      (await sql<{ name: string }[]>`SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`).map(
        (r) => r.name,
      ),
    views: async () =>
      (await sql<{ name: string }[]>`SELECT viewname AS name FROM pg_views WHERE schemaname = 'public'`).map(
        (r) => r.name,
      ),
  });
});
