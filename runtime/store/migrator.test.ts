import type { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, tempDataDir } from "../../tests/support/services.ts";
import { splitStatements } from "./migrations.ts";
import { createMigrator, MigrationError } from "./migrator.ts";
import { openSqliteDatabase, sqliteMigrationDriver } from "./sqlite.ts";

describe("splitStatements", () => {
  test("splits on drizzle-kit's breakpoint and drops comment-only pieces", () => {
    expect(
      splitStatements(
        "CREATE TABLE a (x int);\n--> statement-breakpoint\n-- just a note\n--> statement-breakpoint\nCREATE INDEX i ON a (x);\n",
      ),
    ).toEqual(["CREATE TABLE a (x int);", "CREATE INDEX i ON a (x);"]);
  });
});

describe("createMigrator on SQLite", () => {
  let dir: TempDir;
  let migrations: string;
  let db: Database;

  function write(files: Record<string, string>) {
    const tags = Object.keys(files)
      .filter((f) => f.endsWith(".sql") && !f.endsWith(".down.sql"))
      .map((f) => f.slice(0, -4))
      .sort();
    mkdirSync(join(migrations, "meta"), { recursive: true });
    writeFileSync(
      join(migrations, "meta", "_journal.json"),
      JSON.stringify({ version: "7", dialect: "sqlite", entries: tags.map((tag, idx) => ({ idx, tag })) }),
    );
    for (const [name, text] of Object.entries(files)) writeFileSync(join(migrations, name), text);
  }

  beforeEach(() => {
    dir = tempDataDir();
    migrations = join(dir.path, "migrations");
    db = openSqliteDatabase(join(dir.path, "core.db"), 1000);
  });
  afterEach(() => {
    db.close();
    dir.remove();
  });

  const tables = () =>
    db
      .query<{ name: string }, []>(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE '\\_\\_%' ESCAPE '\\' ORDER BY name",
      )
      .all()
      .map((r) => r.name);

  test("a failing migration leaves nothing of itself behind and stops the run", async () => {
    write({
      "0000_a.sql": "CREATE TABLE a (x int);",
      "0001_b.sql": "CREATE TABLE b (x int);\n--> statement-breakpoint\nCREATE TABLE a (x int);",
    });
    const migrator = createMigrator(sqliteMigrationDriver(db), migrations);
    await expect(migrator.apply()).rejects.toThrow(/0001_b\.sql failed/);
    expect(tables()).toEqual(["a"]);
    expect((await migrator.status()).map((s) => [s.tag, s.applied])).toEqual([
      ["0000_a", true],
      ["0001_b", false],
    ]);
  });

  test("rollback without a down file is refused and changes nothing", async () => {
    write({ "0000_a.sql": "CREATE TABLE a (x int);" });
    const migrator = createMigrator(sqliteMigrationDriver(db), migrations);
    expect(await migrator.apply()).toEqual(["0000_a"]);
    await expect(migrator.rollback()).rejects.toBeInstanceOf(MigrationError);
    await expect(migrator.rollback()).rejects.toThrow("0000_a.down.sql does not exist");
    expect(tables()).toEqual(["a"]);
  });

  test("status reports an edited up file as modified and an applied tag without a file as missing", async () => {
    write({ "0000_a.sql": "CREATE TABLE a (x int);", "0001_b.sql": "CREATE TABLE b (x int);" });
    const migrator = createMigrator(sqliteMigrationDriver(db), migrations);
    await migrator.apply();
    writeFileSync(join(migrations, "0000_a.sql"), "CREATE TABLE a (x int, y int);");
    rmSync(join(migrations, "0001_b.sql"));
    write({ "0000_a.sql": "CREATE TABLE a (x int, y int);" });
    expect((await migrator.status()).map((s) => [s.tag, s.problem])).toEqual([
      ["0000_a", "modified"],
      ["0001_b", "missing"],
    ]);
    await expect(migrator.apply()).rejects.toThrow(/0000_a changed after/);
  });

  test("status on a fresh database creates nothing", async () => {
    write({ "0000_a.sql": "CREATE TABLE a (x int);" });
    const migrator = createMigrator(sqliteMigrationDriver(db), migrations);
    expect(await migrator.status()).toEqual([{ tag: "0000_a", applied: false }]);
    expect(db.query("SELECT name FROM sqlite_schema").all()).toEqual([]);
  });
});
