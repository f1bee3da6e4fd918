/**
 * Where log lines go: a file descriptor (stdout), written once per turn of the event loop with every
 * line that turn produced, in order, by one synchronous write.
 *
 * Why not pino's default (sonic-boom, asynchronous): while one write is on the thread pool it
 * appends each new line to a growing string and measures that string's UTF-8 length again for every
 * line, so under load a request's log line cost more than its route (a fifth of the server's
 * JavaScript time on a refused POST, bench/http.ts). Here a line is appended to the turn's text (a
 * rope: no copy until it is written), and the text is written once, as a string, so the only copy
 * of the bytes is the one the write makes. A write is synchronous, so lines keep their order, an exit
 * loses none (the process's `exit` hook writes what is pending), and a full pipe (EAGAIN) keeps
 * the rest for the next turn instead of blocking.
 *
 * @example
 * const log = pino(options, new LogWriter(1));
 */
import { writeSync } from "node:fs";

/** Lines held while the descriptor cannot take them; past this, new lines are dropped and counted. */
const MAX_PENDING_CHARS = 16 * 1024 * 1024;

export class LogWriter {
  /** The lines of this turn not yet handed to the descriptor. */
  private pending = "";
  /** Bytes of an earlier batch the descriptor has not taken yet (a full pipe). */
  private rest: Buffer | undefined;
  private scheduled = false;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private waiters: ((err?: Error) => void)[] = [];
  /** Lines dropped because the descriptor took nothing for too long, or failed. */
  dropped = 0;

  constructor(
    private readonly fd: number,
    private readonly maxPendingChars = MAX_PENDING_CHARS,
  ) {
    process.once("exit", () => this.flushSync());
  }

  /** Called by pino with one serialised line (newline included). */
  write(line: string): boolean {
    if (this.pending.length + line.length > this.maxPendingChars) {
      this.dropped++;
      return false;
    }
    this.pending += line;
    if (!this.scheduled && this.retryTimer === undefined) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
    return true;
  }

  private readonly drain = () => {
    this.scheduled = false;
    this.writeOut();
    if (this.rest !== undefined) {
      // The pipe is full: try again shortly, without spinning the loop.
      this.retryTimer ??= setTimeout(() => {
        this.retryTimer = undefined;
        this.drain();
      }, 5);
      this.retryTimer.unref?.();
      return;
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const done of waiters) done();
  };

  /** Write what is pending, as far as the descriptor takes it now. */
  private writeOut(): void {
    while (this.rest !== undefined || this.pending.length > 0) {
      let written: number;
      let text: string | undefined;
      try {
        if (this.rest !== undefined) {
          written = writeSync(this.fd, this.rest);
        } else {
          text = this.pending;
          this.pending = "";
          written = writeSync(this.fd, text);
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") {
          // Nothing was taken: what was pending is pending still, in order.
          if (text !== undefined) this.pending = text + this.pending;
          return;
        }
        // EPIPE, EBADF: nobody reads these lines any more; there is no one to tell but the counter.
        this.dropped++;
        this.rest = undefined;
        return;
      }
      if (text === undefined) {
        const rest = this.rest as Buffer;
        this.rest = written >= rest.length ? undefined : rest.subarray(written);
      } else if (written < Buffer.byteLength(text)) {
        // A partial write (a full pipe): the bytes not taken are kept as bytes, to resume exactly.
        this.rest = Buffer.from(text).subarray(written);
      }
    }
  }

  /** pino's `logger.flush(cb)`: calls back once every line so far is written. */
  flush(cb?: (err?: Error) => void): void {
    if (this.rest === undefined && this.pending.length === 0) {
      cb?.();
      return;
    }
    if (cb) this.waiters.push(cb);
    if (!this.scheduled && this.retryTimer === undefined) {
      this.scheduled = true;
      setImmediate(this.drain);
    }
  }

  /** Write everything now (process exit); a full pipe is waited out for up to a second. */
  flushSync(): void {
    const deadline = Date.now() + 1000;
    this.writeOut();
    while (this.rest !== undefined && Date.now() < deadline) {
      Bun.sleepSync(1);
      this.writeOut();
    }
  }
}
