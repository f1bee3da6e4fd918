/** Messages exchanged on the WebSocket gateway (client -> server and server -> client). */
import { type } from "arktype";
import { DebateEventSchema } from "./debate-events.ts";
import { lazy } from "./lazy.ts";

/**
 * A debate event on the topic `debate:<id>`: the event's envelope itself (its `type` is the event
 * type), as stored in the log and returned by GET /api/debates/:id/events.
 */
export const DebateEventMessage = DebateEventSchema;

/** Every client message is a JSON object with a string `type`; the rest depends on the type. */
export const ClientMessage = lazy(() => type({ type: "string > 0", "+": "ignore" }));

export const PongMessage = lazy(() => type({ type: "'pong'", server_time: "string" }));
export const HeartbeatMessage = lazy(() =>
  type({
    type: "'heartbeat'",
    server_time: "string",
    interval_s: "number",
  }),
);
export const WsErrorMessage = lazy(() => type({ type: "'error'", code: "string", message: "string" }));

export type WsErrorCode =
  | "invalid_json"
  | "invalid_message"
  | "unknown_type"
  | "internal_error"
  | "unauthorized"
  | "forbidden"
  | "mfa_required"
  | "impersonation_forbidden";
