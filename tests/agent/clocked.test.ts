import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { FallbackInfo } from "../../actors/agent/turn.ts";
import { advance, settle } from "../../runtime/actor/index.ts";
import { registry } from "../../runtime/metrics.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { type AgentHarness, agentHarness, breakerGauge, settledTurn, until, waitArmed } from "./harness.ts";

// Retry waits, breaker transitions and fallback on a SimulatedClock: nothing here sleeps.
let fake: FakeProvider;
beforeAll(async () => {
  fake = await startFakeProvider();
});
afterAll(async () => {
  await fake.stop();
});

const calls = (provider: string) => fake.requests.filter((r) => r.provider === provider).length;

describe("retry waits follow the provider's hints on the actor system's clock", () => {
  let h: AgentHarness;
  beforeAll(async () => {
    h = await agentHarness({ fake, simulated: true });
  });
  afterAll(async () => {
    await h.close();
  });

  const cases: Array<[string, Record<string, string>, number]> = [
    ["retry-after in seconds", { "retry-after": "2" }, 2000],
    ["retry-after-ms", { "retry-after-ms": "1500", "retry-after": "9" }, 1500],
  ];
  test.each(cases)("%s", async (_name, headers, waitMs) => {
    fake.reset();
    fake.script({ provider: "openai" }, { status: 429, headers }, { text: "after the wait" });
    const clock = h.clock();
    const turn = settledTurn(h, "openai:gpt-4.1-mini");
    await until(() => calls("openai") === 1 && waitArmed(clock));
    await settle(h.system);
    expect((clock.nextDue() ?? 0) - clock.now()).toBe(waitMs);
    clock.advance(waitMs - 1);
    await settle(h.system);
    expect(calls("openai")).toBe(1);
    clock.advance(1);
    expect((await turn).result?.text).toBe("after the wait");
    expect(calls("openai")).toBe(2);
  });

  test("retry-after as an HTTP date", async () => {
    fake.reset();
    const date = new Date(Math.ceil(Date.now() / 1000) * 1000 + 5000).toUTCString();
    fake.script({ provider: "anthropic" }, { status: 429, headers: { "retry-after": date } }, { text: "dated" });
    const clock = h.clock();
    const turn = settledTurn(h, "anthropic:claude-sonnet-4-5");
    await until(() => calls("anthropic") === 1 && waitArmed(clock));
    const wait = (clock.nextDue() ?? 0) - clock.now();
    expect(wait).toBeGreaterThan(3000);
    expect(wait).toBeLessThanOrEqual(6000);
    clock.advance(wait);
    expect((await turn).result?.text).toBe("dated");
  });

  test("without a hint: exponential backoff (base 4 ms, doubling, equal jitter)", async () => {
    fake.reset();
    fake.script({ provider: "gemini" }, { status: 500 }, { status: 500 }, { text: "third time" });
    const clock = h.clock();
    const turn = settledTurn(h, "gemini:gemini-2.5-flash");
    // With random() = 0.5: step 4 ms -> 2 fixed + 1 jitter = 3 ms; step 8 ms -> 6 ms.
    for (const [wait, callsAfter] of [
      [3, 2],
      [6, 3],
    ] as const) {
      // The failure comes back from the provider worker thread: wait until the retry's timer is armed.
      await until(() => calls("gemini") === callsAfter - 1 && waitArmed(clock));
      await settle(h.system);
      await advance(h.system, clock, wait - 1);
      expect(calls("gemini")).toBe(callsAfter - 1);
      clock.advance(1);
      await until(() => calls("gemini") === callsAfter);
    }
    expect((await turn).result?.text).toBe("third time");
  });

  test("a cancel during the wait ends the turn at once as aborted, without another call", async () => {
    fake.reset();
    fake.script({ provider: "mistral" }, { status: 429, headers: { "retry-after": "30" } });
    const clock = h.clock();
    const cancel = new AbortController();
    const turn = settledTurn(h, "mistral:mistral-large-latest", { signal: cancel.signal });
    await until(() => calls("mistral") === 1 && waitArmed(clock));
    cancel.abort();
    const { error } = await turn;
    expect(error?.kind).toBe("aborted");
    clock.advance(60_000);
    await settle(h.system);
    expect(calls("mistral")).toBe(1);
  });
});

