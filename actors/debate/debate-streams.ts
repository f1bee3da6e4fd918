/**
 * Live debate streams over the WebSocket gateway. `{"type":"subscribe","debate_id","since_seq"}`
 * registers the subscription first (live events are buffered), replays the log after `since_seq`
 * page by page, then sends the buffered events with seq above the last replayed one and goes live:
 * no gap, no duplicate. A connection may hold many subscriptions; `unsubscribe` ends one.
 *
 * Slow consumers: a connection whose socket keeps more than `bufferLimit` events unsent (or whose
 * replay buffer grows past it) is closed with 4008 and a reason, instead of holding memory.
 *
 * @example
 * const streams = new DebateStreams({ gateway, store, bufferLimit: 1000, log });
 * streams.register();
 * streams.publish("d-42", 7, payload); // called by the EventWriter after commit
 */
import { type } from "arktype";
import type { Connection, WsGateway } from "../../runtime/http/ws-gateway.ts";
import type { Logger } from "../../runtime/log.ts";
import { SubscribeMessage, UnsubscribeMessage } from "../../schemas/debates.ts";
import { type DebateStore, LOCAL_OWNER } from "./debate-store.ts";

/** Close code for a consumer that cannot keep up (application range, like 1008's policy meaning). */
export const SLOW_CONSUMER_CLOSE = 4008;
const REPLAY_PAGE = 500;
/** How long a replay waits for the socket to drain between pages before giving up on the client. */
const REPLAY_DRAIN_MS = 10_000;

interface Subscription {
  conn: Connection;
  debateId: string;
  live: boolean;
  buffer: { seq: number; payload: string }[];
  closed: boolean;
}

interface ConnState {
  subs: Map<string, Subscription>;
  /** Events sent since the socket's outgoing buffer was last seen empty. */
  unsent: number;
}

export interface DebateStreamsOptions {
  gateway: WsGateway;
  store: Pick<DebateStore, "events" | "get">;
  bufferLimit: number;
  log: Logger;
}

export const topicOf = (debateId: string) => `debate:${debateId}`;

export class DebateStreams {
  private readonly byDebate = new Map<string, Set<Subscription>>();
  private readonly byConn = new Map<Connection, ConnState>();

  constructor(private readonly options: DebateStreamsOptions) {}

  /** Add the subscribe/unsubscribe message types and the close hook to the gateway. */
  register(): void {
    const { gateway } = this.options;
    gateway.on("subscribe", (conn, msg) => this.onSubscribe(conn, msg));
    gateway.on("unsubscribe", (conn, msg) => this.onUnsubscribe(conn, msg));
    gateway.onClose((conn) => this.dropConnection(conn));
  }

  /** Subscribers of one debate (live or replaying). */
  subscriberCount(debateId: string): number {
    return this.byDebate.get(debateId)?.size ?? 0;
  }

  /**
   * Deliver one durable event to the debate's subscribers.
   *
   * @example streams.publish("d-42", 7, '{"type":"token",...}')
   */
  publish(debateId: string, seq: number, payload: string): void {
    const subs = this.byDebate.get(debateId);
    if (!subs) return;
    for (const sub of subs) {
      if (sub.live) this.send(sub, payload);
      else {
        sub.buffer.push({ seq, payload });
        if (sub.buffer.length > this.options.bufferLimit) this.disconnectSlow(sub.conn, "replay buffer");
      }
    }
  }

  private onSubscribe(conn: Connection, raw: Record<string, unknown>): void {
    const msg = SubscribeMessage(raw);
    if (msg instanceof type.errors) {
      conn.send(JSON.stringify({ type: "error", code: "invalid_message", message: `subscribe: ${msg.summary}` }));
      return;
    }
    const state = this.stateOf(conn);
    const previous = state.subs.get(msg.debate_id);
    if (previous) this.remove(previous);
    const sub: Subscription = { conn, debateId: msg.debate_id, live: false, buffer: [], closed: false };
    // Registered before anything is read, so every event committed from now on reaches the buffer.
    state.subs.set(msg.debate_id, sub);
    let set = this.byDebate.get(msg.debate_id);
    if (!set) {
      set = new Set();
      this.byDebate.set(msg.debate_id, set);
    }
    set.add(sub);
    this.options.gateway.subscribe(conn, topicOf(msg.debate_id));
    void this.replay(sub, msg.since_seq ?? 0).catch((err) => {
      this.options.log.error({ err, debate_id: sub.debateId, ws_conn: conn.id }, "debate replay failed");
      this.remove(sub);
      conn.send(
        JSON.stringify({ type: "error", code: "internal_error", message: "replay failed", debate_id: sub.debateId }),
      );
    });
  }

