/**
 * The demo provider's promise, seen on the WebSocket of a real server without keys: every message
 * a demo agent authors in a debate is labelled simulated — each turn_end (proposal, critique,
 * revision, vote, judge, synthesis) with `simulated: true` and text starting "[simulated]", the
 * first streamed token of every turn, each critique's text, each vote's reason and the synthesis.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createDebate, expectTokensReassemble, ofType, type WireEvent, watchDebate } from "../debate/debate-client.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });
});
afterAll(async () => {
  expect(await server.stop()).toBe(0);
});

const LABEL = "[simulated]";

/** Asserts the label on every agent-authored field; returns the phases of the turns seen. */
function expectAllLabelled(events: WireEvent[]): Set<string> {
  const phases = new Set<string>();
  const ends = ofType(events, "turn_end");
  expect(ends.length).toBeGreaterThan(0);
  for (const e of ends) {
    phases.add(String(e.data.phase));
    expect(e.data, `turn_end ${e.agent} ${e.data.phase}`).toMatchObject({ simulated: true, provider: "demo" });
    expect(String(e.data.text)).toStartWith(LABEL);
    expect((e.data.cost as { source: string }).source).toBe("simulated");
  }
  // The first streamed delta of every turn already carries the label: a live watcher sees it at once.
  const firstToken = new Map<string, string>();
  for (const e of ofType(events, "token")) {
    const key = `${e.round}|${e.agent}|${e.data.phase}`;
    if (!firstToken.has(key)) firstToken.set(key, String(e.data.text));
  }
  expect(firstToken.size).toBe(ends.length);
  for (const [key, text] of firstToken) expect(text, key).toStartWith(LABEL);
  for (const e of ofType(events, "critique")) expect(String(e.data.text)).toStartWith(LABEL);
  for (const e of ofType(events, "vote")) expect(String(e.data.reason)).toStartWith(LABEL);
  const [consensus] = ofType(events, "consensus");
  if (consensus?.data.synthesis !== undefined) expect(String(consensus.data.synthesis)).toStartWith(LABEL);
  expect(ofType(events, "agent_error")).toEqual([]);
  return phases;
}

test("majority with a devil's advocate and a synthesiser: every role's message is labelled simulated", async () => {
  const id = await createDebate(server, {
    question: "Should our team adopt trunk-based development?",
    rounds: 2,
    roles: { devils_advocate: "demo:bob", synthesiser: "demo:alice" },
  });
  const { events, record } = await watchDebate(server, id);
  expect(record.status).toBe("completed");
  expect(record.agents).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
  expectTokensReassemble(events);
  const phases = expectAllLabelled(events);
  expect([...phases].sort()).toEqual(["critique", "proposal", "revision", "synthesis", "vote"]);
  expect(ofType(events, "turn_end", "demo:bob").some((e) => e.data.role === "devils_advocate")).toBe(true);
  expect(String(ofType(events, "consensus")[0]?.data.synthesis)).toStartWith(LABEL);
}, 20_000);

test("a judged debate: the judge's verdict is labelled simulated too", async () => {
  const id = await createDebate(server, {
    question: "How should a small bakery cut its energy bill?",
    agents: ["demo:dave", "demo:erin", "demo:carol"],
    rounds: 1,
    consensus: "judge",
    roles: { judge: "demo:carol" },
  });
  const { events, record } = await watchDebate(server, id);
  expect(record.status).toBe("completed");
  expectTokensReassemble(events);
  const phases = expectAllLabelled(events);
  expect(phases.has("judge")).toBe(true);
  expect(ofType(events, "turn_end", "demo:carol").some((e) => e.data.phase === "judge")).toBe(true);
}, 20_000);
