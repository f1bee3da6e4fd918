/**
 * Live debate streams over the WebSocket gateway. `{"type":"subscribe","debate_id","since_seq"}`
 * registers the subscription first (live events are buffered), replays the log after `since_seq`
 * page by page, then sends the buffered events with seq above the last replayed one and goes live:
 * no gap, no duplicate. A connection may hold many subscriptions; `unsubscribe` ends one.
 *
 * A subscription needs debates.read on the connection's principal (checked by the gateway), and
 * reaches only the debates of its organisation: another organisation's debate answers exactly as a
 * debate that does not exist (`not_found`).
 *
 * Live events go out through the gateway's topic publish (Bun's native pub/sub: one
 * `server.publish` per event, whatever the number of subscribers); the subscription's socket joins
 * the topic in the same tick as the replay ends, so nothing slips between the two. Events other
 * connections can already read but the writer has not published yet (a batch whose commit is not
 * acknowledged yet, a debate's closing transaction) are left out of the replay: the live publish
 * brings them, once.
 *
 * Slow consumers: a connection whose socket keeps more than `bufferLimit` events unsent (or whose
 * replay buffer grows past it) is closed with 4008 and a reason, instead of holding memory. Live
 * sends are not checked one by one: every {@link SLOW_CHECK_MS} each connection counts the events
 * published to its debates since it was last caught up (the events it may still hold); only when
 * that passes half the limit is its socket buffer read (a native call; a thousand sockets every
 * 50 ms was 5% of the event loop): an empty one marks its subscriptions caught up, a non-empty one
 * past the limit is closed.
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
import type { DebateStore } from "./debate-store.ts";
import { debateIdsForLog } from "./event-log.ts";

/** Close code for a consumer that cannot keep up (application range, like 1008's policy meaning). */
export const SLOW_CONSUMER_CLOSE = 4008;
const REPLAY_PAGE = 500;
/** How often live subscribers' socket buffers are looked at. */
export const SLOW_CHECK_MS = 50;
/** How long a replay waits for the socket to drain between pages before giving up on the client. */
const REPLAY_DRAIN_MS = 10_000;

interface Subscription {
  conn: Connection;
  debateId: string;
  live: boolean;
  buffer: { seq: number; payload: string }[];
  closed: boolean;
  /** The debate's published count when this socket's buffer was last seen empty. */
  caughtUp: number;
}

interface ConnState {
  subs: Map<string, Subscription>;
  /** Replay sends since the socket's outgoing buffer was last seen empty. */
  unsent: number;
}

export interface DebateStreamsOptions {
  gateway: WsGateway;
  store: Pick<DebateStore, "events" | "get">;
  bufferLimit: number;
  log: Logger;
  /**
   * The debate's lowest seq that may be committed but not published yet (EventWriter.firstUnpublished):
   * a replay stops below it, so an event the live publish is about to deliver is not sent twice.
   */
  firstUnpublished?: (debateId: string) => number | undefined;
}

export const topicOf = (debateId: string) => `debate:${debateId}`;

