/**
 * PgPool against the real PostgreSQL server: an operation past its deadline fails as a lost
 * connection and the pool is replaced (the next one runs on fresh connections), and reads keep
 * answering while the server ends all of the pool's connections, wave after wave (a failover).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import { connectionLost, openPgPool, PgDeadlineExceeded, PgPool } from "../../runtime/store/pg-pool.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
  type TempDatabase,
} from "../support/services.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("PgPool", () => {
  let db: TempDatabase;
  let admin: postgres.Sql;
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  });
  afterAll(async () => {
    await admin.end({ timeout: 1 });
    await db.drop();
  });
  const name = () => new URL(db.url).pathname.slice(1);
  const endSessions = async () =>
    (
      await admin`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
        WHERE datname = ${name()} AND pid <> pg_backend_pid()`
    ).length;

  test("an operation past its deadline fails as a lost connection, and the pool is replaced", async () => {
    const replaced: string[] = [];
    let made = 0;
    const pool = new PgPool(
      () => {
        made++;
        return postgres(db.url, { max: 2, onnotice: () => {} });
      },
      { deadlineMs: 300, onReplaced: (why) => replaced.push(why) },
    );
    try {
      const started = performance.now();
      const err = await pool.run((sql) => sql`SELECT pg_sleep(5)`).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PgDeadlineExceeded);
      expect(connectionLost(err)).toBe(true);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(replaced).toEqual(["an operation ran past its 300 ms deadline"]);
      expect(made).toBe(2);
      // The next operation runs on the fresh pool and answers at once.
      const next = performance.now();
      expect(await pool.run(async (sql) => (await sql`SELECT 1 AS one`)[0]?.one)).toBe(1);
      expect(performance.now() - next).toBeLessThan(1000);
    } finally {
      await pool.end(1);
    }
  });

  test("while the server ends all of the pool's connections, wave after wave, every read answers", async () => {
    const pool = new PgPool(() => postgres(db.url, { max: 3, connect_timeout: 2, onnotice: () => {} }), {
      // A reconnect whose new session is ended during its handshake waits out connect_timeout.
      readRetryMs: 6000,
    });
    // An answer from the database is not a lost connection: it is not run again.
    let runs = 0;
    const syntax = await pool
      .read((sql) => {
        runs++;
        return sql`SELEC 1`;
      })
      .catch((e: unknown) => e);
    expect(connectionLost(syntax)).toBe(false);
    expect(runs).toBe(1);
    let ended = 0;
    let storming = true;
    // A failover, or a pooler restarting: every session ended at once, every 150 ms.
    const storm = (async () => {
      while (storming) {
        await Bun.sleep(150);
        ended += await endSessions();
      }
    })();
    try {
      const answers: number[] = [];
      const lost: unknown[] = [];
      const until = performance.now() + 1500;
      await Promise.all(
        [1, 2, 3].map(async (w) => {
          while (performance.now() < until) {
            answers.push(await pool.read(async (sql) => (await sql`SELECT ${w}::int AS w, pg_sleep(0.01)`)[0]?.w));
            // The same statement without read's retries, for contrast: it meets the lost connections.
            await pool.run((sql) => sql`SELECT 1`).catch((e: unknown) => lost.push(e));
          }
        }),
      );
      storming = false;
      await storm;
      expect(ended).toBeGreaterThan(3);
      expect(answers.length).toBeGreaterThan(10);
      expect(answers.every((a) => a === 1 || a === 2 || a === 3)).toBe(true);
      expect(lost.every(connectionLost)).toBe(true);
    } finally {
      storming = false;
      await storm;
      await pool.end(1);
    }
  }, 20_000);

  test("a pool's sessions name it in pg_stat_activity, with its session parameters kept", async () => {
    const pool = await openPgPool(db.url, { max: 1, connectTimeoutS: 5, name: "webhook-leases", lockTimeoutMs: 1500 });
    try {
      const [row] = await pool.run(
        (sql) => sql<{ app: string; lock: string }[]>`SELECT current_setting('application_name') AS app,
          current_setting('lock_timeout') AS lock`,
      );
      expect(row).toEqual({ app: "aragora webhook-leases", lock: "1500ms" });
      const seen = await admin<{ app: string }[]>`SELECT application_name AS app FROM pg_stat_activity
        WHERE datname = ${name()}`;
      expect(seen.map((r) => r.app)).toEqual(["aragora webhook-leases"]);
    } finally {
      await pool.end(1);
    }
  });
});
