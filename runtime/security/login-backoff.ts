/**
 * Exponential lockout for password guessing, counted per account (one target guessed from many
 * addresses) and per client IP (one address trying many accounts). A few failures are free; after
 * them the next attempt must wait 1 s, the one after 2 s, then 4 s, ... up to a cap (15 min by default).
 *
 * An attempt is counted as a failure when it starts, and taken back by {@link LoginBackoff.recordSuccess}:
 * counted only after the ~30 ms password check, a burst of parallel guesses would all pass the gate
 * before the first failure landed. A success clears the account's counter but removes only its own
 * attempt from the IP's, so an attacker cannot wipe the IP counter by logging into an account of
 * their own between guesses. Counters are forgotten after a quiet period and memory is bounded.
 */
import { addressGroup } from "./address-group.ts";
import { LruMap } from "./lru-map.ts";

/** How one counter turns failures into waiting time. */
export interface BackoffPolicy {
  /** Failures allowed before any waiting. */
  freeFailures: number;
  /** The first wait, doubled for each failure after it. */
  baseDelayMs: number;
  /** The longest wait. */
  maxDelayMs: number;
}

/** Options of {@link createLoginBackoff}. */
export interface LoginBackoffOptions {
  /** Per account; defaults to 5 free failures, 1 s doubling to 15 min. */
  account?: Partial<BackoffPolicy>;
  /** Per IP; defaults to 20 free failures (many people can share one address), 1 s doubling to 15 min. */
  ip?: Partial<BackoffPolicy>;
  /** Milliseconds on any monotonic scale; defaults to `performance.now`. */
  now?: () => number;
  /** A counter with no failure for this long starts again from zero; defaults to 24 h. */
  forgetAfterMs?: number;
  /** Most counters kept per kind (accounts, IPs); the least recently failed go first. Defaults to 100,000. */
  maxEntries?: number;
}

/** Whether a login attempt may go ahead, and if not, which counter refused it and for how long. */
export type LoginGate = { allowed: true } | { allowed: false; by: "account" | "ip"; retryAfterSeconds: number };

/** Login lockout state for a process. */
export interface LoginBackoff {
  /**
   * Asks to try a password for `account` from `ip`. When allowed, the attempt is already counted
   * as a failure; call {@link recordSuccess} if the password was right. A refused attempt counts
   * for nothing (the caller must not check the password). Call it for every login, whether or not
   * the account exists, so that lockouts do not tell which accounts exist.
   *
   * @example
   * const gate = backoff.attempt(email.toLowerCase(), ip);
   * if (!gate.allowed) throw new HttpError(429, "locked", "too many failed logins", { "Retry-After": String(gate.retryAfterSeconds) });
   */
  attempt(account: string, ip: string): LoginGate;
  /**
   * The attempt succeeded: clears the account's failures and takes this attempt back from the IP's.
   *
   * @example
   * if (await verifyPassword(pw, hash)) backoff.recordSuccess(email.toLowerCase(), ip);
   */
  recordSuccess(account: string, ip: string): void;
  /** Counters held (accounts plus IPs). */
  readonly size: number;
}

interface Counter {
  failures: number;
  lastFailure: number;
}

const DEFAULT_ACCOUNT: BackoffPolicy = { freeFailures: 5, baseDelayMs: 1000, maxDelayMs: 15 * 60_000 };
const DEFAULT_IP: BackoffPolicy = { freeFailures: 20, baseDelayMs: 1000, maxDelayMs: 15 * 60_000 };
const SWEEP_PER_CALL = 2;

function checkPolicy(name: string, p: BackoffPolicy): BackoffPolicy {
  if (!Number.isInteger(p.freeFailures) || p.freeFailures < 0) {
    throw new RangeError(`${name}.freeFailures must be an integer >= 0, got ${p.freeFailures}`);
  }
  if (!(p.baseDelayMs > 0) || !(p.maxDelayMs >= p.baseDelayMs)) {
    throw new RangeError(`${name} delays must satisfy 0 < baseDelayMs <= maxDelayMs`);
  }
  return p;
}

/** The wait after `failures` failures under `policy`, in milliseconds: none for the free ones, then base, 2x base, 4x base, ... */
function delayAfter(policy: BackoffPolicy, failures: number): number {
  if (failures === 0 || failures < policy.freeFailures) return 0;
  // Past 2^40 the cap has long applied; stopping there keeps the power finite.
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(failures - policy.freeFailures, 40));
}

/**
 * A login lockout tracker held in process memory.
 *
 * @example
 * const backoff = createLoginBackoff({ now: () => clock.now() });
 */
export function createLoginBackoff(options: LoginBackoffOptions = {}): LoginBackoff {
  const accountPolicy = checkPolicy("account", { ...DEFAULT_ACCOUNT, ...options.account });
  const ipPolicy = checkPolicy("ip", { ...DEFAULT_IP, ...options.ip });
  const now = options.now ?? (() => performance.now());
  const forgetAfterMs = options.forgetAfterMs ?? 24 * 3_600_000;
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError(`maxEntries must be >= 1, got ${maxEntries}`);
  if (!(forgetAfterMs > accountPolicy.maxDelayMs && forgetAfterMs > ipPolicy.maxDelayMs)) {
    throw new RangeError("forgetAfterMs must exceed the longest lockout");
  }

  // Recency is failure order: the oldest entries are the ones quiet longest.
  const accounts = new LruMap<Counter>();
  const ips = new LruMap<Counter>();

  const live = (map: LruMap<Counter>, key: string, t: number): Counter | undefined => {
    const c = map.get(key);
    if (c !== undefined && t - c.lastFailure > forgetAfterMs) {
      map.delete(key);
      return undefined;
    }
    return c;
  };

  const sweep = (map: LruMap<Counter>, t: number): void => {
    for (let i = 0; i < SWEEP_PER_CALL; i++) {
      const oldest = map.oldest();
      if (oldest === undefined || t - oldest[1].lastFailure <= forgetAfterMs) return;
      map.delete(oldest[0]);
    }
  };

  const waitMs = (policy: BackoffPolicy, c: Counter | undefined, t: number): number =>
    c === undefined ? 0 : c.lastFailure + delayAfter(policy, c.failures) - t;

  const fail = (map: LruMap<Counter>, key: string, c: Counter | undefined, t: number): void => {
    map.set(key, { failures: (c?.failures ?? 0) + 1, lastFailure: t });
    if (map.size > maxEntries) map.delete((map.oldest() as [string, Counter])[0]);
  };

  return {
    get size() {
      return accounts.size + ips.size;
    },

    attempt(account, address) {
      // An IPv6 client is counted by its /64 (address-group.ts).
      const ip = addressGroup(address);
      const t = now();
      sweep(accounts, t);
      sweep(ips, t);
      const a = live(accounts, account, t);
      const i = live(ips, ip, t);
      const aWait = waitMs(accountPolicy, a, t);
      const iWait = waitMs(ipPolicy, i, t);
      if (aWait > 0 || iWait > 0) {
        return {
          allowed: false,
          by: aWait >= iWait ? "account" : "ip",
          retryAfterSeconds: Math.max(1, Math.ceil(Math.max(aWait, iWait) / 1000)),
        };
      }
      fail(accounts, account, a, t);
      fail(ips, ip, i, t);
      return { allowed: true };
    },

    recordSuccess(account, address) {
      const ip = addressGroup(address);
      accounts.delete(account);
      const c = ips.get(ip);
      if (c === undefined) return;
      if (c.failures <= 1) ips.delete(ip);
      else c.failures -= 1;
    },
  };
}
