/**
 * A postgres.js pool with a deadline on every operation. postgres.js 3.4.9 can leave a statement
 * waiting forever after the server ends its connections (a failover, a pooler restart,
 * pg_terminate_backend): a reconnect whose new backend is ended too stalls for `connect_timeout`,
 * and again, or for good (seen here with sessions ended every 30 ms: statements stuck past 45 s).
 * So an operation that misses its deadline fails with {@link PgDeadlineExceeded}, a lost-connection
 * error like the driver's own (callers retry reads and reconcile writes the same way), and the pool
 * it ran on is replaced by a fresh one: whatever hung there is ended with it.
 *
 * @example
 * const pool = new PgPool(() => postgres(url, { max: 4 }), { deadlineMs: 10_000 });
 * const rows = await pool.run((sql) => sql`SELECT 1 AS one`);
 * await pool.end();
 */
import type postgres from "postgres";
import { withDeadline } from "../deadline.ts";
import type { Logger } from "../log.ts";

/** An operation ran past its deadline; its pool was replaced. */
export class PgDeadlineExceeded extends Error {
  override name = "PgDeadlineExceeded";
  readonly code = "CONNECTION_DEADLINE";
}

/**
 * Codes of a statement whose connection was lost under it: postgres.js's own, the socket's,
 * PostgreSQL's 57P0x (the server ended the session) and 08xxx, and {@link PgDeadlineExceeded}'s.
 */
const CONNECTION_LOST = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "CONNECTION_DEADLINE",
  "ECONNRESET",
  "EPIPE",
  "ECONNREFUSED",
  "57P01",
  "57P02",
  "57P03",
  "08000",
  "08003",
  "08006",
]);

/**
 * Whether `err` is a lost connection rather than an answer from the database: the statement may
 * or may not have run.
 *
 * @example if (connectionLost(err)) return pool.read(op);
 */
export function connectionLost(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && CONNECTION_LOST.has(code);
}

export interface PgPoolOptions {
  /** How long a read may go on meeting lost connections before it fails (default 3 s; see read). */
  readRetryMs?: number;
  /** Longest an operation may take before its pool is replaced (default 10 s). */
  deadlineMs?: number;
  /** Told each time a pool is replaced (to log it). */
  onReplaced?: (why: string) => void;
}

export class PgPool {
  private current: postgres.Sql;
  private ended = false;
  private readonly deadlineMs: number;

  constructor(
    private readonly make: () => postgres.Sql,
    private readonly options: PgPoolOptions = {},
  ) {
    this.current = make();
    this.deadlineMs = options.deadlineMs ?? 10_000;
  }

  /**
   * Run `op` on the pool within the deadline. Past it, the caller gets PgDeadlineExceeded and the
   * pool is replaced (the operation's own outcome, if it ever comes, is dropped).
   *
   * @example await pool.run((sql) => sql.begin((tx) => tx`UPDATE ...`));
   */
  run<T>(op: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const sql = this.current;
    return withDeadline(op(sql), this.deadlineMs, () => {
      this.replace(sql, `an operation ran past its ${this.deadlineMs} ms deadline`);
      return new PgDeadlineExceeded(`the database did not answer within ${this.deadlineMs} ms`);
    });
  }

  /**
   * {@link run} for a read, run again while its connection turns out lost, for up to
   * `readRetryMs` (default 3 s; backing off from 5 ms to 200 ms). postgres.js finds out a pooled
   * connection is dead only when a statement uses it, and a failover can end the fresh ones too,
   * so a read may meet several in a row. A read changes nothing, so running it again is safe.
   *
   * @example const rows = await pool.read((sql) => sql`SELECT ...`);
   */
  async read<T>(op: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    const until = performance.now() + (this.options.readRetryMs ?? 3000);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.run(op);
      } catch (err) {
        if (!connectionLost(err) || performance.now() >= until) throw err;
        await Bun.sleep(Math.min(200, 5 * 2 ** (attempt - 1)));
      }
    }
  }

  private replace(stale: postgres.Sql, why: string): void {
    if (this.ended || this.current !== stale) return;
    this.current = this.make();
    this.options.onReplaced?.(why);
    // Ends every connection of the stale pool, and with them whatever waits on them.
    void stale.end({ timeout: 0 }).catch(() => {});
  }

  /** Close the pool, letting running statements finish for up to `timeoutS`. @example await pool.end() */
  async end(timeoutS = 5): Promise<void> {
    this.ended = true;
    await this.current.end({ timeout: timeoutS });
  }
}

/**
 * The server's PostgreSQL pool for one store: `max` connections to `url`, each connection attempt
 * bounded by `connectTimeoutS` (ARAGORA_DB_POOL_TIMEOUT) but at most 5 s, since a stalled handshake
 * holds up every statement queued behind it; reads retry for two stalled handshakes and a second;
 * a replaced pool is logged under `name`.
 *
 * The driver is imported here, on the first pool, so a server on SQLite never loads it.
 *
 * @example const pool = await openPgPool(config.databaseUrl, { max: 2, connectTimeoutS: 30, name: "schedules", log });
 */
export async function openPgPool(
  url: string,
  o: {
    max: number;
    connectTimeoutS: number;
    name: string;
    log?: Logger;
    deadlineMs?: number;
    lockTimeoutMs?: number;
    idleInTransactionTimeoutMs?: number;
    /** Every transaction of every session read-only (default_transaction_read_only). */
    readOnly?: boolean;
  },
): Promise<PgPool> {
  const postgres = (await import("postgres")).default;
  const connectTimeout = Math.min(o.connectTimeoutS, 5);
  // Startup parameters: every session of the pool has them, including those of a replaced pool.
  // The pool's name as application_name, so pg_stat_activity tells which part holds a connection.
  const connection = { connection: { application_name: applicationName(o.name), ...sessionParameters(o) } };
  return new PgPool(
    () => postgres(url, { max: o.max, connect_timeout: connectTimeout, onnotice: () => {}, ...connection }),
    {
      readRetryMs: (2 * connectTimeout + 1) * 1000,
      ...(o.deadlineMs !== undefined ? { deadlineMs: o.deadlineMs } : {}),
      onReplaced: (why) => o.log?.warn({ store: o.name, why }, "database pool replaced"),
    },
  );
}

/**
 * The startup parameters of a pool's sessions: lock_timeout, idle_in_transaction_session_timeout,
 * and read-only transactions.
 *
 * @example sessionParameters({ lockTimeoutMs: 3000 }) // { lock_timeout: 3000 }
 */
export function sessionParameters(o: {
  lockTimeoutMs?: number;
  idleInTransactionTimeoutMs?: number;
  readOnly?: boolean;
}): Record<string, number | boolean> {
  return {
    ...(o.lockTimeoutMs === undefined ? {} : { lock_timeout: Math.trunc(o.lockTimeoutMs) }),
    ...(o.idleInTransactionTimeoutMs === undefined
      ? {}
      : { idle_in_transaction_session_timeout: Math.trunc(o.idleInTransactionTimeoutMs) }),
    ...(o.readOnly ? { default_transaction_read_only: true } : {}),
  };
}

/**
 * The application_name a pool's sessions report (what pg_stat_activity shows): `aragora ` and the
 * pool's name, within PostgreSQL's 63 bytes.
 *
 * @example applicationName("webhook-leases") // "aragora webhook-leases"
 */
export function applicationName(pool: string): string {
  return `aragora ${pool}`.slice(0, 63);
}
