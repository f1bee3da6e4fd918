/**
 * The WebSocket gateway shared by both listeners (`/ws` on the API port and on the
 * dedicated WS port): connection bookkeeping, ping/pong, heartbeats, typed message
 * dispatch, topic subscriptions and the counters behind GET /api/ws/stats.
 *
 * Actors add message types with {@link WsGateway.on} (the debate actor adds `subscribe`);
 * anything else gets `{"type":"error","code":"unknown_type",...}`.
 *
 * Every connection proved who it is at the upgrade (the same authenticator as HTTP: the shell's
 * request hook on the API listener, {@link WsGateway.routeHandlers}' `beforeHandle` on the
 * dedicated one); its {@link Connection.principal} is what a handler checks a subscription against.
 *
 * Topics ride on Bun's native pub/sub when the listeners' servers are registered with
 * {@link WsGateway.setListening}: a live subscriber's socket is subscribed to the topic and
 * {@link WsGateway.publish} is one `server.publish` per listener, written by Bun to every socket
 * without a JavaScript loop. Sockets of an unregistered listener (or test doubles) are sent to one
 * by one. A subscription may start paused (`live: false`) and be resumed with
 * {@link WsGateway.resume}, so a feature can replay history before live messages flow.
 *
 * @example
 * const gateway = new WsGateway({ heartbeatMs: 15_000, log });
 * gateway.on("echo", (conn, msg) => conn.send(JSON.stringify(msg)));
 * gateway.publish("debate:d-42", JSON.stringify(event));
 */

import { type } from "arktype";
import type { ServerWebSocket } from "bun";
import { ClientMessage, type WsErrorCode } from "../../schemas/ws.ts";
import { jsonValueProblems, MAX_JSON_DEPTH } from "../json-limits.ts";
import type { Logger } from "../log.ts";
import { metrics } from "../metrics.ts";
import type { Permission } from "../security/rbac.ts";
import { adminRefusal } from "./admin-gate.ts";
import { carriesCredentials } from "./authenticators.ts";
import { HttpError } from "./errors.ts";
import { allowed, unauthorized } from "./permission.ts";
import type { Authenticator, Principal } from "./principal.ts";
import { stateOf } from "./request-state.ts";

/** The socket surface the gateway needs; Bun's ServerWebSocket satisfies it. */
export type Socket = Pick<ServerWebSocket<unknown>, "send" | "close"> &
  Partial<Pick<ServerWebSocket<unknown>, "getBufferedAmount">> & {
    /** Join / leave a topic of the socket's server (Bun's native pub/sub). */
    subscribe?(topic: string): unknown;
    unsubscribe?(topic: string): unknown;
  };

/** What the gateway needs of a listener's server (Bun's Server) to publish natively. */
export interface PublishingServer {
  publish(topic: string, data: string): number;
}

/** One topic's subscribers: all of them (stats), and the live ones by delivery path. */
interface TopicSubscribers {
  all: Set<Connection>;
  /** Live subscribers reached by server.publish. */
  native: number;
  /** Live subscribers sent to one by one (no native socket). */
  direct: Set<Connection>;
}

export interface Connection {
  readonly id: number;
  readonly socket: Socket;
  /** Who opened it (found at the upgrade); undefined only for sockets opened without one (tests). */
  readonly principal: Principal | undefined;
  /** Topics subscribed to; the value says whether live messages flow (false: paused). */
  readonly topics: Map<string, boolean>;
  /** Send a JSON-encoded payload, counting it; returns false when the socket is gone. */
  send(payload: string): boolean;
  /** Bytes queued on the socket and not yet written (backpressure); 0 when the socket cannot tell. */
  bufferedAmount(): number;
  close(code: number, reason: string): void;
}

export type MessageHandler = (conn: Connection, msg: { type: string } & Record<string, unknown>) => void;

/** How a message type is guarded: the permission its sender's principal needs (like a route's). */
export interface MessageOptions {
  permission?: Permission;
}

interface Registered {
  handler: MessageHandler;
  permission: Permission | undefined;
}

export interface WsGatewayOptions {
  heartbeatMs: number;
  log: Logger;
  now?: () => Date;
}