  private async replay(sub: Subscription, sinceSeq: number): Promise<void> {
    const { store, log } = this.options;
    const debate = await store.get(sub.debateId, LOCAL_OWNER);
    if (sub.closed) return;
    if (!debate) {
      this.remove(sub);
      sub.conn.send(
        JSON.stringify({
          type: "error",
          code: "not_found",
          message: `no debate ${sub.debateId}`,
          debate_id: sub.debateId,
        }),
      );
      return;
    }
    sub.conn.send(
      JSON.stringify({
        type: "subscribed",
        debate_id: sub.debateId,
        since_seq: sinceSeq,
        topic: topicOf(sub.debateId),
      }),
    );
    let last = sinceSeq;
    for (;;) {
      const page = await store.events(sub.debateId, last, REPLAY_PAGE);
      if (sub.closed) return;
      for (const e of page) {
        if (!this.sendRaw(sub, e.payload)) return;
        last = e.seq;
      }
      if (page.length < REPLAY_PAGE) break;
      if (!(await this.drained(sub))) {
        this.disconnectSlow(sub.conn, "replay");
        return;
      }
    }
    // Same tick as going live: nothing can slip between the buffer and the live path.
    for (const b of sub.buffer) if (b.seq > last && !this.sendRaw(sub, b.payload)) return;
    sub.buffer = [];
    sub.live = true;
    log.debug(
      { debate_id: sub.debateId, ws_conn: sub.conn.id, since_seq: sinceSeq, last_seq: last },
      "debate subscriber live",
    );
  }

  private async drained(sub: Subscription): Promise<boolean> {
    const deadline = performance.now() + REPLAY_DRAIN_MS;
    while (sub.conn.bufferedAmount() > 0) {
      if (sub.closed || performance.now() > deadline) return false;
      await Bun.sleep(5);
    }
    this.stateOf(sub.conn).unsent = 0;
    return !sub.closed;
  }

  private onUnsubscribe(conn: Connection, raw: Record<string, unknown>): void {
    const msg = UnsubscribeMessage(raw);
    if (msg instanceof type.errors) {
      conn.send(JSON.stringify({ type: "error", code: "invalid_message", message: `unsubscribe: ${msg.summary}` }));
      return;
    }
    const sub = this.byConn.get(conn)?.subs.get(msg.debate_id);
    if (sub) this.remove(sub);
    conn.send(JSON.stringify({ type: "unsubscribed", debate_id: msg.debate_id }));
  }

  /** Live send with the slow-consumer check. */
  private send(sub: Subscription, payload: string): void {
    this.sendRaw(sub, payload);
  }

  private sendRaw(sub: Subscription, payload: string): boolean {
    if (sub.closed) return false;
    if (!sub.conn.send(payload)) {
      this.dropConnection(sub.conn);
      return false;
    }
    const state = this.stateOf(sub.conn);
    if (sub.conn.bufferedAmount() === 0) state.unsent = 0;
    else if (++state.unsent > this.options.bufferLimit) {
      this.disconnectSlow(sub.conn, "socket buffer");
      return false;
    }
    return true;
  }

  private disconnectSlow(conn: Connection, where: string): void {
    const limit = this.options.bufferLimit;
    this.options.log.warn({ ws_conn: conn.id, where, limit }, "closing slow WebSocket consumer");
    this.dropConnection(conn);
    conn.close(SLOW_CONSUMER_CLOSE, `slow consumer: more than ${limit} events buffered (ARAGORA_EVENT_BUFFER_SIZE)`);
  }

  private stateOf(conn: Connection): ConnState {
    let state = this.byConn.get(conn);
    if (!state) {
      state = { subs: new Map(), unsent: 0 };
      this.byConn.set(conn, state);
    }
    return state;
  }

  private remove(sub: Subscription): void {
    sub.closed = true;
    sub.buffer = [];
    this.byConn.get(sub.conn)?.subs.delete(sub.debateId);
    const set = this.byDebate.get(sub.debateId);
    set?.delete(sub);
    if (set?.size === 0) this.byDebate.delete(sub.debateId);
    this.options.gateway.unsubscribe(sub.conn, topicOf(sub.debateId));
  }

  private dropConnection(conn: Connection): void {
    const state = this.byConn.get(conn);
    if (!state) return;
    for (const sub of [...state.subs.values()]) this.remove(sub);
    this.byConn.delete(conn);
  }
}
