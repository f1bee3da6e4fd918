/**
 * The WAL checkpointer's thread: its own connection to the SQLite file, running
 * `PRAGMA wal_checkpoint(PASSIVE)` every interval, so the copy into the database file and its fsync
 * happen here and never inside a commit on the server's event loop. PASSIVE never waits for
 * readers or writers; a writer starts the WAL over from its beginning when it finds it all copied.
 *
 * Under constant writes it never does: some writer always commits while a PASSIVE checkpoint
 * copies, so the WAL is never all copied when the next writer starts, and it grows without end
 * (2.2 GB after 1,200 demo debates). So the thread also watches the WAL's size (stat, every
 * {@link WATCH_MS}) and, once it passes a quarter of the limit (the rest is headroom for what is
 * committed while it works), runs a TRUNCATE checkpoint right after PASSIVE ones: it takes the
 * write lock, copies the few frames committed since, and empties the file. Past half the limit it
 * runs the TRUNCATE at once, copying more while it holds the lock, to stay under the limit. It
 * waits for nobody (busy_timeout 0): a writer or reader in the way makes it report busy and try
 * again {@link WATCH_MS} later, so the server's writers wait at most for one short copy.
 *
 * The limit alone does not protect a nearly full disk: a checkpoint copies the WAL's pages into the
 * database file, which grows by up to the WAL's size, and the WAL is emptied only after that copy.
 * A WAL that has taken the disk's last free space can never be copied, so no write goes through
 * again until something else frees space (a 2 MiB data dir: the WAL grew into the space a removed
 * file had left, and the server stayed 503 for good). So the WAL is also kept under half the free
 * space left on its filesystem (statfs): past that it is emptied as past a quarter of the limit,
 * and past all of it at once. After a failed checkpoint (the disk full) the next try waits for the
 * interval, not for the next watch, so a full disk costs one log line per interval.
 * Reports each checkpoint that copied frames and the WAL's size; stops (closing its connection) when told.
 *
 * @example
 * const worker = new Worker(new URL("./wal-checkpoint-worker.ts", import.meta.url));
 * worker.postMessage({ op: "start", path: ".nomic/core.db", intervalMs: 500, busyTimeoutMs: 5000, walLimitBytes: 64 << 20 });
 */