export class WsGateway {
  private readonly connections = new Map<Socket, Connection>();
  private readonly topics = new Map<string, TopicSubscribers>();
  /** Servers of the listeners, for native publish (one per listener that registered it). */
  private readonly servers = new Map<"api" | "dedicated", PublishingServer>();
  private readonly handlers = new Map<string, Registered>();
  /** Handlers chosen by a field's presence, ahead of the plain handler for the same type. */
  private readonly fieldHandlers = new Map<string, ({ field: string } & Registered)[]>();
  private readonly closeListeners: Array<(conn: Connection) => void> = [];
  private readonly listeners = { api: false, dedicated: false };
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Connections whose sockets belong to a registered server (they can subscribe natively). */
  private readonly native = new WeakSet<Connection>();
  /** Principals found by the dedicated listener's upgrade check, until the socket opens. */
  private readonly upgrading = new WeakMap<Request, Principal>();
  private nextId = 1;
  private messagesIn = 0;
  private messagesOut = 0;
  private readonly now: () => Date;

  constructor(private readonly options: WsGatewayOptions) {
    this.now = options.now ?? (() => new Date());
    this.on("ping", (conn) => {
      conn.send(JSON.stringify({ type: "pong", server_time: this.now().toISOString() }));
    });
  }

  /**
   * Register the handler for one client message type. With a `permission`, a message from a
   * connection whose principal lacks it is answered `forbidden` (`unauthorized` without a
   * principal) and never reaches the handler.
   *
   * @example gateway.on("subscribe", (conn, msg) => follow(conn, msg), { permission: "debates.read" });
   */
  on(type: string, handler: MessageHandler, options: MessageOptions = {}): void {
    this.handlers.set(type, { handler, permission: options.permission });
  }

  /**
   * Register a handler for messages of `type` that carry `field`, so two features can share one
   * message type by shape: `{"type":"subscribe","topic":"ops:r-1"}` (ops) beside
   * `{"type":"subscribe","debate_id":"d-42"}` (debates, registered with {@link on}).
   *
   * @example
   * gateway.onField("subscribe", "topic", (conn, msg) => subscribeToRun(conn, String(msg.topic)));
   */
  onField(type: string, field: string, handler: MessageHandler, options: MessageOptions = {}): void {
    const list = this.fieldHandlers.get(type) ?? [];
    list.push({ field, handler, permission: options.permission });
    this.fieldHandlers.set(type, list);
  }

  /** Be told when a connection closes, so per-connection state kept outside the gateway is released. */
  onClose(listener: (conn: Connection) => void): void {
    this.closeListeners.push(listener);
  }

  /**
   * Record that a listener serves /ws, so /api/health/ws can tell "unavailable" apart. With its
   * `server`, topics reach that listener's sockets through Bun's native publish; register the
   * server of every listener whose sockets this gateway serves, before they connect.
   *
   * @example gateway.setListening("api", true, app.server);
   */
  setListening(which: "api" | "dedicated", up: boolean, server?: PublishingServer | null): void {
    this.listeners[which] = up;
    if (up && server) this.servers.set(which, server);
    if (!up) this.servers.delete(which);
  }

  get available(): boolean {
    return this.listeners.api || this.listeners.dedicated;
  }

  get clientCount(): number {
    return this.connections.size;
  }

  /** Start the heartbeat timer; called once both listeners are up. */
  start(): void {
    if (this.heartbeat) return;
    const intervalS = this.options.heartbeatMs / 1000;
    this.heartbeat = setInterval(() => {
      const beat = JSON.stringify({ type: "heartbeat", server_time: this.now().toISOString(), interval_s: intervalS });
      for (const conn of this.connections.values()) conn.send(beat);
    }, this.options.heartbeatMs);
  }

  /**
   * Register an opened socket, acting for `principal` (who proved themselves at the upgrade).
   *
   * @example gateway.open(ws.raw, principal);
   */
  open(socket: Socket, principal?: Principal): void {
    const gateway = this;
    const conn: Connection = {
      id: this.nextId++,
      socket,
      principal,
      topics: new Map(),
      send(payload) {
        const status = socket.send(payload);
        if (status === 0) return false;
        gateway.messagesOut++;
        metrics.websocketMessages.inc({ direction: "out" });
        return true;
      },
      bufferedAmount() {
        return socket.getBufferedAmount?.() ?? 0;
      },
      close(code, reason) {
        socket.close(code, reason);
      },
    };
    this.connections.set(socket, conn);
    if (this.servers.size > 0 && typeof socket.subscribe === "function") this.native.add(conn);
    metrics.websocketConnections.set(this.connections.size);
    this.options.log.debug({ ws_conn: conn.id }, "websocket connected");
  }

