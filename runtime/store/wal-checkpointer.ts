/**
 * Checkpoints the server's SQLite WAL on a thread of its own (see wal-checkpoint-worker.ts and
 * {@link checkpointInBackground}) and keeps it under `walLimitBytes`. If the thread dies it is
 * started again after a second, and the failure is logged: without checkpoints the WAL would only grow.
 *
 * @example
 * checkpointInBackground();
 * const store = await openStore(config, log);
 * const checkpointer = new WalCheckpointer(store.sqlitePath, { busyTimeoutMs: 5000, walLimitBytes: 64 << 20, log });
 * // ... at shutdown, before the store closes (the last connection's close checkpoints what is left):
 * await checkpointer.stop();
 */
import type { Logger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { workerEntry } from "../worker-entry.ts";
import type { FromCheckpointer, ToCheckpointer } from "./wal-checkpoint-worker.ts";

export interface WalCheckpointerOptions {
  busyTimeoutMs: number;
  /**
   * The WAL is emptied (a TRUNCATE checkpoint) whenever it passes a quarter of this, or half the
   * free space on its filesystem (so a checkpoint always has room to copy it).
   */
  walLimitBytes: number;
  log: Logger;
  /** Time between PASSIVE checkpoints while the WAL is under a quarter of its limit; default 500 ms. */
  intervalMs?: number;
}

export class WalCheckpointer {
  private worker: Worker | undefined;
  private stopping = false;
  private restart: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly path: string,
    private readonly options: WalCheckpointerOptions,
  ) {
    this.start();
  }

  private start(): void {
    const worker = new Worker(
      workerEntry(new URL("./wal-checkpoint-worker.ts", import.meta.url), "wal-checkpoint-worker"),
    );
    worker.unref();
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<FromCheckpointer>) => {
      const msg = event.data;
      if (msg.op === "checkpoint") metrics.sqliteCheckpointSeconds.observe(msg.seconds);
      else if (msg.op === "wal") metrics.sqliteWalBytes.set(msg.bytes);
      else if (msg.op === "truncate") metrics.sqliteWalTruncateSeconds.observe({ outcome: msg.outcome }, msg.seconds);
      else if (msg.op === "failed")
        this.options.log.warn({ error: msg.message }, `WAL checkpoint failed: ${msg.message}`);
    };
    worker.addEventListener("close", () => {
      if (this.stopping || this.worker !== worker) return;
      this.options.log.error("the WAL checkpointer thread stopped; starting it again in 1 s");
      this.restart = setTimeout(() => this.start(), 1000);
    });
    worker.postMessage({
      op: "start",
      path: this.path,
      intervalMs: this.options.intervalMs ?? 500,
      busyTimeoutMs: this.options.busyTimeoutMs,
      walLimitBytes: this.options.walLimitBytes,
    } satisfies ToCheckpointer);
  }

  /** Stop the thread after it has closed its connection. @example await checkpointer.stop() */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restart);
    const worker = this.worker;
    if (worker === undefined) return;
    const stopped = new Promise<void>((resolve) => {
      worker.addEventListener("message", (e: MessageEvent<FromCheckpointer>) => {
        if (e.data.op === "stopped") resolve();
      });
      worker.addEventListener("close", () => resolve());
    });
    worker.postMessage({ op: "stop" } satisfies ToCheckpointer);
    await Promise.race([stopped, Bun.sleep(2000)]);
    await worker.terminate();
  }
}
