import { afterAll, beforeAll, expect, test } from "bun:test";
import { demoReply } from "../../actors/agent/providers/demo.ts";
import { parseAnswer, parseVote } from "../../actors/agent/turn.ts";
import { advance } from "../../runtime/actor/index.ts";
import { type AgentHarness, agentHarness } from "./harness.ts";

const Q = "Question: Should our city replace street parking with bike lanes?";

test("demo replies are deterministic, labelled simulated and follow the ANSWER convention", () => {
  const a = demoReply("demo:alice", "alice", 0, "proposer", Q);
  expect(demoReply("demo:alice", "alice", 0, "proposer", Q)).toBe(a);
  expect(a.startsWith("[simulated]")).toBe(true);
  expect(parseAnswer(a)).toBeDefined();
  const others = ["bob", "carol", "dave", "erin"].map((m) => demoReply(`demo:${m}`, m, 0, "proposer", Q));
  expect(new Set([a, ...others]).size).toBe(5);
  const other = demoReply(
    "demo:alice",
    "alice",
    0,
    "proposer",
    "Question: How can a small bakery cut its energy bill?",
  );
  expect(other).not.toBe(a);
  expect(other).toContain("bakery");
});

test("voters and judges answer with VOTE: <label> and CONFIDENCE: from the listed options", () => {
  const prompt = `${Q}\nOPTION demo:alice: Yes, with safeguards\nOPTION demo:bob: No\nOPTION demo:carol: Not yet: pilot it first`;
  for (const model of ["alice", "bob", "carol"]) {
    for (const role of ["voter", "judge"]) {
      const vote = parseVote(demoReply(`demo:${model}`, model, 2, role, prompt));
      expect(["demo:alice", "demo:bob", "demo:carol"]).toContain(vote?.choice as string);
      expect(vote?.confidence).toBeGreaterThan(0);
      expect(vote?.confidence).toBeLessThanOrEqual(1);
    }
  }
  expect(parseVote(demoReply("demo:bob", "bob", 1, "voter", Q))).toEqual({ choice: "abstain", confidence: 0 });
});

test("critiques and later rounds engage with the answers in the prompt and converge", () => {
  const shown = `${Q}\nANSWER: No\nANSWER: No\nANSWER: Yes`;
  const revisions = ["alice", "bob", "carol", "dave", "erin", "frank"].map((m) =>
    parseAnswer(demoReply(`demo:${m}`, m, 3, "proposer", shown)),
  );
  expect(revisions.filter((r) => r === "No").length).toBeGreaterThanOrEqual(4);
  const critique = demoReply("demo:bob", "bob", 1, "critic", shown);
  expect(critique).toMatch(/the case for "(No|Yes)"/);
  expect(parseAnswer(demoReply("demo:carol", "carol", 1, "devils_advocate", shown))).toBeDefined();
});

let h: AgentHarness;
beforeAll(async () => {
  h = await agentHarness({ simulated: true, env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "25" } });
});
afterAll(async () => {
  await h.close();
});

test("a demo turn streams its tokens with the configured delay and reports simulated, free usage", async () => {
  const tokens: string[] = [];
  const turn = h.agents.runTurn("demo:carol", h.request({ onToken: (d) => tokens.push(d) }));
  await advance(h.system, h.clock(), 25 * 3);
  expect(tokens.length).toBe(3);
  await advance(h.system, h.clock(), 25 * 200);
  const result = await turn;
  expect(tokens.join("")).toBe(result.text);
  expect(result).toMatchObject({
    provider: "demo",
    model: "carol",
    simulated: true,
    cost: { usd: 0, source: "simulated" },
  });
  expect(result.usage.estimated).toBe(true);
  expect(h.fake.requests).toHaveLength(0);
});

test("resolve: names, aliases and the 422-ready errors", () => {
  expect(h.agents.resolve("demo:zoe")).toMatchObject({
    provider: "demo",
    model: "zoe",
    configured: true,
    simulated: true,
  });
  expect(() => h.agents.resolve("gpt")).toThrow('"gpt" is not an agent: expected provider:model');
  expect(() => h.agents.resolve("nosuch:model")).toThrow('unknown provider "nosuch"');
  expect(() => h.agents.resolve("demo:Bad Name")).toThrow("a demo agent's name");
  expect(h.agents.resolve("ollama:qwen2.5")).toMatchObject({ provider: "ollama", configured: true });
});