  /**
   * Dispatch one client message. `data` is the frame as the listener delivers it:
   * a string, bytes, or an object a framework already parsed from JSON.
   */
  message(socket: Socket, data: unknown): void {
    const conn = this.connections.get(socket);
    if (!conn) return;
    this.messagesIn++;
    metrics.websocketMessages.inc({ direction: "in" });
    let parsed: unknown = data;
    if (typeof data === "string" || data instanceof Uint8Array || data instanceof ArrayBuffer) {
      const text = typeof data === "string" ? data : new TextDecoder().decode(data);
      try {
        parsed = JSON.parse(text);
      } catch {
        this.sendError(conn, "invalid_json", "message is not valid JSON");
        return;
      }
    }
    // The body gate's rules (json-body.ts): no nesting past MAX_JSON_DEPTH, no lone surrogates or
    // NUL in strings, no non-finite numbers, before any handler or schema walks the message.
    const problems = jsonValueProblems(parsed, "message", MAX_JSON_DEPTH, 3);
    if (problems.length > 0) {
      this.sendError(conn, "invalid_message", problems.map((p) => `${p.field}: ${p.rule}`).join("; "));
      return;
    }
    const msg = ClientMessage(parsed);
    if (msg instanceof type.errors) {
      this.sendError(conn, "invalid_message", `message must be a JSON object with a string "type": ${msg.summary}`);
      return;
    }
    const byField = this.fieldHandlers
      .get(msg.type)
      ?.find((h) => (msg as Record<string, unknown>)[h.field] !== undefined);
    const registered = byField ?? this.handlers.get(msg.type);
    if (!registered) {
      this.sendError(
        conn,
        "unknown_type",
        `unknown message type "${msg.type}"; known: ${[...this.handlers.keys()].join(", ")}`,
      );
      return;
    }
    if (registered.permission !== undefined && !this.permits(conn, registered.permission, msg.type)) return;
    try {
      registered.handler(conn, msg as { type: string } & Record<string, unknown>);
    } catch (err) {
      // A message about a debate (subscribe, unsubscribe) names it: every line about a debate carries its id.
      const about = (msg as { debate_id?: unknown }).debate_id;
      this.options.log.error(
        { err, ws_conn: conn.id, type: msg.type, ...(typeof about === "string" ? { debate_id: about } : {}) },
        "websocket handler failed",
      );
      this.sendError(conn, "internal_error", "the server could not handle this message");
    }
  }

  /**
   * The handlers of a `.ws("/ws", ...)` route, so both listeners serve the same gateway. On the API
   * listener the shell's request hook has authenticated the upgrade already; a listener without
   * that hook passes the `authenticator`, and an upgrade without a principal is refused (thrown
   * HttpError, answered by the listener's error mapper) before the socket opens.
   *
   * @example
   * new Elysia().ws("/ws", { ...gateway.routeHandlers(), detail: { hide: true } });
   * new Elysia().onError(mapper).ws("/ws", gateway.routeHandlers({ authenticator }));
   */
  routeHandlers(options: { authenticator?: Authenticator } = {}) {
    const { authenticator } = options;
    const admit = (request: Request, found: Principal | HttpError | undefined) => {
      if (found === undefined) {
        metrics.authFailures.inc({ reason: carriesCredentials(request) ? "invalid" : "missing" });
        throw unauthorized();
      }
      if (found instanceof HttpError) {
        metrics.authFailures.inc({ reason: found.code });
        throw found;
      }
      this.upgrading.set(request, found);
    };
    const principalOf = (request: Request | undefined) =>
      request === undefined ? undefined : (stateOf(request)?.principal ?? this.upgrading.get(request));
    return {
      ...(authenticator
        ? {
            beforeHandle: ({ request }: { request: Request }) => {
              const found = authenticator.authenticate(request, request.headers);
              if (found instanceof Promise) return found.then((resolved) => admit(request, resolved));
              admit(request, found);
            },
          }
        : {}),
      open: (ws: { raw: Socket; data?: { request?: Request } }) => this.open(ws.raw, principalOf(ws.data?.request)),
      message: (ws: { raw: Socket }, message: unknown) => this.message(ws.raw, message),
      close: (ws: { raw: Socket }, code: number, reason: string) => this.close(ws.raw, code, reason),
    };
  }

  close(socket: Socket, code: number, reason: string): void {
    const conn = this.connections.get(socket);
    if (!conn) return;
    this.connections.delete(socket);
    // Bun drops a closed socket's native subscriptions itself.
    for (const [topic, live] of conn.topics) this.removeSubscriber(topic, conn, live);
    for (const listener of this.closeListeners) listener(conn);
    metrics.websocketConnections.set(this.connections.size);
    this.options.log.debug({ ws_conn: conn.id, code, reason }, "websocket closed");
  }