export class DebateStreams {
  private readonly byDebate = new Map<string, Set<Subscription>>();
  /** Subscriptions still replaying, per debate: live events are buffered for them. */
  private readonly replaying = new Map<string, Set<Subscription>>();
  /** Events published per debate with subscribers (the slow-consumer check's clock). */
  private readonly published = new Map<string, number>();
  private readonly byConn = new Map<Connection, ConnState>();
  private liveCount = 0;
  private checker: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly options: DebateStreamsOptions) {}

  /** Add the subscribe/unsubscribe message types and the close hook to the gateway. */
  register(): void {
    const { gateway } = this.options;
    gateway.on("subscribe", (conn, msg) => this.onSubscribe(conn, msg), { permission: "debates.read" });
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
    const count = this.published.get(debateId);
    if (count === undefined) return;
    this.published.set(debateId, count + 1);
    const replaying = this.replaying.get(debateId);
    if (replaying) {
      for (const sub of replaying) {
        sub.buffer.push({ seq, payload });
        if (sub.buffer.length > this.options.bufferLimit) this.disconnectSlow(sub.conn, "replay buffer", debateId);
      }
    }
    this.options.gateway.publish(topicOf(debateId), payload);
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
    const sub: Subscription = { conn, debateId: msg.debate_id, live: false, buffer: [], closed: false, caughtUp: 0 };
    // Registered before anything is read, so every event committed from now on reaches the buffer.
    state.subs.set(msg.debate_id, sub);
    let set = this.byDebate.get(msg.debate_id);
    if (!set) {
      set = new Set();
      this.byDebate.set(msg.debate_id, set);
      this.published.set(msg.debate_id, 0);
    }
    set.add(sub);
    let replaying = this.replaying.get(msg.debate_id);
    if (!replaying) {
      replaying = new Set();
      this.replaying.set(msg.debate_id, replaying);
    }
    replaying.add(sub);
    // Counted as a subscriber at once; live events reach the socket only from resume() on.
    this.options.gateway.subscribe(conn, topicOf(msg.debate_id), { live: false });
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
    // The gateway lets only a connection with a principal through (debates.read); without one
    // (a connection made by hand) there is no organisation whose debate this could be.
    const orgId = sub.conn.principal?.orgId;
    const debate = orgId === undefined ? null : await store.get(sub.debateId, orgId);
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
      // Read right after the page, in the same tick: what the writer published by now is in the
      // buffer too (skipped below by seq); what it has not, the live publish delivers.
      const first = this.options.firstUnpublished?.(sub.debateId);
      let unpublished = false;
      for (const e of page) {
        if (first !== undefined && e.seq >= first) {
          unpublished = true;
          break;
        }
        if (!this.sendRaw(sub, e.payload)) return;
        last = e.seq;
      }
      if (unpublished || page.length < REPLAY_PAGE) break;
      if (!(await this.drained(sub))) {
        this.disconnectSlow(sub.conn, "replay", sub.debateId);
        return;
      }
    }
    // Same tick as going live: nothing can slip between the buffer and the live path.
    for (const b of sub.buffer) if (b.seq > last && !this.sendRaw(sub, b.payload)) return;
    sub.buffer = [];
    sub.live = true;
    this.leaveReplay(sub);
    sub.caughtUp = this.published.get(sub.debateId) ?? 0;
    this.options.gateway.resume(sub.conn, topicOf(sub.debateId));
    this.liveCount++;
    if (!this.checker) {
      this.checker = setInterval(() => this.checkSlowConsumers(), SLOW_CHECK_MS);
      this.checker.unref?.();
    }
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

  /**
   * The live slow-consumer check: a socket whose buffer is empty has caught up with every debate it
   * follows; otherwise the events published to those debates since it last caught up may all be
   * unsent, and more than `bufferLimit` of them closes it.
   */
  private checkSlowConsumers(): void {
    const half = this.options.bufferLimit / 2;
    for (const [conn, state] of this.byConn) {
      let behind = 0;
      for (const sub of state.subs.values()) {
        if (sub.live) behind += (this.published.get(sub.debateId) ?? 0) - sub.caughtUp;
      }
      if (behind <= half) continue;
      if (conn.bufferedAmount() === 0) {
        for (const sub of state.subs.values()) if (sub.live) sub.caughtUp = this.published.get(sub.debateId) ?? 0;
      } else if (behind > this.options.bufferLimit)
        this.disconnectSlow(conn, "socket buffer", this.furthestBehind(state));
    }
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
      this.disconnectSlow(sub.conn, "socket buffer", sub.debateId);
      return false;
    }
    return true;
  }

  /** The live debate whose events a connection holds most of unsent (the one to name first). */
  private furthestBehind(state: ConnState): string | undefined {
    let worst: string | undefined;
    let most = -1;
    for (const sub of state.subs.values()) {
      const behind = sub.live ? (this.published.get(sub.debateId) ?? 0) - sub.caughtUp : -1;
      if (behind > most) {
        most = behind;
        worst = sub.debateId;
      }
    }
    return worst;
  }

  /**
   * Close a connection that cannot keep up. The log line names the debate that tipped it over
   * (`debate_id`) and every debate the connection followed (`debate_ids`): all lose their stream.
   */
  private disconnectSlow(conn: Connection, where: string, debateId?: string): void {
    const limit = this.options.bufferLimit;
    const followed = this.byConn.get(conn)?.subs.keys() ?? [];
    const ids = debateIdsForLog(debateId === undefined ? followed : [debateId, ...followed]);
    this.options.log.warn({ ws_conn: conn.id, ...ids, where, limit }, "closing slow WebSocket consumer");
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

  private leaveReplay(sub: Subscription): void {
    const replaying = this.replaying.get(sub.debateId);
    replaying?.delete(sub);
    if (replaying?.size === 0) this.replaying.delete(sub.debateId);
  }

  private remove(sub: Subscription): void {
    if (sub.closed) return;
    sub.closed = true;
    sub.buffer = [];
    if (sub.live && --this.liveCount === 0 && this.checker) {
      clearInterval(this.checker);
      this.checker = undefined;
    }
    this.leaveReplay(sub);
    this.byConn.get(sub.conn)?.subs.delete(sub.debateId);
    const set = this.byDebate.get(sub.debateId);
    set?.delete(sub);
    if (set?.size === 0) {
      this.byDebate.delete(sub.debateId);
      this.published.delete(sub.debateId);
    }
    this.options.gateway.unsubscribe(sub.conn, topicOf(sub.debateId));
  }

  private dropConnection(conn: Connection): void {
    const state = this.byConn.get(conn);
    if (!state) return;
    for (const sub of [...state.subs.values()]) this.remove(sub);
    this.byConn.delete(conn);
  }
}
