/**
 * Follows one ops run over GET /api/ops/runs/:id/events: the server answers the run's journal so
 * far, then its live lines, as NDJSON (with a blank keep-alive line every 5 s), and closes once the
 * run finishes or pauses. The session cookies carry the sign-in. A connection that fails, stays
 * silent past three keep-alives, or closes while the run is neither finished nor paused is replaced
 * after a short, growing wait (0.25 s doubling to 5 s); every connection replays the whole
 * journal, and the model skips lines it already has (by seq), so nothing is shown twice. Once the
 * run is at rest the follower stops; `restart` follows it again (after an operator's action).
 *
 * @example
 * const follower = new RunFollower("r-1", {
 *   onEvents: (events) => events.forEach((e) => applyRunEvent(model, e)),
 *   atRest: () => (model.status === "paused" ? "paused" : FINISHED.has(model.status) ? "finished" : undefined),
 *   onState: (s) => (state.value = s),
 * });
 * follower.start();
 * // after resume: follower.restart(); when the page is left: follower.stop();
 */
import { ApiError, openStream } from "../../api.ts";
import { LineSplitter } from "../../ndjson.ts";
import { Reconnect, type Reconnecting } from "../../reconnect.ts";
import type { RunEvent } from "./run-model.ts";

export type FollowState =
  | { kind: "connecting" }
  | { kind: "live" }
  | Reconnecting
  | { kind: "ended"; why: "finished" | "paused" }
  | { kind: "failed"; message: string };

export interface FollowHandlers {
  /** The lines one chunk brought (possibly already seen: the journal is replayed on every connection). */
  onEvents: (events: RunEvent[]) => void;
  /** Why the run is at rest, or undefined while it goes on (then a closed stream is a dropped one). */
  atRest: () => "finished" | "paused" | undefined;
  onState: (state: FollowState) => void;
}

/** The longest wait between attempts. */
const MAX_RETRY_MS = 5000;
/** Three of the server's keep-alive intervals (5 s) without a byte: the connection is dead. */
const SILENCE_MS = 15_000;

export class RunFollower {
  private abort: AbortController | undefined;
  private stopped = true;
  private readonly reconnect = new Reconnect(MAX_RETRY_MS);
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly runId: string,
    private readonly handlers: FollowHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Close for good (the page is left). */
  stop(): void {
    this.stopped = true;
    this.reconnect.cancel();
    clearTimeout(this.silenceTimer);
    this.abort?.abort();
    this.abort = undefined;
  }

  /** A fresh connection now, whatever the current one is doing (an action changed the run). */
  restart(): void {
    this.stop();
    this.reconnect.succeeded();
    this.start();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const abort = new AbortController();
    this.abort = abort;
    const current = () => this.abort === abort && !this.stopped;
    this.handlers.onState({ kind: "connecting" });
    let res: Response;
    try {
      res = await openStream(`/api/ops/runs/${encodeURIComponent(this.runId)}/events`, abort.signal);
    } catch (err) {
      if (!current()) return;
      // Refused (signed out, no permission, no such run): asking again will not help.
      if (
        err instanceof ApiError &&
        err.status >= 400 &&
        err.status < 500 &&
        err.status !== 408 &&
        err.status !== 429
      ) {
        this.handlers.onState({ kind: "failed", message: err.message });
        return;
      }
      return this.retry(err instanceof Error ? err.message : String(err));
    }
    if (!current()) return;
    const reader = res.body?.getReader();
    if (!reader) return this.retry("the server sent no stream");
    this.reconnect.succeeded();
    this.handlers.onState({ kind: "live" });
    const lines = new LineSplitter();
    const parse = (texts: string[]) => texts.map((t) => JSON.parse(t) as RunEvent);
    try {
      this.heard(abort);
      for (;;) {
        const { done, value } = await reader.read();
        if (!current()) return;
        if (done) break;
        this.heard(abort);
        const events = parse(lines.push(value));
        if (events.length > 0) this.handlers.onEvents(events);
      }
      const rest = lines.rest();
      if (rest !== "") this.handlers.onEvents(parse([rest]));
    } catch (err) {
      if (!current()) return;
      clearTimeout(this.silenceTimer);
      return this.retry(err instanceof SyntaxError ? "the server sent a line that is not JSON" : "connection lost");
    }
    clearTimeout(this.silenceTimer);
    const rest = this.handlers.atRest();
    if (rest) {
      this.abort = undefined;
      this.handlers.onState({ kind: "ended", why: rest });
    } else this.retry("the stream closed before the run ended");
  }

  /** Bytes arrived: the connection lives; silence past three keep-alives aborts it (then a retry). */
  private heard(abort: AbortController): void {
    clearTimeout(this.silenceTimer);
    this.silenceTimer = setTimeout(() => abort.abort(new Error("no keep-alive")), SILENCE_MS);
  }

  private retry(why: string): void {
    if (this.stopped) return;
    this.handlers.onState(this.reconnect.schedule(why, () => void this.connect()));
  }
}
