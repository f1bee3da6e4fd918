/**
 * Whether the store can write, as the parts that write to it last found out. Features report each
 * storage failure (classified by {@link storeFailureReason} from the SQLite or PostgreSQL error
 * code) and each write that went through; GET /api/health answers 503 `unhealthy` while any part's
 * last write failed, naming the part, the reason and the debate events waiting unwritten, and the
 * `aragora_store_*` metrics follow. A failing part recovers on its own next successful write, or on
 * a probe: while anything is failing, the registered probes (a cheap real write per part) run every
 * {@link PROBE_INTERVAL_MS}; a part whose probe passes is writable again, and when every probe
 * passes so is everything, so health recovers even when nothing else is writing.
 *
 * @example
 * const health = new StoreHealth();
 * health.addProbe("debates", () => debates.probeWrite());
 * try { await store.write() ; health.succeeded("debates"); }
 * catch (err) { health.failed("debates", err); throw err; }
 * health.snapshot(); // { writable: false, failing: [{ part: "debates", reason: "full", ... }], unwritten_events: 3 }
 */
import { metrics } from "../metrics.ts";

/** Why the store cannot write, from the driver's error code. */
export type StoreFailureReason = "full" | "corrupt" | "read_only" | "io_error" | "locked" | "unavailable";

/** How often the probes run while some part is failing. */
export const PROBE_INTERVAL_MS = 1000;

/**
 * How long, past the shutdown timeout, shutdown may take when the store cannot write: after it the
 * process exits whatever is left (aragora serve's watchdog).
 */
export const STORE_GRACE_MS = 5000;

/**
 * The part of {@link STORE_GRACE_MS} the debates may spend interrupting and flushing their events;
 * the rest is for the steps after them (actors, node row, closing the store).
 */
export const EVENT_FLUSH_GRACE_MS = 3000;

/** What a client is told to wait before retrying a request the store refused (seconds). */
export const STORE_RETRY_AFTER_S = 5;

/** SQLite's primary result codes (the low byte of an extended code) that mean the store cannot write. */
const SQLITE_PRIMARY: Record<number, StoreFailureReason> = {
  5: "locked", // SQLITE_BUSY
  6: "locked", // SQLITE_LOCKED
  8: "read_only", // SQLITE_READONLY
  10: "io_error", // SQLITE_IOERR
  11: "corrupt", // SQLITE_CORRUPT
  13: "full", // SQLITE_FULL
  14: "unavailable", // SQLITE_CANTOPEN
  26: "corrupt", // SQLITE_NOTADB
};

/** SQLite's names, for errors that carry the code text but no errno. */
const SQLITE_NAMES: [string, StoreFailureReason][] = [
  ["SQLITE_FULL", "full"],
  ["SQLITE_CORRUPT", "corrupt"],
  ["SQLITE_NOTADB", "corrupt"],
  ["SQLITE_READONLY", "read_only"],
  ["SQLITE_IOERR", "io_error"],
  ["SQLITE_BUSY", "locked"],
  ["SQLITE_LOCKED", "locked"],
  ["SQLITE_CANTOPEN", "unavailable"],
];

/** PostgreSQL SQLSTATEs and driver codes that mean the store cannot write (the rest are answers). */
const PG_CODES: Record<string, StoreFailureReason> = {
  "53100": "full", // disk_full
  "53000": "full", // insufficient_resources
  "53200": "full", // out_of_memory
  "55P03": "locked", // lock_not_available (lock_timeout)
  "40P01": "locked", // deadlock_detected
  "57014": "locked", // query_canceled (statement_timeout)
  "25006": "read_only", // read_only_sql_transaction (a standby, default_transaction_read_only)
  XX001: "corrupt", // data_corrupted
  XX002: "corrupt", // index_corrupted
  "58030": "io_error", // io_error
  "57P01": "unavailable",
  "57P02": "unavailable",
  "57P03": "unavailable",
  "08000": "unavailable",
  "08001": "unavailable",
  "08003": "unavailable",
  "08004": "unavailable",
  "08006": "unavailable",
  CONNECTION_CLOSED: "unavailable",
  CONNECTION_ENDED: "unavailable",
  CONNECTION_DESTROYED: "unavailable",
  CONNECT_TIMEOUT: "unavailable",
  CONNECTION_DEADLINE: "unavailable",
  ECONNRESET: "unavailable",
  ECONNREFUSED: "unavailable",
  EPIPE: "unavailable",
};

