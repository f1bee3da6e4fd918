/** Response bodies of the health and observability routes. */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const StoreHealthBody = lazy(() =>
  type({
    writable: "boolean",
    failing: type({
      part: type("string").describe("the store part that failed: debates, event_log, nodes, core"),
      reason: "'full' | 'corrupt' | 'read_only' | 'io_error' | 'locked' | 'unavailable'",
      since: type("string").describe("ISO time of the first failure of this run"),
      failures: "number.integer >= 0",
      error: type("string").describe("the database's message of the last failure"),
    })
      .array()
      .describe("the parts whose last write failed"),
    unwritten_events: type("number.integer >= 0").describe("debate events waiting to be written"),
  }).describe("whether the store can write"),
);

export const HealthResponse = lazy(() =>
  type({
    status: "'healthy' | 'draining' | 'unhealthy'",
    version: "string",
    uptime: "number >= 0",
    "store?": StoreHealthBody,
  }).describe(
    "process health; 503 with status draining during shutdown, 503 unhealthy (and `store` says why) while the store cannot write",
  ),
);

export const WsHealthResponse = lazy(() =>
  type({
    status: "'healthy' | 'unavailable'",
    clients: "number.integer >= 0",
    "message?": "string",
  }).describe("WebSocket listener health"),
);

export const WsStatsResponse = lazy(() =>
  type({
    connections: "number.integer >= 0",
    messages_in: "number.integer >= 0",
    messages_out: "number.integer >= 0",
    topics: type({ "[string]": "number.integer >= 0" }).describe("subscribers per topic"),
    listeners: type({ api: "boolean", dedicated: "boolean" }).describe("which listeners serve /ws"),
  }).describe("WebSocket gateway statistics"),
);

export const MetricsText = lazy(() => type("string").describe("Prometheus text exposition format 0.0.4"));
