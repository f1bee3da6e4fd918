/**
 * External services for integration tests: PostgreSQL at 127.0.0.1:5432 (trust auth, database
 * `test`; override with TEST_DATABASE_URL) and Redis at 127.0.0.1:6379 (override with
 * TEST_REDIS_URL). When a service is unreachable, suites that need it are skipped with a printed
 * reason, except under CI=true, where the probe throws so the run fails loudly instead of passing
 * by skipping.
 *
 * @example
 * const pg = await postgresAvailable();
 * describe.skipIf(!pg)("on PostgreSQL", () => {
 *   let db: TempDatabase;
 *   beforeAll(async () => { db = await createTempPostgresDatabase(); });
 *   afterAll(() => db.drop());
 * });
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";

/** The administrative URL tests connect to; temporary databases are created through it. */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || "redis://127.0.0.1:6379";

const inCI = process.env.CI === "true";

function unavailable(service: string, reason: string): false {
  const message = `${service} unavailable: ${reason}`;
  if (inCI) throw new Error(`${message} (CI=true: integration services are required)`);
  process.stderr.write(`skipping ${service} tests: ${message}\n`);
  return false;
}

const probes = new Map<string, Promise<boolean>>();

/** Whether PostgreSQL answers at {@link TEST_DATABASE_URL}; throws under CI=true when it does not. */
export function postgresAvailable(): Promise<boolean> {
  let probe = probes.get("postgres");
  if (!probe) {
    probe = (async () => {
      const sql = postgres(TEST_DATABASE_URL, { max: 1, connect_timeout: 3, onnotice: () => {} });
      try {
        await sql`SELECT 1`;
        return true;
      } catch (err) {
        return unavailable("PostgreSQL", `${redact(TEST_DATABASE_URL)}: ${(err as Error).message}`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    })();
    probes.set("postgres", probe);
  }
  return probe;
}

/** Whether Redis answers PING at {@link TEST_REDIS_URL}; throws under CI=true when it does not. */
export function redisAvailable(): Promise<boolean> {
  let probe = probes.get("redis");
  if (!probe) {
    probe = pingRedis(TEST_REDIS_URL).then(
      () => true,
      (err: Error) => unavailable("Redis", `${redact(TEST_REDIS_URL)}: ${err.message}`),
    );
    probes.set("redis", probe);
  }
  return probe;
}

/** A raw RESP PING, so the probe needs no client library and never retries. */
async function pingRedis(url: string, timeoutMs = 3000): Promise<void> {
  const { hostname, port } = new URL(url);
  await new Promise<void>((resolve, reject) => {
    let reply = "";
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const finish = (err?: Error) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve();
    };
    Bun.connect({
      hostname: hostname || "127.0.0.1",
      port: Number(port || 6379),
      socket: {
        open(socket) {
          socket.write("PING\r\n");
        },
        data(socket, chunk) {
          reply += chunk.toString();
          if (!reply.includes("\r\n")) return;
          socket.end();
          // A password-protected server answers -NOAUTH: it is up, and the test's client will authenticate.
          if (reply.startsWith("+PONG") || reply.startsWith("-NOAUTH")) finish();
          else finish(new Error(`unexpected reply ${JSON.stringify(reply.trim())}`));
        },
        error(_socket, err) {
          finish(err);
        },
        connectError(_socket, err) {
          finish(err);
        },
      },
    }).catch((err: Error) => finish(err));
  });
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, "//$1:***@");
}

export interface TempDatabase {
  /** URL of a freshly created, empty database. */
  url: string;
  /** Drop the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

/**
 * Create `aragora_t_<random>` on the test server so a test never touches shared state.
 *
 * @example
 * const db = await createTempPostgresDatabase();
 * // spawn the CLI with DATABASE_URL=db.url ...
 * await db.drop();
 */
export async function createTempPostgresDatabase(): Promise<TempDatabase> {
  const name = `aragora_t_${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  };
}

export interface TempDir {
  path: string;
  /** Remove the directory and everything in it. */
  remove(): void;
}

/**
 * A fresh directory under the OS temp dir, for ARAGORA_DATA_DIR and other per-test files.
 *
 * @example
 * const dir = tempDataDir();
 * // ... ARAGORA_DATA_DIR: dir.path ...
 * dir.remove();
 */
export function tempDataDir(prefix = "aragora-test-"): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
