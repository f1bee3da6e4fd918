import { expect, test } from "bun:test";
import type { OutboxEvent } from "../debate/event-outbox.ts";
import type { DeliveryRow } from "../delivery/delivery-store.ts";
import type { DebateHistory } from "./debate-outcome.ts";
import { outcomeFanout } from "./outcome-fanout.ts";

const envelope = (type: string, seq: number, data: Record<string, unknown>) =>
  JSON.stringify({ type, debate_id: "d-1", seq, ts: `2026-12-05T00:00:0${seq}.000Z`, round: null, agent: null, data });
const row = (type: string, seq: number, data: Record<string, unknown>): OutboxEvent => ({
  debateId: "d-1",
  seq,
  type,
  orgId: "org-1",
  payload: envelope(type, seq, data),
});
const consensus = (answer: string) => ({ reached: true, method: "majority", answer, winner: null, support: 1 });

/** The fan-out over one Slack integration, with the debate's log as `log`; what it made, and how often the log was read. */
function harness(log: OutboxEvent[]) {
  const made: DeliveryRow[] = [];
  let reads = 0;
  const history: DebateHistory = {
    byId: async () => ({ question: "Tabs?", config: { agents: ["a", "b"] } }),
    events: async (_id, since, limit = 1000) => {
      reads++;
      return log
        .filter((e) => e.seq > since)
        .slice(0, limit)
        .map((e) => ({ type: e.type, seq: e.seq, payload: e.payload }));
    },
  };
  const sink = outcomeFanout({
    integrations: { enabledOf: async () => [{ id: "int-1", orgId: "org-1" }] as never },
    deliveries: {
      insertDeliveries: async (rows) => {
        made.push(...rows);
        return [...rows];
      },
    },
    history,
    actors: { enqueue: () => {} },
    now: () => Date.now(),
  });
  return { sink, made, reads: () => reads };
}

test("the consensus committed in the end's batch is taken from it: the debate's log is not read", async () => {
  const rows = [
    row("debate_start", 1, {}),
    row("consensus", 7, consensus("Early")),
    row("consensus", 9, consensus("Spaces")),
    row("debate_end", 10, { status: "completed", rounds_completed: 2 }),
  ];
  const h = harness(rows);
  // Out of order in the batch: the last consensus before the end is still the one taken.
  await h.sink.deliver([rows[0], rows[2], rows[1], rows[3]] as OutboxEvent[]);
  expect(h.reads()).toBe(0);
  expect(JSON.parse(h.made[0]?.payload as string).consensus.answer).toBe("Spaces");
});

test("without the consensus in the batch, the log is read for it, as far as the end", async () => {
  const log = [
    row("consensus", 3, consensus("Tabs")),
    row("debate_end", 4, { status: "completed", rounds_completed: 1 }),
    row("consensus", 5, consensus("After the end")),
  ];
  const h = harness(log);
  await h.sink.deliver([log[1] as OutboxEvent]);
  expect(h.reads()).toBeGreaterThan(0);
  expect(JSON.parse(h.made[0]?.payload as string).consensus.answer).toBe("Tabs");
});