/**
 * The storage failure `err` reports, or null when it is not one (a constraint, a bad query, a
 * conflict: the store answered). Looks through `cause` chains.
 *
 * @example storeFailureReason(Object.assign(new Error("disk full"), { code: "SQLITE_FULL", errno: 13 })) // "full"
 */
export function storeFailureReason(err: unknown): StoreFailureReason | null {
  for (let e = err, depth = 0; e !== null && typeof e === "object" && depth < 5; depth++) {
    if (e instanceof StoreUnavailableError) return e.reason;
    const { code, errno, name } = e as { code?: unknown; errno?: unknown; name?: unknown };
    if (name === "SQLiteError" && typeof errno === "number") {
      const reason = SQLITE_PRIMARY[errno & 0xff];
      if (reason) return reason;
    }
    if (typeof code === "string") {
      if (code.startsWith("SQLITE_")) {
        for (const [prefix, reason] of SQLITE_NAMES) if (code.startsWith(prefix)) return reason;
      } else if (Object.hasOwn(PG_CODES, code)) return PG_CODES[code] as StoreFailureReason;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * A request or write the store refused because it cannot write (or read) right now; the error
 * mapper answers it 503 `store_unavailable` with Retry-After. `part` names what failed.
 *
 * @example throw new StoreUnavailableError("debates", "full", err)
 */
export class StoreUnavailableError extends Error {
  override name = "StoreUnavailableError";
  readonly status = 503;
  constructor(
    readonly part: string,
    readonly reason: StoreFailureReason,
    cause?: unknown,
  ) {
    super(`the store cannot write (${reason}, ${part})`, cause === undefined ? undefined : { cause });
  }
}

/** One failing part, as GET /api/health shows it. */
export interface FailingPart {
  part: string;
  reason: StoreFailureReason;
  /** ISO time of the first failure of this run of failures. */
  since: string;
  /** Failures since then. */
  failures: number;
  /** The driver's message of the last failure (no path, no stack). */
  error: string;
}

export interface StoreHealthSnapshot {
  writable: boolean;
  failing: FailingPart[];
  unwritten_events: number;
}

type Probe = () => Promise<void>;

/** Events that are (or were, at shutdown) not written, by debate. */
export interface Unwritten {
  events: number;
  debateIds: string[];
}

export class StoreHealth {
  private readonly failing = new Map<string, FailingPart>();
  private readonly probes = new Map<string, Probe>();
  private unwrittenSource: () => Unwritten = () => ({ events: 0, debateIds: [] });
  /** What was given up on at shutdown (see abandoned). */
  private lost: Unwritten | undefined;
  private probeTimer: ReturnType<typeof setTimeout> | undefined;
  private probing = false;
  private stopped = false;
  /** Writers waiting for a part (or every part) to write again (see whenWritable). */
  private waiters: { part: string | undefined; done: () => void }[] = [];

  constructor(private readonly label = "core") {
    metrics.storeWritable.set({ store: label }, 1);
  }

  /** Whether every part's last write went through. */
  get writable(): boolean {
    return this.failing.size === 0;
  }

  /** Whether `part`'s last write went through. @example health.writableFor("event_log") */
  writableFor(part: string): boolean {
    return !this.failing.has(part);
  }

  /**
   * Count the debate events waiting to be written (the event writer's queue) in health and metrics.
   *
   * @example health.countUnwritten(() => writer.unwritten())
   */
  countUnwritten(source: () => Unwritten): void {
    this.unwrittenSource = source;
  }

  /** Record what the writer gave up on at shutdown. @example health.abandoned(writer.abandon()) */
  abandoned(lost: Unwritten): void {
    this.lost = lost;
  }

  /**
   * What is not written now: what was given up on at shutdown, else what is waiting.
   *
   * @example const { events, debateIds } = health.unwritten();
   */
  unwritten(): Unwritten {
    return this.lost ?? this.unwrittenSource();
  }

  /**
   * A cheap real write for `part`, run every PROBE_INTERVAL_MS while anything fails: when every
   * probe goes through, every part is writable again.
   *
   * @example health.addProbe("nodes", () => store.nodes.heartbeat(nodeId, new Date()))
   */
  addProbe(part: string, probe: Probe): void {
    this.probes.set(part, probe);
  }

  /**
   * Report a failure of `part`. Returns its reason, or null (and changes nothing) when `err` is
   * not a storage failure (a constraint or a conflict is an answer, not an outage).
   *
   * @example if (health.failed("event_log", err)) log.warn("store cannot write")
   */
  failed(part: string, err: unknown): StoreFailureReason | null {
    const reason = storeFailureReason(err);
    if (reason === null) return null;
    metrics.storeWriteFailures.inc({ store: part, reason });
    const message = err instanceof Error ? err.message : String(err);
    const known = this.failing.get(part);
    if (known) {
      known.reason = reason;
      known.failures++;
      known.error = message;
    } else {
      this.failing.set(part, { part, reason, since: new Date().toISOString(), failures: 1, error: message });
    }
    metrics.storeWritable.set({ store: this.label }, 0);
    this.scheduleProbe();
    return reason;
  }

  /** Report a write of `part` that went through. @example health.succeeded("event_log") */
  succeeded(part: string): void {
    if (this.failing.size === 0 || !this.failing.delete(part)) return;
    if (this.failing.size === 0) this.recovered();
    else this.release();
  }

  /**
   * Resolves when `part` (or, without one, every part) writes again, at once when it does now;
   * rejects with the signal's reason when it aborts first.
   *
   * @example await health.whenWritable(signal, "event_log")
   */
  whenWritable(signal?: AbortSignal, part?: string): Promise<void> {
    if (part === undefined ? this.failing.size === 0 : !this.failing.has(part)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(signal?.reason);
      };
      const waiter = {
        part,
        done: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      this.waiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** What GET /api/health shows. @example health.snapshot().writable */
  snapshot(): StoreHealthSnapshot {
    const unwritten = this.unwrittenSource().events;
    metrics.debateEventsUnwritten.set(unwritten);
    return { writable: this.failing.size === 0, failing: [...this.failing.values()], unwritten_events: unwritten };
  }

  /** Stop probing (shutdown). @example health.stop() */
  stop(): void {
    this.stopped = true;
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = undefined;
  }

  private recovered(): void {
    metrics.storeWritable.set({ store: this.label }, 1);
    metrics.debateEventsUnwritten.set(this.unwrittenSource().events);
    this.release();
  }

  /** Release the waiters whose part (or every part) writes again. */
  private release(): void {
    const ready = this.waiters.filter((w) =>
      w.part === undefined ? this.failing.size === 0 : !this.failing.has(w.part),
    );
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.done();
  }

  private scheduleProbe(): void {
    if (this.stopped || this.probeTimer || this.probing || this.probes.size === 0) return;
    this.probeTimer = setTimeout(() => void this.probe(), PROBE_INTERVAL_MS);
    // A probe never keeps the process alive on its own.
    this.probeTimer.unref?.();
  }

  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (this.failing.size === 0 || this.stopped) return;
    this.probing = true;
    let ok = true;
    for (const [part, probe] of this.probes) {
      try {
        await probe();
        this.failing.delete(part);
      } catch (err) {
        ok = false;
        // A probe failing for another reason (not a storage code) still says the store is not back.
        if (this.failed(part, err) === null && this.failing.has(part)) {
          (this.failing.get(part) as FailingPart).error = err instanceof Error ? err.message : String(err);
        }
      }
    }
    this.probing = false;
    // Every probe passing clears the parts that have none too (a request's failure, "core").
    if (ok) this.failing.clear();
    if (this.failing.size === 0) this.recovered();
    else {
      this.release();
      this.scheduleProbe();
    }
  }
}
