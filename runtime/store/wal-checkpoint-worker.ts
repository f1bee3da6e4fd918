/**
 * The WAL checkpointer's thread: its own connection to the SQLite file, running
 * `PRAGMA wal_checkpoint(PASSIVE)` every interval, so the copy into the database file and its fsync
 * happen here and never inside a commit on the server's event loop. PASSIVE never waits for
 * readers or writers; the writers restart the WAL from its beginning once it is all copied.
 * Reports each checkpoint that copied frames; stops (closing its connection) when told.
 *
 * @example
 * const worker = new Worker(new URL("./wal-checkpoint-worker.ts", import.meta.url));
 * worker.postMessage({ op: "start", path: ".nomic/core.db", intervalMs: 500, busyTimeoutMs: 5000 });
 */
import { Database } from "bun:sqlite";
import { lowerThreadPriority } from "../thread-priority.ts";

declare const self: Worker;

lowerThreadPriority(10);

export type ToCheckpointer = { op: "start"; path: string; intervalMs: number; busyTimeoutMs: number } | { op: "stop" };
export type FromCheckpointer =
  | { op: "checkpoint"; seconds: number; walPages: number; copiedPages: number }
  | { op: "failed"; message: string }
  | { op: "stopped" };

let db: Database | undefined;
let timer: ReturnType<typeof setInterval> | undefined;

function checkpoint(): void {
  if (db === undefined) return;
  const started = performance.now();
  try {
    const row = db
      .query<{ busy: number; log: number; checkpointed: number }, []>("PRAGMA wal_checkpoint(PASSIVE)")
      .get();
    if (row !== null && row.checkpointed > 0) {
      self.postMessage({
        op: "checkpoint",
        seconds: (performance.now() - started) / 1000,
        walPages: row.log,
        copiedPages: row.checkpointed,
      } satisfies FromCheckpointer);
    }
  } catch (err) {
    self.postMessage({
      op: "failed",
      message: err instanceof Error ? err.message : String(err),
    } satisfies FromCheckpointer);
  }
}

self.onmessage = (event: MessageEvent<ToCheckpointer>) => {
  const msg = event.data;
  if (msg.op === "start") {
    db = new Database(msg.path, { readwrite: true, create: false });
    db.run(`PRAGMA busy_timeout = ${Math.trunc(msg.busyTimeoutMs)}`);
    timer = setInterval(checkpoint, msg.intervalMs);
  } else {
    clearInterval(timer);
    db?.close(false);
    db = undefined;
    self.postMessage({ op: "stopped" } satisfies FromCheckpointer);
  }
};
