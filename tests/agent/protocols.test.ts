import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AgentTurnError } from "../../actors/agent/turn.ts";
import { registry } from "../../runtime/metrics.ts";
import { AGENTS, type AgentHarness, agentHarness } from "./harness.ts";

// Every wire protocol through every fault, on the real clock with tiny backoffs.
const PROTOCOLS = ["anthropic", "openai", "gemini"] as const;
const TEXT = "Grüße — naïve café ✓ 🙂 ok.";

// Both ways a turn can stream: on a provider worker thread (the default) and on the main thread
// (ARAGORA_PROVIDER_WORKERS=0); the outcomes and the errors must not differ.
describe.each([
  ["on a provider worker thread", "1"],
  ["on the main thread", "0"],
])("%s", (_where, workers) => {
  let h: AgentHarness;
  beforeAll(async () => {
    h = await agentHarness({ env: { ARAGORA_BREAKER_FAILURES: "1000", ARAGORA_PROVIDER_WORKERS: workers } });
  });
  afterAll(async () => {
    await h.close();
  });

  const requestsTo = (provider: string) => h.fake.requests.filter((r) => r.provider === provider).length;

  async function turn(provider: string, onToken?: (delta: string, seen: number) => void) {
    const tokens: string[] = [];
    const before = requestsTo(provider);
    const record = (d: string) => {
      tokens.push(d);
      onToken?.(d, tokens.length);
    };
    try {
      const result = await h.agents.runTurn(AGENTS[provider] as string, h.request({ onToken: record }));
      return { result, tokens, calls: requestsTo(provider) - before, error: undefined };
    } catch (error) {
      return { result: undefined, tokens, calls: requestsTo(provider) - before, error: error as AgentTurnError };
    }
  }

  describe.each(Object.keys(AGENTS))("%s", (provider) => {
    test("streams text intact through mid-UTF-8 chunking, CRLF, keep-alives and multi-line data", async () => {
      h.fake.script(
        { provider },
        {
          text: TEXT,
          chunkBytes: 3,
          crlf: true,
          keepAlive: true,
          multiLineData: true,
          usage: { input: 20, output: 9 },
        },
      );
      const { result, tokens } = await turn(provider);
      expect(result?.text).toBe(TEXT);
      expect(tokens.join("")).toBe(TEXT);
      expect(tokens.length).toBeGreaterThan(1);
      expect(result?.usage).toMatchObject({ inputTokens: 20, outputTokens: 9, estimated: false });
      expect(result?.simulated).toBe(false);
      expect(result?.firstTokenMs).not.toBeNull();
    });

    test("no usage from the provider: estimated usage and cost", async () => {
      h.fake.script({ provider }, { text: TEXT, usage: false });
      const { result } = await turn(provider);
      expect(result?.usage.estimated).toBe(true);
      expect(result?.usage.outputTokens).toBeGreaterThan(0);
      expect(result?.cost.estimated).toBe(true);
    });

    test("429 with retry-after and 5xx/529 are retried, then succeed", async () => {
      h.fake.script(
        { provider },
        { status: 429, headers: { "retry-after": "0" } },
        { status: 503 },
        { text: "ok now" },
      );
      const first = await turn(provider);
      expect(first.result?.text).toBe("ok now");
      expect(first.calls).toBe(3);
      h.fake.script({ provider }, { status: 529 }, { text: "back" });
      expect((await turn(provider)).result?.text).toBe("back");
    });

    test("x-should-retry: false stops at once; true retries a status that is normally final", async () => {
      h.fake.script({ provider }, { status: 503, headers: { "x-should-retry": "false" } });
      const stopped = await turn(provider);
      expect(stopped.error?.kind).toBe("provider_error");
      expect(stopped.calls).toBe(1);
      h.fake.script({ provider }, { status: 400, headers: { "x-should-retry": "true" } }, { text: "retried" });
      const retried = await turn(provider);
      expect(retried.result?.text).toBe("retried");
      expect(retried.calls).toBe(2);
    });

    test("402 is a quota error: no retry, no fallback without OPENROUTER_API_KEY", async () => {
      h.fake.script({ provider }, { status: 402 });
      const { error, calls } = await turn(provider);
      expect(error).toBeInstanceOf(AgentTurnError);
      expect(error?.kind).toBe("quota");
      expect(calls).toBe(1);
    });

    test("a retry-after beyond the cap fails fast instead of waiting", async () => {
      h.fake.script({ provider }, { status: 429, headers: { "retry-after": "3600" } });
      const { error, calls } = await turn(provider);
      expect(error?.kind).toBe("rate_limited");
      expect(error?.message).toContain("exceeds the cap of 60 s");
      expect(calls).toBe(1);
    });

    test("an error event inside a 200 stream after the first token fails the turn without a retry", async () => {
      h.fake.script({ provider }, { text: TEXT, errorAfterTokens: 2 });
      const { error, tokens, calls } = await turn(provider);
      expect(error?.kind).toBe("provider_error");
      expect(error?.message).toContain("after the first token");
      expect(tokens.length).toBe(2);
      expect(calls).toBe(1);
    });

    test("a connection dropped mid-stream fails the turn without a retry", async () => {
      // The reset discards tokens the client has not read yet: drop only once both were delivered
      // (a fixed pause is overtaken on a loaded machine).
      let delivered = () => {};
      const both = new Promise<void>((resolve) => {
        delivered = resolve;
      });
      h.fake.script({ provider }, { text: TEXT, dropAfterTokens: 2, dropPauseMs: 0, dropWhen: both });
      const { error, tokens, calls } = await turn(provider, (_, seen) => {
        if (seen >= 2) delivered();
      });
      expect(error?.kind).toBe("provider_error");
      expect(tokens.length).toBe(2);
      expect(calls).toBe(1);
    });
  });

  test.each(PROTOCOLS)(
    "%s: cache and reasoning tokens are normalised; cost from the versioned price table",
    async (provider) => {
      h.fake.script({ provider }, { text: TEXT, usage: { input: 1000, output: 500, cacheRead: 200, reasoning: 50 } });
      const { result } = await turn(provider);
      expect(result?.usage).toMatchObject({ inputTokens: expect.any(Number), cacheReadTokens: 200, estimated: false });
      expect(result?.cost.source).toBe("price_table@2026-11-01");
      expect(result?.cost.usd).toBeGreaterThan(0);
      if (provider !== "anthropic") expect(result?.usage.reasoningTokens).toBe(50);
    },
  );

  test("Anthropic's cumulative output_tokens (message_start, then running message_delta counts) are not double-counted", async () => {
    h.fake.script(
      { provider: "anthropic" },
      { text: TEXT, usage: { input: 40, output: 11, cacheWrite: 5, cacheRead: 3 } },
    );
    const { result } = await turn("anthropic");
    expect(result?.usage).toMatchObject({
      outputTokens: 11,
      cacheWriteTokens: 5,
      cacheReadTokens: 3,
      estimated: false,
    });
    // 40 uncached + 3 cache reads + 5 cache writes at claude-sonnet-4-5 prices.
    expect(result?.cost.usd).toBeCloseTo((40 * 3 + 3 * 0.3 + 5 * 3.75 + 11 * 15) / 1e6, 10);
  });

  test("every provider sends its key in its own header and the requested model", () => {
    const seen = (p: string) => h.fake.requests.find((r) => r.provider === p);
    expect(seen("anthropic")?.headers["x-api-key"]).toBe("sk-ant-test-0123456789");
    expect(seen("openai")?.headers.authorization).toBe("Bearer sk-openai-test-0123456789");
    expect(seen("gemini")?.headers["x-goog-api-key"]).toBe("gemini-test-0123456789");
    expect(seen("ollama")?.headers.authorization).toBeUndefined();
    expect(seen("gemini")?.model).toBe("gemini-2.5-flash");
    expect(seen("anthropic")?.body.model).toBe("claude-sonnet-4-5");
  });

  test("agent metrics: latency, response time and tokens per agent and kind", async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/aragora_agent_tokens_total\{agent="anthropic:claude-sonnet-4-5",kind="output"\} \d+/);
    expect(text).toMatch(/aragora_agent_tokens_total\{agent="openai:gpt-4.1-mini",kind="cache_read"\} \d+/);
    expect(text).toMatch(/aragora_agent_latency_seconds_count\{agent="gemini:gemini-2.5-flash"\} [1-9]/);
    expect(text).toMatch(/aragora_agent_response_seconds_count\{agent="xai:grok-4",outcome="error"\} [1-9]/);
    expect(text).toMatch(/aragora_agent_retries_total\{agent="mistral:mistral-large-latest",reason="529"\} [1-9]/);
  });
});
