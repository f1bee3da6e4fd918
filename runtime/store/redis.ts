/**
 * The connection to Redis (`ARAGORA_REDIS_URL`), for state every node shares (the rate limits'
 * buckets). Made for the request path: a command sent while disconnected fails at once rather than
 * waiting in ioredis' offline queue, and one that takes longer than {@link REDIS_COMMAND_TIMEOUT_MS}
 * fails, so a caller can fall back to what it can do alone instead of holding requests.
 *
 * @example
 * const redis = await connectRedis(config.redisUrl, log, "rate-limits");
 * await redis.quit();
 */
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";

/** The longest a command may take before it fails (and its caller falls back). */
export const REDIS_COMMAND_TIMEOUT_MS = 250;
/** How long start waits for the first connection before going on without it. */
const CONNECT_WAIT_MS = 2000;
/** At most one log line per this long about a broken connection: it retries every two seconds. */
const LOG_EVERY_MS = 30_000;

/**
 * A client for `url`, connected (or, after {@link CONNECT_WAIT_MS}, still trying in the background:
 * the server starts without Redis and uses it once it answers). Errors are logged, at most once
 * per 30 s; the URL, which may hold a password, never is.
 *
 * @example const redis = await connectRedis("redis://127.0.0.1:6379", log, "rate-limits");
 */
export async function connectRedis(url: string, log: Logger, purpose: string): Promise<Redis> {
  // Loaded here, not at the top: ioredis takes a tenth of the server's start-up to load, and most
  // servers run without Redis.
  const { Redis } = await import("ioredis");
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectionName: `aragora-${purpose}`,
    retryStrategy: (times) => Math.min(times * 200, 2000),
    lazyConnect: true,
  });
  let lastLogged = Number.NEGATIVE_INFINITY;
  redis.on("error", (err: Error) => {
    const now = Date.now();
    if (now - lastLogged < LOG_EVERY_MS) return;
    lastLogged = now;
    log.warn({ err: { message: err.message, code: (err as { code?: string }).code }, purpose }, "Redis unavailable");
  });
  redis.on("ready", () => {
    if (lastLogged > Number.NEGATIVE_INFINITY) log.info({ purpose }, "Redis connected again");
    lastLogged = Number.NEGATIVE_INFINITY;
  });
  const connected = redis.connect().then(
    () => true,
    () => false,
  );
  const ok = await Promise.race([connected, Bun.sleep(CONNECT_WAIT_MS).then(() => false)]);
  if (!ok) log.warn({ purpose }, "Redis did not answer at start; going on without it until it does");
  return redis;
}