import { Database } from "bun:sqlite";
import { statfsSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { lowerThreadPriority } from "../thread-priority.ts";

declare const self: Worker;

lowerThreadPriority(10);

/** How often the WAL's size is looked at (a stat), and how soon a busy TRUNCATE is tried again. */
const WATCH_MS = 50;

export type ToCheckpointer =
  | { op: "start"; path: string; intervalMs: number; busyTimeoutMs: number; walLimitBytes: number }
  | { op: "stop" };
export type FromCheckpointer =
  | { op: "checkpoint"; seconds: number; walPages: number; copiedPages: number }
  | { op: "truncate"; outcome: "done" | "busy"; seconds: number }
  | { op: "wal"; bytes: number }
  | { op: "failed"; message: string }
  | { op: "stopped" };

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

interface CheckpointRow {
  busy: number;
  log: number;
  checkpointed: number;
}

function walBytes(walPath: string): number {
  try {
    return statSync(walPath).size;
  } catch {
    return 0;
  }
}

/** Bytes still free for this process on the filesystem holding `dir`; Infinity when it cannot be told. */
function freeBytes(dir: string): number {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/**
 * When to empty the WAL (a TRUNCATE checkpoint) and how many PASSIVE ones to run first, from its
 * size, the free space beside it and its limit: past a quarter of the limit or half the free space
 * it is emptied after catching up; past half the limit or all the free space at once.
 *
 * @example checkpointPlan(600 << 10, 1 << 20, 64 << 20) // { truncate: true, urgent: false }
 */
function checkpointPlan(
  walBytes: number,
  freeBytes: number,
  walLimitBytes: number,
): { truncate: boolean; urgent: boolean } {
  return {
    truncate: walBytes > walLimitBytes / 4 || walBytes > freeBytes / 2,
    urgent: walBytes > walLimitBytes / 2 || walBytes > freeBytes,
  };
}

function passive(conn: Database): void {
  const started = performance.now();
  const row = conn.query<CheckpointRow, []>("PRAGMA wal_checkpoint(PASSIVE)").get();
  if (row !== null && row.checkpointed > 0) {
    self.postMessage({
      op: "checkpoint",
      seconds: (performance.now() - started) / 1000,
      walPages: row.log,
      copiedPages: row.checkpointed,
    } satisfies FromCheckpointer);
  }
}

/** TRUNCATE without waiting: busy_timeout 0 for this one statement, the configured one again after. */
function truncate(conn: Database, busyTimeoutMs: number): void {
  const started = performance.now();
  conn.run("PRAGMA busy_timeout = 0");
  try {
    const row = conn.query<CheckpointRow, []>("PRAGMA wal_checkpoint(TRUNCATE)").get();
    self.postMessage({
      op: "truncate",
      outcome: row === null || row.busy !== 0 ? "busy" : "done",
      seconds: (performance.now() - started) / 1000,
    } satisfies FromCheckpointer);
  } finally {
    conn.run(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  }
}

/**
 * Before a TRUNCATE, PASSIVE checkpoints (at most {@link CATCH_UP_ROUNDS}) until fewer than
 * {@link CATCH_UP_BYTES} were committed during the last one: the TRUNCATE then copies only those
 * frames while it holds the write lock, so the server's writers wait for a short copy only.
 */
const CATCH_UP_ROUNDS = 3;
const CATCH_UP_BYTES = 256 * 1024;

function watch(options: Extract<ToCheckpointer, { op: "start" }>): () => void {
  const walPath = `${options.path}-wal`;
  const dir = dirname(options.path);
  let lastPassive = performance.now();
  let lastReported = -1;
  /** When the last checkpoint failed (the disk full, an I/O error): no new try before the interval. */
  let failedAt = Number.NEGATIVE_INFINITY;
  return () => {
    if (db === undefined) return;
    try {
      let bytes = walBytes(walPath);
      // Past half the limit (or all the free space) the WAL grows faster than PASSIVE checkpoints
      // can follow, or would soon be too large to copy: no catching up first.
      const { truncate: over, urgent } = checkpointPlan(
        bytes,
        bytes > 0 ? freeBytes(dir) : Number.POSITIVE_INFINITY,
        options.walLimitBytes,
      );
      const retrying = performance.now() - failedAt < options.intervalMs;
      if (!retrying && (over || performance.now() - lastPassive >= options.intervalMs)) {
        lastPassive = performance.now();
        for (let round = 0; round < (urgent ? 0 : over ? CATCH_UP_ROUNDS : 1); round++) {
          passive(db);
          const grown = walBytes(walPath) - bytes;
          bytes += grown;
          if (grown < CATCH_UP_BYTES) break;
        }
        if (over) truncate(db, options.busyTimeoutMs);
        bytes = walBytes(walPath);
      }
      if (bytes !== lastReported) {
        lastReported = bytes;
        self.postMessage({ op: "wal", bytes } satisfies FromCheckpointer);
      }
    } catch (err) {
      failedAt = performance.now();
      self.postMessage({
        op: "failed",
        message: err instanceof Error ? err.message : String(err),
      } satisfies FromCheckpointer);
    }
  };
}

self.onmessage = (event: MessageEvent<ToCheckpointer>) => {
  const msg = event.data;
  if (msg.op === "start") {
    db = new Database(msg.path, { readwrite: true, create: false });
    db.run(`PRAGMA busy_timeout = ${Math.trunc(msg.busyTimeoutMs)}`);
    timer = setInterval(watch(msg), Math.min(WATCH_MS, msg.intervalMs));
  } else {
    clearInterval(timer);
    db?.close(false);
    db = undefined;
    self.postMessage({ op: "stopped" } satisfies FromCheckpointer);
  }
};
