/**
 * postgres.js 3.4.9 when the server ends a session at the worst moment (pg_terminate_backend from
 * another connection, at a point of the wire protocol chosen through a proxy), and after an error
 * in the middle of a result. Each case was a bug in the driver, fixed in patches/postgres@3.4.9.patch:
 * - the session ended during the first query on a connection (the one fetching array type oids):
 *   an unhandled rejection, and the user's statement failed with the stale error later;
 * - a statement issued just as the session ended stayed in the write buffer, and the next
 *   connection sent it ahead of its startup message, or nothing at all: CONNECT_TIMEOUT;
 * - a row counter not reset after an error: the next result started with holes;
 * - a transaction whose connection was lost still took statements, which ran on the reconnected
 *   session outside any transaction.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import postgres from "postgres";
import { connectionLost } from "../../runtime/store/pg-pool.ts";
import { startPgProxy } from "../support/pg-proxy.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
  type TempDatabase,
} from "../support/services.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("postgres.js when sessions end", () => {
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

  async function waitFor(check: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
    const until = performance.now() + timeoutMs;
    while (!(await check())) {
      if (performance.now() > until) throw new Error(`not true within ${timeoutMs} ms`);
      await Bun.sleep(10);
    }
  }

  /**
   * Collects unhandled rejections while `run` runs (and a moment after, for late ones). bun test
   * also fails the running test on one.
   */
  async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
    const seen: unknown[] = [];
    const onUnhandled = (reason: unknown) => seen.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      await run();
      await Bun.sleep(100);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    return seen;
  }

  test("the session ends during the array-types query: nothing unhandled, the statement runs on the next session", async () => {
    const proxy = await startPgProxy(db.url, admin);
    const sql = postgres(proxy.url, { max: 1, connect_timeout: 5, onnotice: () => {} });
    try {
      const cut = proxy.cutWhenClientSends("typarray");
      let answer: unknown;
      const unhandled = await unhandledDuring(async () => {
        answer = await sql`SELECT ${[1, 2]}::int[] AS a`.then(
          (rows) => rows[0]?.a,
          (err: unknown) => err,
        );
        await cut;
      });
      expect(proxy.cuts).toBe(1);
      expect(unhandled).toEqual([]);
      // The statement never reached the ended session; it ran on the next one, whose array
      // types were fetched (the array comes back parsed).
      expect(answer).toEqual([1, 2]);
      expect((await sql`SELECT ${[3]}::int[] AS a`)[0]?.a).toEqual([3]);
    } finally {
      await sql.end({ timeout: 1 });
      proxy.stop();
    }
  });

  test("a statement in flight when its session ends fails as a lost connection; the next one runs on the next session", async () => {
    const proxy = await startPgProxy(db.url, admin);
    const sql = postgres(proxy.url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      const cut = proxy.cutWhenClientSends("in_flight");
      const first = await sql`SELECT ${"x"}::text AS in_flight`.catch((e: unknown) => e);
      await cut;
      expect(proxy.cuts).toBe(1);
      expect(connectionLost(first)).toBe(true);
      // Before the fix the old session's 57P01 stayed behind and failed this statement on the
      // next, healthy session.
      expect((await sql`SELECT 2 AS two`)[0]?.two).toBe(2);
    } finally {
      await sql.end({ timeout: 1 });
      proxy.stop();
    }
  });

  test("bytes buffered for a session that ended are not sent to the next one: it answers at once", async () => {
    const target = new URL(db.url);
    let closeOnFatal = false;
    // postgres.js's typings leave out its `socket` option (a function returning a connected socket).
    const socketOption: object = {
      // A plain socket, except that it closes right after the data holding the session's FATAL,
      // before any setImmediate, as Node's does when those bytes and the FIN come in one read.
      // The driver has then just buffered a Sync for the cursor the FATAL interrupted.
      socket: () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect(Number(target.port || 5432), target.hostname);
          socket.once("connect", () => resolve(socket));
          socket.once("error", reject);
          const emit = socket.emit.bind(socket) as (event: string, ...args: unknown[]) => boolean;
          socket.emit = ((event: string, ...args: unknown[]) => {
            const handled = emit(event, ...args);
            if (event === "data" && closeOnFatal && Buffer.from(args[0] as Buffer).includes("57P01")) {
              socket.destroy();
              // Bun's own 'close' comes a turn later; Node's can come before the next setImmediate.
              process.nextTick(() => emit("close", false));
            }
            return handled;
          }) as typeof socket.emit;
        }),
    };
    const sql = postgres(db.url, { max: 1, connect_timeout: 2, onnotice: () => {}, ...socketOption });
    try {
      const [me] = await sql`SELECT pg_backend_pid() AS pid`;
      closeOnFatal = true;
      const reading = (async () => {
        for await (const _ of sql`SELECT pg_sleep(10) AS slept`.cursor(1)) {
          // never reached: the session ends during the sleep
        }
      })().catch((e: unknown) => e);
      await waitFor(
        async () =>
          (await admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${me?.pid} AND state = 'active'`).length > 0,
      );
      await admin`SELECT pg_terminate_backend(${me?.pid})`;
      expect(connectionLost(await reading)).toBe(true);
      closeOnFatal = false;
      // Before the fix the buffered Sync went ahead of the next startup message, or held it back:
      // this waited out connect_timeout and failed with CONNECT_TIMEOUT.
      const started = performance.now();
      expect((await sql`SELECT 2 AS two`)[0]?.two).toBe(2);
      expect(performance.now() - started).toBeLessThan(1500);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test("an error after some rows: the next statement's result has only its own rows", async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      // Rows for i = 1 and 2 are sent before the division by zero at i = 3.
      const err = await sql`SELECT 1 / (3 - i) AS q FROM generate_series(1, 5) AS i`.catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe("22012");
      const rows = await sql`SELECT 7 AS seven`;
      expect(rows.length).toBe(1);
      expect([...rows]).toEqual([{ seven: 7 }]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });

  test("a transaction whose session ended refuses later statements; none of them runs outside it", async () => {
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      await sql`CREATE TABLE IF NOT EXISTS dead_tx (n int)`;
      let after: unknown = "not run";
      let tail: Promise<void> = Promise.resolve();
      const outcome = await sql
        .begin(async (tx) => {
          const [me] = await tx`SELECT pg_backend_pid() AS pid`;
          await tx`INSERT INTO dead_tx VALUES (1)`;
          await admin`SELECT pg_terminate_backend(${me?.pid})`;
          // begin settles as soon as the connection closes; the callback goes on regardless.
          tail = (async () => {
            await tx`INSERT INTO dead_tx VALUES (2)`.catch(() => {});
            // Another caller's statement reconnects the pool's only connection meanwhile.
            await sql`SELECT 1`;
            // The transaction is gone: this must not run, least of all on the new session in autocommit.
            after = await tx`INSERT INTO dead_tx VALUES (3)`.then(
              () => "ran",
              (e: unknown) => e,
            );
          })();
          await tail;
        })
        .then(
          () => "committed",
          (e: unknown) => e,
        );
      await tail;
      expect(connectionLost(outcome)).toBe(true);
      expect(connectionLost(after)).toBe(true);
      expect([...(await sql`SELECT n FROM dead_tx ORDER BY n`)]).toEqual([]);
    } finally {
      await sql.end({ timeout: 1 });
    }
  });
});