describe("circuit breaker: closed -> open -> half-open -> closed", () => {
  let h: AgentHarness;
  const agent = "xai:grok-4";
  beforeAll(async () => {
    h = await agentHarness({
      fake,
      simulated: true,
      env: { ARAGORA_BREAKER_FAILURES: "3", ARAGORA_BREAKER_COOLDOWN_S: "60", ARAGORA_AGENT_MAX_ATTEMPTS: "1" },
    });
  });
  afterAll(async () => {
    await h.close();
  });
  const status = () => h.agents.status().find((a) => a.name === agent);

  test("opens after ARAGORA_BREAKER_FAILURES consecutive failures and refuses turns without calling", async () => {
    fake.reset();
    fake.script({ provider: "xai" }, { status: 500 }, { status: 500 }, { text: "reset" }, { status: 500 });
    for (let i = 0; i < 2; i++) expect((await settledTurn(h, agent)).error?.kind).toBe("provider_error");
    expect((await settledTurn(h, agent)).result?.text).toBe("reset"); // a success resets the count
    expect(status()?.failures).toBe(0);
    fake.script({ provider: "xai" }, { status: 500 }, { status: 500 });
    for (let i = 0; i < 3; i++) await settledTurn(h, agent);
    await settle(h.system);
    expect(status()).toMatchObject({ state: "open", failures: 3, secondsUntilHalfOpen: 60 });
    expect(status()?.lastFailure?.message).toContain("HTTP 500");
    expect(await breakerGauge(agent)).toBe(2);
    const before = calls("xai");
    const refused = await settledTurn(h, agent);
    expect(refused.error?.kind).toBe("circuit_open");
    expect(calls("xai")).toBe(before);
  });

  test("half-open after the cooldown; one probe at a time; a failed probe reopens", async () => {
    await advance(h.system, h.clock(), 59_000);
    expect(status()).toMatchObject({ state: "open", secondsUntilHalfOpen: 1 });
    await advance(h.system, h.clock(), 1000);
    expect(status()?.state).toBe("half_open");
    expect(await breakerGauge(agent)).toBe(1);
    fake.script({ provider: "xai" }, { status: 503, delayMs: 30 });
    const probe = settledTurn(h, agent);
    const second = await settledTurn(h, agent);
    expect(second.error?.kind).toBe("circuit_open");
    expect((await probe).error?.kind).toBe("provider_error");
    await settle(h.system);
    expect(status()).toMatchObject({ state: "open", secondsUntilHalfOpen: 60 });
    expect(await breakerGauge(agent)).toBe(2);
  });

  test("a successful probe closes the breaker", async () => {
    await advance(h.system, h.clock(), 60_000);
    expect(await breakerGauge(agent)).toBe(1);
    fake.script({ provider: "xai" }, { text: "healthy again" });
    expect((await settledTurn(h, agent)).result?.text).toBe("healthy again");
    await settle(h.system);
    expect(status()).toMatchObject({ state: "closed", failures: 0, secondsUntilHalfOpen: null });
    expect(await breakerGauge(agent)).toBe(0);
  });

  test("a cancelled turn is no verdict on the provider", async () => {
    const cancel = new AbortController();
    fake.script({ provider: "xai" }, { text: "slow", tokenDelayMs: 200 });
    const turn = settledTurn(h, agent, { signal: cancel.signal });
    await until(() => fake.requests.length > 0 && fake.pending() === 0);
    cancel.abort();
    expect((await turn).error?.kind).toBe("aborted");
    await settle(h.system);
    expect(status()?.failures).toBe(0);
  });
});

