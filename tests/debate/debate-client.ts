/**
 * What an operator does with a debate over the public interface, for the end-to-end suites:
 * POST /api/debates, watch it on the WebSocket until its receipt, read the record, and check that
 * the streamed token events reassemble every turn's text.
 *
 * @example
 * const id = await createDebate(server, { question: "Tabs or spaces?", agents, rounds: 1 });
 * const { events, record } = await watchDebate(server, id);
 * expectTokensReassemble(events);
 */
import { expect } from "bun:test";
import type { TestServer } from "../support/server.ts";

export interface WireEvent {
  type: string;
  debate_id: string;
  seq: number;
  ts: string;
  round: number | null;
  agent: string | null;
  data: Record<string, unknown>;
}

export interface UsageView {
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  reasoning_tokens: number;
  estimated: boolean;
}

export interface DebateRecordView {
  debate_id: string;
  status: string;
  stop_reason: string | null;
  error: string | null;
  agents: string[];
  config: Record<string, unknown>;
  consensus: { reached: boolean; answer: string | null; votes: { voter: string }[] } | null;
  summary: {
    agents: Record<
      string,
      { turns: number; usage: UsageView; cost_usd: number; cost_estimated: boolean; latency_ms: number }
    >;
    totals: { tokens: number; cost_usd: number };
    failed_seats: Record<string, string>;
    rounds_completed: number;
    final_answers: Record<string, string>;
  } | null;
}

/** Start a debate; asserts the 201. @example await createDebate(server, { question: "?" }) */
export async function createDebate(server: TestServer, body: Record<string, unknown>): Promise<string> {
  const res = await server.fetch(`/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const created = (await res.json()) as { debate_id: string; status: string };
  expect(res.status, JSON.stringify(created)).toBe(201);
  return created.debate_id;
}

/**
 * Subscribe from seq 0 and collect every event until receipt_generated; then read the record.
 * Asserts the stream had no gap and no duplicate.
 *
 * @example const { events, record } = await watchDebate(server, id);
 */
export async function watchDebate(
  server: TestServer,
  id: string,
  timeoutMs = 30_000,
): Promise<{ events: WireEvent[]; record: DebateRecordView }> {
  const socket = await server.socket(server.ws);
  try {
    socket.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    await socket.next((m) => m.type === "receipt_generated" && m.debate_id === id, timeoutMs);
    const events = [
      ...(socket.messages.filter((m) => m.debate_id === id && typeof m.seq === "number") as unknown as WireEvent[]),
    ];
    events.sort((a, b) => a.seq - b.seq);
    const receipt = (await (await server.fetch(`/api/debates/${id}/events?since_seq=${events.length}`)).json()) as {
      events: WireEvent[];
    };
    events.push(...receipt.events);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    return { events, record: await settledRecord(server, id) };
  } finally {
    socket.ws.close();
  }
}

/** The record right after receipt_generated: the server finalises it before sending that event. */
async function settledRecord(server: TestServer, id: string): Promise<DebateRecordView> {
  const record = (await (await server.fetch(`/api/debates/${id}`)).json()) as DebateRecordView;
  expect(record.status).not.toBe("running");
  return record;
}

const turnOf = (e: WireEvent) => `${e.round}|${e.agent}|${String(e.data.phase ?? "")}`;

/**
 * Every turn_end's text equals the token deltas streamed for it since its turn_start or its last
 * fallback (a fallback discards the partial output). Returns the number of turns checked.
 *
 * @example expect(expectTokensReassemble(events)).toBeGreaterThan(0);
 */
export function expectTokensReassemble(events: WireEvent[]): number {
  const streamed = new Map<string, string>();
  let turns = 0;
  for (const e of events) {
    const key = turnOf(e);
    if (e.type === "turn_start" || e.type === "fallback") streamed.set(key, "");
    else if (e.type === "token") streamed.set(key, (streamed.get(key) ?? "") + String(e.data.text));
    else if (e.type === "turn_end") {
      expect(streamed.get(key), `tokens of turn ${key}`).toBe(String(e.data.text));
      turns++;
    }
  }
  return turns;
}

/** Events of one type (and agent). @example ofType(events, "agent_error", "openai:gpt-4.1") */
export function ofType(events: WireEvent[], type: string, agent?: string): WireEvent[] {
  return events.filter((e) => e.type === type && (agent === undefined || e.agent === agent));
}
