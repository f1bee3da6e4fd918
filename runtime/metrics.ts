/**
 * The one prom-client registry. Every metric the server exposes is declared here,
 * with the `aragora_` prefix and base units, so operators find every name in one file.
 *
 * @example
 * import { metrics } from "./metrics.ts";
 * metrics.websocketConnections.inc();
 * const text = await registry.metrics(); // Prometheus exposition for GET /api/metrics
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

export const metrics = {
  // HTTP shell
  httpRequestDuration: new Histogram({
    name: "aragora_http_request_duration_seconds",
    help: "HTTP request duration by method, route template and status code",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  }),
  websocketConnections: new Gauge({
    name: "aragora_websocket_connections",
    help: "Open WebSocket connections on both listeners",
    registers: [registry],
  }),
  websocketMessages: new Counter({
    name: "aragora_websocket_messages_total",
    help: "WebSocket messages by direction (in, out)",
    labelNames: ["direction"] as const,
    registers: [registry],
  }),

  authFailures: new Counter({
    name: "aragora_auth_failures_total",
    help: "Rejected credentials, by reason (missing, invalid, disabled)",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),

  // Actor kernel
  actorsAlive: new Gauge({
    name: "aragora_actors_alive",
    help: "Live actors by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorMailboxDepth: new Gauge({
    name: "aragora_actor_mailbox_depth",
    help: "Messages waiting in mailboxes, summed by actor kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorMessagesProcessed: new Counter({
    name: "aragora_actor_messages_processed_total",
    help: "Messages handled by actors, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorRestarts: new Counter({
    name: "aragora_actor_restarts_total",
    help: "Actor restarts performed by supervisors, by kind",
    labelNames: ["kind"] as const,
    registers: [registry],
  }),
  actorDeadLetters: new Counter({
    name: "aragora_actor_dead_letters_total",
    help: "Messages that could not be delivered, by reason",
    labelNames: ["reason"] as const,
    registers: [registry],
  }),
  actorAskTimeouts: new Counter({
    name: "aragora_actor_ask_timeouts_total",
    help: "ask() calls that timed out before a reply",
    registers: [registry],
  }),
  actorLateReplies: new Counter({
    name: "aragora_actor_late_replies_total",
    help: "Replies that arrived after their ask() had timed out and were dropped",
    registers: [registry],
  }),
  // --- providers and agents (issue 4) ---
  // --- debates, receipts, leaderboard (issue 4) ---
  // --- ops playbooks, backups, schedulers (issue 5) ---
};
