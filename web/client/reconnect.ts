/**
 * The waits between a live connection's attempts (the debate page's WebSocket, the run page's
 * event stream): 250 ms, doubling up to `maxMs`, back to the first once a connection works.
 *
 * @example
 * const reconnect = new Reconnect(5000);
 * onState(reconnect.schedule("connection lost", () => connect())); // { kind: "reconnecting", attempt: 1, inMs: 250, ... }
 * reconnect.succeeded(); // on the next good connection
 */

/** What a page shows while it waits to connect again. */
export interface Reconnecting {
  kind: "reconnecting";
  attempt: number;
  inMs: number;
  why: string;
}

const FIRST_WAIT_MS = 250;

export class Reconnect {
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly maxMs: number) {}

  /** Runs `connect` after the next wait (replacing one already scheduled); returns what to show meanwhile. */
  schedule(why: string, connect: () => void): Reconnecting {
    this.attempt++;
    const inMs = Math.min(this.maxMs, FIRST_WAIT_MS * 2 ** (this.attempt - 1));
    clearTimeout(this.timer);
    this.timer = setTimeout(connect, inMs);
    return { kind: "reconnecting", attempt: this.attempt, inMs, why };
  }

  /** A connection worked: the next wait is the first again. */
  succeeded(): void {
    this.attempt = 0;
  }

  /** Drops a scheduled attempt (the page stopped following). */
  cancel(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
