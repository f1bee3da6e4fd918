/**
 * Agent configuration and failure handling seen through the real server process, against the
 * fake provider server: aliases resolve to the aliased provider:model, an alias to a provider
 * without a key shows `configured: false`, ARAGORA_DEFAULT_AGENTS and the one-key case give the
 * default set, a 429 whose body names an exhausted quota falls back to OpenRouter, and a retry
 * wait is cut short by the per-turn timeout and by SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createDebate, ofType, watchDebate } from "../debate/debate-client.ts";
import { type FakeProvider, startFakeProvider, TEST_KEYS } from "../fake-provider/index.ts";
import { startTestServer, type TestServer } from "../support/server.ts";

interface HealthAgent {
  name: string;
  provider: string;
  aliases: string[];
  configured: boolean;
  simulated: boolean;
  state: string;
}

let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake.stop();
});

const requestsFor = (provider: string, model?: string) =>
  fake.requests.filter((r) => r.provider === provider && (model === undefined || r.model === model));

async function health(server: TestServer): Promise<{ demo_only: boolean; agents: HealthAgent[] }> {
  const res = await server.fetch(`/api/agents/health`);
  expect(res.status).toBe(200);
  return (await res.json()) as { demo_only: boolean; agents: HealthAgent[] };
}

describe("anthropic and openai keys, OpenRouter fallback, aliases and ARAGORA_DEFAULT_AGENTS", () => {
  let server: TestServer;
  const claude = "anthropic:claude-sonnet-4-5";
  const fast = "openai:gpt-4.1-mini";
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        ...fake.env({ openrouter: true, providers: ["anthropic", "openai"] }),
        ARAGORA_AGENT_ALIASES: `claude=${claude},fast=${fast},gem=gemini:gemini-2.5-flash`,
        ARAGORA_DEFAULT_AGENTS: "fast,anthropic:claude-haiku-4-5,demo:bob",
        ARAGORA_AGENT_RETRY_BASE_MS: "5",
        ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
      },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("a debate between aliases runs every turn on the aliased provider:model", async () => {
    const proposal = "The claude alias speaks: keep the tabs ✓.\nANSWER: Tabs";
    fake.script({ provider: "anthropic", model: "claude-sonnet-4-5" }, { text: proposal });
    const before = { anthropic: requestsFor("anthropic").length, openai: requestsFor("openai").length };
    const id = await createDebate(server, { question: "Tabs or spaces?", agents: ["claude", "fast"], rounds: 1 });
    const { events, record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expect(record.agents).toEqual([claude, fast]);
    const named = new Set(events.map((e) => e.agent).filter((a) => a !== null));
    expect([...named].sort()).toEqual([claude, fast]);
    expect(ofType(events, "fallback")).toEqual([]);
    const first = ofType(events, "turn_end", claude).find((e) => e.data.phase === "proposal");
    expect(first?.data).toMatchObject({ text: proposal, provider: "anthropic", model: "claude-sonnet-4-5" });
    for (const [agent, provider, model] of [
      [claude, "anthropic", "claude-sonnet-4-5"],
      [fast, "openai", "gpt-4.1-mini"],
    ] as const) {
      const turns = ofType(events, "turn_end", agent);
      expect(turns.length).toBe(4);
      for (const t of turns) expect(t.data).toMatchObject({ provider, model });
      // One provider call per turn, at the aliased model, with that provider's key.
      const calls = requestsFor(provider).slice(before[provider]);
      expect(calls.map((r) => r.model)).toEqual(turns.map(() => model));
    }
    expect(requestsFor("anthropic").at(-1)?.headers["x-api-key"]).toBe(TEST_KEYS.anthropic);
    expect(requestsFor("openai").at(-1)?.headers.authorization).toBe(`Bearer ${TEST_KEYS.openai}`);
  }, 20_000);

  test("an alias to a provider without a key is listed configured: false, and a debate naming it is refused", async () => {
    const body = await health(server);
    expect(body.demo_only).toBe(false);
    const gem = body.agents.find((a) => a.name === "gemini:gemini-2.5-flash");
    expect(gem).toMatchObject({ provider: "gemini", aliases: ["gem"], configured: false, simulated: false });
    expect(body.agents.find((a) => a.name === claude)).toMatchObject({ aliases: ["claude"], configured: true });
    const breakers = (await (await server.fetch(`/api/circuit-breakers`)).json()) as {
      breakers: { name: string; configured: boolean }[];
    };
    expect(breakers.breakers.find((b) => b.name === "gemini:gemini-2.5-flash")?.configured).toBe(false);

    const res = await server.fetch(`/api/debates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ question: "Gem?", agents: ["claude", "fast", "gem"], rounds: 1 }),
    });
    expect(res.status).toBe(422);
    const refusal = (await res.json()) as { details: { field: string; rule: string }[] };
    expect(refusal.details[0]?.field).toBe("body.agents.2");
    expect(refusal.details[0]?.rule).toContain("GEMINI_API_KEY");
    expect(requestsFor("gemini")).toEqual([]);
  });

  test("a debate without agents takes ARAGORA_DEFAULT_AGENTS, aliases resolved", async () => {
    const id = await createDebate(server, { question: "Defaults?", rounds: 1 });
    const { record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expect(record.agents).toEqual([fast, "anthropic:claude-haiku-4-5", "demo:bob"]);
    const names = (await health(server)).agents.map((a) => a.name);
    expect(names).toEqual(expect.arrayContaining(record.agents));
  }, 20_000);

  test("a 429 whose body names an exhausted quota (insufficient_quota) falls back to OpenRouter at once", async () => {
    const quota = "openai:gpt-4.1";
    fake.script(
      { provider: "openai", model: "gpt-4.1" },
      {
        status: 429,
        headers: { "retry-after": "1" },
        errorBody: {
          error: {
            message: "You exceeded your current quota, please check your plan and billing details.",
            type: "insufficient_quota",
            param: null,
            code: "insufficient_quota",
          },
        },
      },
    );
    const routed = requestsFor("openrouter", "openai/gpt-4.1").length;
    const id = await createDebate(server, { question: "Quota?", agents: [quota, "claude"], rounds: 1 });
    const { events, record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expect(ofType(events, "agent_error")).toEqual([]);
    const fallbacks = ofType(events, "fallback", quota);
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]?.data).toMatchObject({
      phase: "proposal",
      from: quota,
      to: "openrouter:openai/gpt-4.1",
      after_first_token: false,
      discarded_partial: "",
    });
    // A quota, not a plain rate limit: the reason says so, and the provider was not retried.
    expect(String(fallbacks[0]?.data.reason)).toStartWith("quota");
    const proposal = ofType(events, "turn_end", quota).find((e) => e.data.phase === "proposal");
    expect(proposal?.data.fallback).toBe("openrouter:openai/gpt-4.1");
    expect(requestsFor("openai", "gpt-4.1")).toHaveLength(ofType(events, "turn_end", quota).length);
    expect(requestsFor("openrouter", "openai/gpt-4.1").length).toBe(routed + 1);
    const metrics = await (await server.fetch(`/api/metrics`)).text();
    expect(metrics).toContain(`aragora_fallback_activations_total{agent="${quota}",reason="quota"} 1`);
  }, 20_000);

  test("the per-turn timeout cuts a 30 s retry-after wait short: the seat fails as a timeout after one call", async () => {
    fake.script({ provider: "openai", model: "gpt-4.1-mini" }, { status: 503, headers: { "retry-after": "30" } });
    const calls = requestsFor("openai", "gpt-4.1-mini").length;
    const id = await createDebate(server, {
      question: "Timeout?",
      agents: ["fast", "claude", "demo:bob"],
      rounds: 1,
      timeouts: { turn_s: 1 },
    });
    const started = Date.now();
    const { events, record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    const [error] = ofType(events, "agent_error", fast);
    expect(error?.data).toMatchObject({ phase: "proposal", kind: "timeout", seat_failed: true });
    const turnStart = ofType(events, "turn_start", fast)[0];
    const waited = Date.parse(String(error?.ts)) - Date.parse(String(turnStart?.ts));
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(5000);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(requestsFor("openai", "gpt-4.1-mini").length).toBe(calls + 1);
  }, 20_000);
});

test("with one provider key, the default set is that provider's two default models", async () => {
  const server = await startTestServer({ env: { ...fake.env({ providers: ["openai"] }) } });
  try {
    const body = await health(server);
    expect(body.demo_only).toBe(false);
    expect(body.agents.map((a) => [a.name, a.configured])).toEqual([
      ["openai:gpt-4.1-mini", true],
      ["openai:gpt-4.1", true],
    ]);
    const id = await createDebate(server, { question: "One key?", rounds: 1 });
    const { record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expect(record.agents).toEqual(["openai:gpt-4.1-mini", "openai:gpt-4.1"]);
  } finally {
    expect(await server.stop()).toBe(0);
  }
}, 20_000);

test("SIGTERM while a turn waits out a 50 s retry-after: the wait is aborted and the process exits promptly", async () => {
  const server = await startTestServer({
    env: {
      ...fake.env({ providers: ["anthropic", "openai"] }),
      ARAGORA_SHUTDOWN_TIMEOUT_S: "1",
    },
  });
  fake.script({ provider: "anthropic", model: "claude-haiku-4-5" }, { status: 429, headers: { "retry-after": "50" } });
  const calls = requestsFor("anthropic", "claude-haiku-4-5").length;
  const agent = "anthropic:claude-haiku-4-5";
  const id = await createDebate(server, { question: "Shutdown?", agents: [agent, "openai:gpt-4.1"], rounds: 1 });
  const waiting = await server.waitForLog((l) => String(l.msg).startsWith(`agent call failed agent=${agent}`));
  expect(waiting).toMatchObject({ debate_id: id, retry_in_ms: 50_000 });
  const t0 = Date.now();
  server.signal("SIGTERM");
  const code = await server.exited;
  const elapsed = Date.now() - t0;
  await server.stop();
  expect(code).toBe(0);
  // 1 s of drain, then the debate is interrupted: its turn's retry wait ends at once (the debate
  // supervisor would otherwise wait 5 s for it, and the wait itself 50 s).
  expect(elapsed).toBeLessThan(4000);
  const logs = server.logs();
  const failed = logs.find((l) => String(l.msg).startsWith(`agent turn failed agent=${agent}`));
  expect(failed).toMatchObject({ debate_id: id, kind: "aborted", attempts: 1 });
  expect(logs.some((l) => l.debate_id === id && String(l.msg).includes("interrupted by shutdown"))).toBe(true);
  expect(requestsFor("anthropic", "claude-haiku-4-5").length).toBe(calls + 1);
}, 20_000);
