/**
 * The debate events other features act on once they are committed (webhook deliveries today):
 * each is written to `debate_event_outbox` in the same transaction as the chunk that holds it, so
 * none is lost to a crash between the commit and whatever turns it into deliveries. Readers take the
 * oldest rows ({@link DebateEventOutbox.take}), act on them idempotently, then remove them.
 *
 * @example
 * const rows = await outbox.take(500);       // [{ debateId, seq, type, orgId, payload }, ...]
 * await makeDeliveries(rows);                 // idempotent per (endpoint, debate, seq)
 * await outbox.remove(rows);
 */
import type { StoredEvent } from "./debate-store.ts";

/** The event types that go to the outbox: the ones an organisation can subscribe a webhook to. */
export const OUTBOX_EVENT_TYPES: ReadonlySet<string> = new Set([
  "debate_start",
  "consensus",
  "agent_error",
  "debate_end",
  "receipt_generated",
]);

/**
 * The events of `events` that go to the outbox.
 *
 * @example outboxEvents(batch).length // 0 for a batch of tokens
 */
export function outboxEvents(events: readonly StoredEvent[]): StoredEvent[] {
  return events.filter((e) => OUTBOX_EVENT_TYPES.has(e.type));
}

// Envelopes are written by JSON.stringify with `type` first (event-log.ts), so the type is the
// text between these two offsets: a published payload is recognised without parsing it.
const TYPE_START = '{"type":"'.length;

/**
 * Whether a published envelope is of an outbox type, without parsing it (called for every event
 * published, tokens included).
 *
 * @example isOutboxPayload('{"type":"debate_end","debate_id":...}') // true
 */
export function isOutboxPayload(payload: string): boolean {
  const end = payload.indexOf('"', TYPE_START);
  return end > 0 && OUTBOX_EVENT_TYPES.has(payload.slice(TYPE_START, end));
}

/** One outbox row, with the organisation its debate belongs to. */
export interface OutboxEvent {
  debateId: string;
  seq: number;
  type: string;
  orgId: string;
  /** The envelope exactly as published. */
  payload: string;
}

/** What the debates feature offers to those who act on its committed events. */
export interface DebateEventOutbox {
  /** Up to `limit` of the oldest rows (by debate id, which is time-ordered, then seq). */
  take(limit: number): Promise<OutboxEvent[]>;
  /** Removes these rows (those already removed are ignored). */
  remove(rows: readonly Pick<OutboxEvent, "debateId" | "seq">[]): Promise<void>;
  /**
   * Calls `listener` after each commit that held outbox events (on this process), so a reader need
   * not poll to be prompt; returns the unsubscribe. Rows committed by another process (or before a
   * crash) are only found by taking.
   */
  onCommitted(listener: () => void): () => void;
}