  /**
   * Subscribe a connection to a topic. `live: false` registers it (it counts in stats) without
   * delivering published messages until {@link resume}.
   *
   * @example gateway.subscribe(conn, "debate:d-42", { live: false }); ...replay...; gateway.resume(conn, "debate:d-42");
   */
  subscribe(conn: Connection, topic: string, options: { live?: boolean } = {}): void {
    if (conn.topics.has(topic)) this.unsubscribe(conn, topic);
    const live = options.live ?? true;
    conn.topics.set(topic, live);
    let subs = this.topics.get(topic);
    if (!subs) {
      subs = { all: new Set(), native: 0, direct: new Set() };
      this.topics.set(topic, subs);
    }
    subs.all.add(conn);
    if (live) this.startDelivery(subs, conn, topic);
  }

  /** Start delivering a paused subscription's messages; a no-op when it is live or absent. */
  resume(conn: Connection, topic: string): void {
    const subs = this.topics.get(topic);
    if (!subs || conn.topics.get(topic) !== false) return;
    conn.topics.set(topic, true);
    this.startDelivery(subs, conn, topic);
  }

  unsubscribe(conn: Connection, topic: string): void {
    const live = conn.topics.get(topic);
    if (live === undefined) return;
    conn.topics.delete(topic);
    if (live && this.native.has(conn)) conn.socket.unsubscribe?.(topic);
    this.removeSubscriber(topic, conn, live);
  }

  /** Live subscribers of a topic (paused ones excluded). */
  liveSubscribers(topic: string): number {
    const subs = this.topics.get(topic);
    return subs ? subs.native + subs.direct.size : 0;
  }

  /**
   * Send a payload to every live subscriber of a topic; returns how many it was handed to (Bun
   * queues it on each socket; a socket past its backpressure limit is the slow-consumer check's job).
   */
  publish(topic: string, payload: string): number {
    const subs = this.topics.get(topic);
    if (!subs) return 0;
    let sent = 0;
    if (subs.native > 0) {
      for (const server of this.servers.values()) server.publish(topic, payload);
      sent = subs.native;
      this.messagesOut += sent;
      metrics.websocketMessages.inc({ direction: "out" }, sent);
    }
    for (const conn of subs.direct) if (conn.send(payload)) sent++;
    return sent;
  }

  stats() {
    const topics: Record<string, number> = {};
    for (const [topic, subs] of this.topics) topics[topic] = subs.all.size;
    return {
      connections: this.connections.size,
      messages_in: this.messagesIn,
      messages_out: this.messagesOut,
      topics,
      listeners: { ...this.listeners },
    };
  }

  /** Stop heartbeats and close every connection (1001 "going away" at shutdown). */
  closeAll(code = 1001, reason = "server shutting down"): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const conn of [...this.connections.values()]) conn.close(code, reason);
  }

  /** The permission check of a guarded message type, counted like a route's (permission.ts). */
  private permits(conn: Connection, permission: Permission, type: string): boolean {
    const principal = conn.principal;
    // Roles and, for a narrowed API key, its scopes: the same check as a route's.
    if (principal !== undefined && allowed(principal, permission)) {
      // An admin topic (ops:) asks a person for a second factor, as an admin route does.
      const refusal = adminRefusal(principal, permission);
      if (refusal === undefined) {
        metrics.rbacPermissionChecks.inc({ permission, result: "granted" });
        return true;
      }
      metrics.rbacPermissionChecks.inc({ permission, result: "denied" });
      metrics.rbacPermissionDenied.inc({ permission, handler: `WS ${type}` });
      this.sendError(conn, refusal.code as WsErrorCode, refusal.message);
      return false;
    }
    metrics.rbacPermissionChecks.inc({ permission, result: principal === undefined ? "unauthenticated" : "denied" });
    metrics.rbacPermissionDenied.inc({ permission, handler: `WS ${type}` });
    if (principal === undefined) this.sendError(conn, "unauthorized", "this connection proved no identity");
    else
      this.sendError(
        conn,
        "forbidden",
        `"${type}" needs the permission ${permission}, which your roles (or your key's scopes) do not grant`,
      );
    return false;
  }

  private sendError(conn: Connection, code: WsErrorCode, message: string): void {
    conn.send(JSON.stringify({ type: "error", code, message }));
  }

  private startDelivery(subs: TopicSubscribers, conn: Connection, topic: string): void {
    if (this.native.has(conn)) {
      conn.socket.subscribe?.(topic);
      subs.native++;
    } else subs.direct.add(conn);
  }

  private removeSubscriber(topic: string, conn: Connection, live: boolean): void {
    const subs = this.topics.get(topic);
    if (!subs?.all.delete(conn)) return;
    if (live) {
      if (this.native.has(conn)) subs.native--;
      else subs.direct.delete(conn);
    }
    if (subs.all.size === 0) this.topics.delete(topic);
  }
}
