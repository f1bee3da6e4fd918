/** Response bodies of the health and observability routes. */
import { type } from "arktype";

export const HealthResponse = type({
  status: "'healthy' | 'draining'",
  version: "string",
  uptime: "number >= 0",
}).describe("process health; 503 with status draining during shutdown");

export const WsHealthResponse = type({
  status: "'healthy' | 'unavailable'",
  clients: "number.integer >= 0",
  "message?": "string",
}).describe("WebSocket listener health");

export const WsStatsResponse = type({
  connections: "number.integer >= 0",
  messages_in: "number.integer >= 0",
  messages_out: "number.integer >= 0",
  topics: type({ "[string]": "number.integer >= 0" }).describe("subscribers per topic"),
  listeners: type({ api: "boolean", dedicated: "boolean" }).describe("which listeners serve /ws"),
}).describe("WebSocket gateway statistics");

export const MetricsText = type("string").describe("Prometheus text exposition format 0.0.4");
