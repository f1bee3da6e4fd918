/**
 * The migration that gives every debate a workspace, through `aragora migrate` on SQLite and on
 * PostgreSQL, on a database holding debates made before it: a debate of an organisation gets that
 * organisation's default workspace (not its other ones), the legacy owner's (`local`) stay in the
 * workspace `local` for the first organisation to adopt at start, and its down script takes the
 * column away again with the debates kept.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";
import { aragora } from "./cli.ts";
import { rollBackAfter } from "./roll-back.ts";

interface Target {
  env: () => Record<string, string>;
  /** Run statements against the database from outside the CLI. */
  sql: (statement: string) => Promise<void>;
  /** `id -> workspace_id` of every debate, or null when the column does not exist. */
  workspaces: () => Promise<Record<string, string> | null>;
  /** SQL for a boolean and an instant in this dialect. */
  yes: string;
  now: string;
}

const DEBATE_COLUMNS = "id, user_id, org_id, question, config, metadata, status, created_at, updated_at";

/** The migration under test: it adds `debates.workspace_id`, and its down script removes it. */
const WORKSPACE_MIGRATION = "0013_debates_by_workspace";

function scenario(target: Target) {
  test("existing debates get their organisation's default workspace; the down script removes the column", async () => {
    const apply = await aragora(["migrate", "apply"], target.env());
    expect(apply.code).toBe(0);
    // Back to the schema just before debates had workspaces (later migrations undone first).
    await rollBackAfter(target.env(), WORKSPACE_MIGRATION);
    expect((await aragora(["migrate", "rollback"], target.env())).stdout).toBe(`rolled back ${WORKSPACE_MIGRATION}\n`);
    expect(await target.workspaces()).toBeNull();
    const { yes, now } = target;
    await target.sql(`INSERT INTO organisations (id, name, created_at) VALUES ('o-acme', 'Acme', ${now})`);
    await target.sql(`INSERT INTO organisations (id, name, created_at) VALUES ('o-bare', 'No workspace', ${now})`);
    await target.sql(
      `INSERT INTO workspaces (id, org_id, name, is_default, created_at) VALUES ('w-acme-lab', 'o-acme', 'Lab', NOT ${yes}, ${now})`,
    );
    await target.sql(
      `INSERT INTO workspaces (id, org_id, name, is_default, created_at) VALUES ('w-acme', 'o-acme', 'Default workspace', ${yes}, ${now})`,
    );
    const debate = (id: string, org: string) =>
      target.sql(
        `INSERT INTO debates (${DEBATE_COLUMNS}) VALUES ('${id}', 'u-1', '${org}', 'Q?', '{}', '{}', 'completed', ${now}, ${now})`,
      );
    await debate("d-acme", "o-acme");
    await debate("d-legacy", "local");
    await debate("d-bare", "o-bare");

    const up = await aragora(["migrate", "apply"], target.env());
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`applied ${WORKSPACE_MIGRATION}`);
    expect(await target.workspaces()).toEqual({ "d-acme": "w-acme", "d-legacy": "local", "d-bare": "local" });

    // Down to before it again, its own down script through `aragora migrate rollback`: the debates
    // stay, without the column.
    await rollBackAfter(target.env(), WORKSPACE_MIGRATION);
    const down = await aragora(["migrate", "rollback"], target.env());
    expect({ code: down.code, stdout: down.stdout }).toEqual({
      code: 0,
      stdout: `rolled back ${WORKSPACE_MIGRATION}\n`,
    });
    expect(await target.workspaces()).toBeNull();
    expect((await aragora(["migrate", "apply"], target.env())).code).toBe(0);
    expect(Object.keys((await target.workspaces()) ?? {}).sort()).toEqual(["d-acme", "d-bare", "d-legacy"]);
  }, 120_000);
}

describe("the debates' workspace migration on SQLite", () => {
  const dir = tempDataDir();
  afterAll(() => dir.remove());
  const open = () => new Database(join(dir.path, "core.db"));
  scenario({
    env: () => ({ ARAGORA_DATA_DIR: dir.path }),
    sql: async (statement) => {
      const db = open();
      try {
        db.run(statement);
      } finally {
        db.close();
      }
    },
    workspaces: async () => {
      const db = open();
      try {
        const columns = db.query<{ name: string }, []>("SELECT name FROM pragma_table_info('debates')").all();
        if (!columns.some((c) => c.name === "workspace_id")) return null;
        const rows = db.query<{ id: string; workspace_id: string }, []>("SELECT id, workspace_id FROM debates").all();
        return Object.fromEntries(rows.map((r) => [r.id, r.workspace_id]));
      } finally {
        db.close();
      }
    },
    yes: "1",
    now: String(Date.now()),
  });
});

describe.skipIf(!(await postgresAvailable()))("the debates' workspace migration on PostgreSQL", () => {
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
    env: () => ({ DATABASE_URL: db.url }),
    sql: async (statement) => {
      await sql.unsafe(statement);
    },
    workspaces: async () => {
      const [column] = await sql`SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = 'debates' AND column_name = 'workspace_id'`;
      if (column === undefined) return null;
      const rows = await sql<{ id: string; workspace_id: string }[]>`SELECT id, workspace_id FROM debates`;
      return Object.fromEntries(rows.map((r) => [r.id, r.workspace_id]));
    },
    yes: "true",
    now: "now()",
  });
});