describe("fallback to OpenRouter", () => {
  let h: AgentHarness;
  beforeAll(async () => {
    h = await agentHarness({
      fake,
      simulated: true,
      openrouter: true,
      env: {
        ARAGORA_BREAKER_FAILURES: "2",
        ARAGORA_AGENT_MAX_ATTEMPTS: "1",
        ARAGORA_FALLBACK_MODELS: "openai:gpt-4.1-mini=openai/gpt-4.1-mini-2025",
      },
    });
  });
  afterAll(async () => {
    await h.close();
  });

  test("a 429 before the first token goes straight to the mapped OpenRouter model, without retrying", async () => {
    fake.reset();
    fake.script({ provider: "anthropic" }, { status: 429, headers: { "retry-after": "1" } });
    fake.script({ provider: "openrouter" }, { text: "from the fallback", cost: 0.0021 });
    const seen: FallbackInfo[] = [];
    const { result } = await settledTurn(h, "anthropic:claude-sonnet-4-5", { onFallback: (i) => seen.push(i) });
    expect(calls("anthropic")).toBe(1);
    expect(fake.requests.find((r) => r.provider === "openrouter")?.model).toBe("anthropic/claude-sonnet-4.5");
    expect(result).toMatchObject({
      agent: "openrouter:anthropic/claude-sonnet-4.5",
      provider: "openrouter",
      text: "from the fallback",
      cost: { usd: 0.0021, source: "openrouter", estimated: false },
      fallback: { from: "anthropic:claude-sonnet-4-5", afterFirstToken: false, discardedPartial: "" },
    });
    expect(result?.fallback?.reason).toContain("rate_limited");
    expect(seen).toEqual([result?.fallback as FallbackInfo]);
  });

  test("402 and quota errors fall back too; ARAGORA_FALLBACK_MODELS overrides the mapping", async () => {
    fake.reset();
    fake.script({ provider: "openai" }, { status: 402 });
    const { result } = await settledTurn(h, "openai:gpt-4.1-mini");
    expect(result?.fallback?.reason).toContain("quota");
    expect(fake.requests.find((r) => r.provider === "openrouter")?.model).toBe("openai/gpt-4.1-mini-2025");
  });

  test("after the first token the turn restarts on the fallback; the partial output is discarded and reported", async () => {
    fake.reset();
    fake.script({ provider: "gemini" }, { text: "one two three four", errorAfterTokens: 2 });
    fake.script({ provider: "openrouter" }, { text: "complete answer" });
    const tokens: string[] = [];
    const seen: FallbackInfo[] = [];
    const { result } = await settledTurn(h, "gemini:gemini-2.5-flash", {
      onToken: (d) => tokens.push(d),
      onFallback: (i) => seen.push({ ...i, discardedPartial: `${i.discardedPartial}|at token ${tokens.length}` }),
    });
    expect(result?.text).toBe("complete answer");
    expect(result?.fallback).toMatchObject({ afterFirstToken: true, discardedPartial: "one two " });
    expect(seen[0]?.discardedPartial).toBe("one two |at token 2");
    expect(tokens.join("")).toBe("one two complete answer");
    expect(fake.requests.find((r) => r.provider === "openrouter")?.model).toBe("google/gemini-2.5-flash");
  });

  test("an open breaker sends turns to the fallback; a failing fallback fails the turn with both reasons", async () => {
    fake.reset();
    fake.script({ provider: "mistral" }, { status: 500 }, { status: 500 });
    for (let i = 0; i < 2; i++)
      expect((await settledTurn(h, "mistral:mistral-large-latest")).error?.kind).toBe("provider_error");
    await settle(h.system);
    expect(h.agents.status().find((a) => a.name === "mistral:mistral-large-latest")?.state).toBe("open");
    const before = calls("mistral");
    fake.script({ provider: "openrouter" }, { text: "rerouted" });
    const rerouted = await settledTurn(h, "mistral:mistral-large-latest");
    expect(calls("mistral")).toBe(before);
    expect(rerouted.result?.fallback?.reason).toContain("circuit_open");
    expect(rerouted.result?.text).toBe("rerouted");
    fake.script({ provider: "openrouter" }, { status: 402 });
    const failed = await settledTurn(h, "mistral:mistral-large-latest");
    expect(failed.error?.kind).toBe("quota");
    expect(failed.error?.message).toContain("the fallback openrouter:mistralai/mistral-large-latest failed too");
  });

  test("fallback metrics count activations, successes and latency", async () => {
    const lines = (await registry.metrics()).split("\n").filter((l) => l.startsWith("aragora_fallback_"));
    expect(lines).toContain(
      'aragora_fallback_activations_total{agent="anthropic:claude-sonnet-4-5",reason="rate_limited"} 1',
    );
    expect(lines).toContain(
      'aragora_fallback_activations_total{agent="gemini:gemini-2.5-flash",reason="stream_failed"} 1',
    );
    expect(lines).toContain(
      'aragora_fallback_activations_total{agent="mistral:mistral-large-latest",reason="circuit_open"} 2',
    );
    expect(lines).toContain('aragora_fallback_success_total{agent="openai:gpt-4.1-mini"} 1');
    expect(lines).toContain('aragora_fallback_success_total{agent="mistral:mistral-large-latest"} 1');
    expect(lines).toContain('aragora_fallback_latency_seconds_count{agent="mistral:mistral-large-latest"} 2');
  });
});
