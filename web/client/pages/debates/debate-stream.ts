/**
 * A debate's events over the WebSocket protocol, kept flowing across dropped connections. Each
 * connection takes a fresh one-use ticket (POST /api/auth/ws-ticket: a browser cannot put the
 * session on the upgrade) and subscribes with `since_seq` = the last seq it handed on, so the
 * server replays exactly what was missed and goes live: no gap, no duplicate. A connection that
 * closes, errors, or stays silent past three heartbeat intervals is replaced after a short,
 * growing wait (0.25 s doubling to 8 s). The stream ends itself once the receipt event arrived, or
 * the debate ended and nothing followed for a while.
 *
 * @example
 * const stream = new DebateStream("d-42", {
 *   lastSeq: () => model.lastSeq,
 *   onEvent: (e) => applyEvent(model, e),
 *   onState: (s) => (status.value = s),
 * });
 * stream.start();
 * // later: stream.stop();
 */
import { ApiError, api } from "../../api.ts";
import { Reconnect, type Reconnecting } from "../../reconnect.ts";
import type { DebateEvent } from "./debate-model.ts";

export type StreamState =
  | { kind: "connecting" }
  | { kind: "live" }
  | Reconnecting
  | { kind: "ended" }
  | { kind: "failed"; message: string };

export interface StreamHandlers {
  /** The seq to resume after (the last one applied). */
  lastSeq: () => number;
  onEvent: (event: DebateEvent) => void;
  onState: (state: StreamState) => void;
}

/** The longest wait between attempts. */
const MAX_RETRY_MS = 8000;
/** After debate_end, how long to wait for the receipt event before closing. */
const AFTER_END_MS = 10_000;

export class DebateStream {
  private socket: WebSocket | undefined;
  private stopped = false;
  private readonly reconnect = new Reconnect(MAX_RETRY_MS);
  private silenceTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private silenceMs = 45_000;

  constructor(
    private readonly debateId: string,
    private readonly handlers: StreamHandlers,
  ) {}

  start(): void {
    this.stopped = false;
    void this.connect();
  }

  /** Close for good (the page is left, or the debate is over). */
  stop(): void {
    this.stopped = true;
    this.reconnect.cancel();
    clearTimeout(this.silenceTimer);
    clearTimeout(this.endTimer);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000, "done");
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.handlers.onState({ kind: "connecting" });
    let ticket: string;
    try {
      ticket = (await api.post<{ ticket: string }>("/api/auth/ws-ticket")).ticket;
    } catch (err) {
      // Signed out or refused: retrying will not help; a network error will.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        this.handlers.onState({ kind: "failed", message: err.message });
        return;
      }
      this.retry(err instanceof Error ? err.message : String(err));
      return;
    }
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws?ticket=${encodeURIComponent(ticket)}`);
    this.socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "subscribe", debate_id: this.debateId, since_seq: this.handlers.lastSeq() }));
      this.heard();
    });
    socket.addEventListener("message", (e) => {
      if (socket !== this.socket) return;
      this.heard();
      this.onMessage(String(e.data));
    });
    socket.addEventListener("close", (e) => {
      if (socket !== this.socket) return;
      this.socket = undefined;
      clearTimeout(this.silenceTimer);
      if (!this.stopped) this.retry(e.reason || `connection closed (${e.code})`);
    });
  }

  private onMessage(text: string): void {
    let msg: { type?: unknown; seq?: unknown; code?: unknown; message?: unknown; interval_s?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "subscribed") {
      this.reconnect.succeeded();
      this.handlers.onState({ kind: "live" });
      return;
    }
    if (msg.type === "heartbeat") {
      if (typeof msg.interval_s === "number") this.silenceMs = msg.interval_s * 3000;
      return;
    }
    if (msg.type === "error") {
      const message = typeof msg.message === "string" ? msg.message : "the server refused the subscription";
      if (msg.code === "internal_error") {
        this.socket?.close(4000, message);
        return;
      }
      this.handlers.onState({ kind: "failed", message });
      this.stop();
      return;
    }
    if (typeof msg.seq !== "number") return;
    const event = msg as unknown as DebateEvent;
    this.handlers.onEvent(event);
    if (event.type === "receipt_generated") {
      this.handlers.onState({ kind: "ended" });
      this.stop();
    } else if (event.type === "debate_end") {
      this.endTimer = setTimeout(() => {
        this.handlers.onState({ kind: "ended" });
        this.stop();
      }, AFTER_END_MS);
    }
  }

  /** Something arrived: the connection is alive; a silence past three heartbeats means it is not. */
  private heard(): void {
    clearTimeout(this.silenceTimer);
    const socket = this.socket;
    this.silenceTimer = setTimeout(() => socket?.close(4001, "no heartbeat"), this.silenceMs);
  }

  private retry(why: string): void {
    if (this.stopped) return;
    this.handlers.onState(this.reconnect.schedule(why, () => void this.connect()));
  }
}
