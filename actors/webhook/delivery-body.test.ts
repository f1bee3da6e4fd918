import { expect, test } from "bun:test";
import { debateEventBodies, debateEventBody, deliveryBody, type EventEnvelope } from "./delivery-body.ts";

const event: EventEnvelope = {
  type: "debate_end",
  debate_id: "d-1",
  seq: 42,
  ts: "2026-12-05T00:00:00.000Z",
  round: null,
  agent: "t:a",
  data: {
    status: "completed",
    answer: 'Espaces — toujours 😀 "quoted"\n',
    nested: { scores: [1, 2.5, 1e-7, -0.0], deep: { ok: true, none: null } },
    big: 1e21,
  },
};

test("the bodies of one event to several endpoints are deliveryBody's bytes, ids and all", () => {
  const bodyOf = debateEventBodies(event);
  for (const [dlv, wh] of [
    ["dlv-1", "wh-1"],
    ['dlv-é"2', "wh-\\2"],
  ] as const) {
    const whole = deliveryBody({
      deliveryId: dlv,
      webhookId: wh,
      eventType: event.type,
      timestamp: event.ts,
      data: { debate_id: "d-1", seq: 42, round: null, agent: "t:a", ...event.data },
    });
    expect(bodyOf(dlv, wh)).toBe(whole);
    expect(debateEventBody(dlv, wh, event)).toBe(whole);
    expect(JSON.parse(whole).delivery_id).toBe(dlv);
  }
});
