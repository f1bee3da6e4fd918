/**
 * The migration that folds integrations' deliveries into the delivery engine's one table
 * (0021_delivery_engine), through `aragora migrate` on SQLite and on PostgreSQL, on a database
 * holding deliveries made before it: every webhook delivery stays with its attempts (SQLite
 * rebuilds the table: the attempts must survive it), every integration delivery moves over with
 * its id, state and attempt count as an `integration` target's; the down script puts the
 * integration's back in integration_deliveries and leaves the webhooks' as they were.
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
  sql: (statement: string) => Promise<void>;
  rows: (statement: string) => Promise<Record<string, unknown>[]>;
  /** Whether the table exists. */
  has: (table: string) => Promise<boolean>;
  yes: string;
  now: string;
}

/** The migration under test. */
const DELIVERY_ENGINE = "0021_delivery_engine";
const WH = "wh-00000000-0000-7000-8000-000000000001";
const WH_DLV = "dlv-00000000-0000-7000-8000-000000000002";
const INT = "int_AAAAAAAAAAAAAAAAAAAAAA";
const INT_DLV = "idl-00000000-0000-7000-8000-000000000003";

function scenario(target: Target) {
  test("webhook deliveries keep their attempts, integration deliveries move over; the down script moves them back", async () => {
    expect((await aragora(["migrate", "apply"], target.env())).code).toBe(0);
    // Back to the schema just before the delivery engine (later migrations undone first).
    await rollBackAfter(target.env(), DELIVERY_ENGINE);
    const back = await aragora(["migrate", "rollback"], target.env());
    expect({ code: back.code, stderr: back.stderr, stdout: back.stdout }).toEqual({
      code: 0,
      stderr: "",
      stdout: `rolled back ${DELIVERY_ENGINE}\n`,
    });
    expect(await target.has("integration_deliveries")).toBe(true);
    const { yes, now } = target;
    await target.sql(
      `INSERT INTO webhook_endpoints (id, org_id, url, event_types, description, enabled, secret, created_by, created_at, updated_at)
       VALUES ('${WH}', 'o-1', 'https://hooks.example.com/a', '[]', '', ${yes}, 'sealed', 'u-1', ${now}, ${now})`,
    );
    await target.sql(
      `INSERT INTO webhook_deliveries (id, endpoint_id, org_id, event_type, event_key, payload, state, attempts, retry_base, next_attempt_at, last_error, last_status, created_at, updated_at)
       VALUES ('${WH_DLV}', '${WH}', 'o-1', 'debate_end', 'd-1:9', '{"a": 1}', 'RETRYING', 2, 0, ${now}, 'HTTP 503', 503, ${now}, ${now})`,
    );
    for (const n of [1, 2]) {
      await target.sql(
        `INSERT INTO webhook_attempts (delivery_id, attempt, at, status, latency_ms, response_body, error)
         VALUES ('${WH_DLV}', ${n}, ${now}, 503, 12.5, 'busy', 'HTTP 503')`,
      );
    }
    await target.sql(
      `INSERT INTO integrations (id, org_id, kind, name, enabled, settings, credentials, created_by, created_at, updated_by, updated_at)
       VALUES ('${INT}', 'o-1', 'slack', 'alerts', ${yes}, '{}', 'sealed', 'u-1', ${now}, 'u-1', ${now})`,
    );
    await target.sql(
      `INSERT INTO integration_deliveries (id, integration_id, org_id, event_type, event_key, payload, state, attempts, next_attempt_at, last_error, last_status, created_at, updated_at)
       VALUES ('${INT_DLV}', '${INT}', 'o-1', 'debate_end', 'd-1:9', '{"debate_id": "d-1"}', 'DEAD_LETTERED', 3, ${now}, 'invalid_blocks', 400, ${now}, ${now})`,
    );

    expect((await aragora(["migrate", "apply"], target.env())).code).toBe(0);
    expect(await target.has("integration_deliveries")).toBe(false);
    const folded = await target.rows(
      "SELECT id, endpoint_id, target_kind, state, attempts, retry_base, last_error, last_status, payload FROM webhook_deliveries ORDER BY id",
    );
    expect(folded).toEqual([
      {
        id: WH_DLV,
        endpoint_id: WH,
        target_kind: "webhook",
        state: "RETRYING",
        attempts: 2,
        retry_base: 0,
        last_error: "HTTP 503",
        last_status: 503,
        payload: '{"a": 1}',
      },
      {
        id: INT_DLV,
        endpoint_id: INT,
        target_kind: "integration",
        state: "DEAD_LETTERED",
        attempts: 3,
        retry_base: 0,
        last_error: "invalid_blocks",
        last_status: 400,
        payload: '{"debate_id": "d-1"}',
      },
    ]);
    expect(await target.rows("SELECT delivery_id, attempt FROM webhook_attempts ORDER BY attempt")).toEqual([
      { delivery_id: WH_DLV, attempt: 1 },
      { delivery_id: WH_DLV, attempt: 2 },
    ]);

    // Down: the integration's delivery is back where it was, the webhook's stays with its attempts.
    await rollBackAfter(target.env(), DELIVERY_ENGINE);
    expect((await aragora(["migrate", "rollback"], target.env())).stdout).toBe(`rolled back ${DELIVERY_ENGINE}\n`);
    expect(
      await target.rows("SELECT id, integration_id, state, attempts, last_error FROM integration_deliveries"),
    ).toEqual([
      { id: INT_DLV, integration_id: INT, state: "DEAD_LETTERED", attempts: 3, last_error: "invalid_blocks" },
    ]);
    expect(await target.rows("SELECT id, endpoint_id, state, attempts FROM webhook_deliveries")).toEqual([
      { id: WH_DLV, endpoint_id: WH, state: "RETRYING", attempts: 2 },
    ]);
    expect(await target.rows("SELECT delivery_id, attempt FROM webhook_attempts ORDER BY attempt")).toEqual([
      { delivery_id: WH_DLV, attempt: 1 },
      { delivery_id: WH_DLV, attempt: 2 },
    ]);
    // And up again, to where the server runs.
    expect((await aragora(["migrate", "apply"], target.env())).code).toBe(0);
    expect(
      (await target.rows("SELECT target_kind FROM webhook_deliveries ORDER BY id")).map((r) => r.target_kind),
    ).toEqual(["webhook", "integration"]);
  }, 120_000);
}

describe("the delivery engine's migration on SQLite", () => {
  const dir = tempDataDir();
  afterAll(() => dir.remove());
  const withDb = <T>(use: (db: Database) => T): T => {
    const db = new Database(join(dir.path, "core.db"));
    try {
      return use(db);
    } finally {
      db.close();
    }
  };
  scenario({
    env: () => ({ ARAGORA_DATA_DIR: dir.path }),
    sql: async (statement) => withDb((db) => void db.run(statement)),
    rows: async (statement) => withDb((db) => db.query<Record<string, unknown>, []>(statement).all()),
    has: async (table) =>
      withDb((db) => db.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== null),
    yes: "1",
    now: String(Date.now()),
  });
});

describe.skipIf(!(await postgresAvailable()))("the delivery engine's migration on PostgreSQL", () => {
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
    rows: async (statement) => [...(await sql.unsafe(statement))] as Record<string, unknown>[],
    has: async (table) =>
      (await sql`SELECT 1 FROM information_schema.tables WHERE table_schema = 'public' AND table_name = ${table}`)
        .length > 0,
    yes: "true",
    now: "now()",
  });
});
