/**
 * The body of a webhook delivery, written once when the delivery is made and sent byte for byte on
 * every attempt (its signatures are computed over these bytes):
 *
 * ```json
 * {"delivery_id": "dlv-...", "webhook_id": "wh-...", "event_type": "debate_end", "timestamp": "2026-01-01T00:00:00.000Z",
 *  "data": {"debate_id": "d-...", "seq": 42, "round": null, "agent": null, "status": "completed", ...}}
 * ```
 *
 * `delivery_id` is the receiver's key for deduplication (at-least-once delivery may repeat a
 * delivery after a crash; never with another id). A debate event's `data` is its envelope's
 * debate id, seq, round and agent, then its own fields. Written as Python's json.dumps writes it
 * (./python-json.ts), so the runbook's recipient code verifies the signature.
 *
 * @example
 * debateEventBody("dlv-1", "wh-1", { type: "debate_end", debate_id: "d-1", seq: 9, ts, round: null, agent: null, data: {...} })
 */
import { pythonJsonDumps, pythonJsonString } from "./python-json.ts";

/** The envelope of a debate event as the log stores it (schemas/debate-events.ts). */
export interface EventEnvelope {
  type: string;
  debate_id: string;
  seq: number;
  ts: string;
  round: number | null;
  agent: string | null;
  data: Record<string, unknown>;
}

/**
 * A delivery's body.
 *
 * @example deliveryBody({ deliveryId: "dlv-1", webhookId: "wh-1", eventType: "test", timestamp, data: { message: "hi" } })
 */
export function deliveryBody(input: {
  deliveryId: string;
  webhookId: string;
  eventType: string;
  timestamp: string;
  data: Record<string, unknown>;
}): string {
  return pythonJsonDumps({
    delivery_id: input.deliveryId,
    webhook_id: input.webhookId,
    event_type: input.eventType,
    timestamp: input.timestamp,
    data: input.data,
  });
}

/**
 * The body of a delivery of a debate event.
 *
 * @example debateEventBody("dlv-1", "wh-1", JSON.parse(row.payload))
 */
export function debateEventBody(deliveryId: string, webhookId: string, event: EventEnvelope): string {
  return debateEventBodies(event)(deliveryId, webhookId);
}

/**
 * The bodies of the deliveries of one debate event to several endpoints: the event's part (its
 * type, time and data) is written once, each body differs only in its two ids. The same bytes as
 * {@link deliveryBody} writes (./delivery-body.test.ts holds them side by side).
 *
 * @example const bodyOf = debateEventBodies(event); bodyOf("dlv-1", "wh-1"); bodyOf("dlv-2", "wh-2");
 */
export function debateEventBodies(event: EventEnvelope): (deliveryId: string, webhookId: string) => string {
  // The keys after the two ids, in deliveryBody's order, as pythonJsonDumps writes an object's members.
  const rest = pythonJsonDumps({
    event_type: event.type,
    timestamp: event.ts,
    data: { debate_id: event.debate_id, seq: event.seq, round: event.round, agent: event.agent, ...event.data },
  }).slice(1);
  return (deliveryId, webhookId) =>
    `{"delivery_id": ${pythonJsonString(deliveryId)}, "webhook_id": ${pythonJsonString(webhookId)}, ${rest}`;
}
