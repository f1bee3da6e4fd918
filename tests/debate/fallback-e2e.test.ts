/**
 * Debates with OPENROUTER_API_KEY set, against the fake provider server, through the real server
 * process: OpenRouter as a debater (the OpenAI-compatible wire with its reported cost), fallback
 * to OpenRouter before the first token (429, 402) and after it (a dropped stream, an error event:
 * the partial output is discarded and recorded), and a circuit breaker opened by repeated failures,
 * visible in /api/agents/health and sending the next turns to the fallback. One server for the file.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { createDebate, expectTokensReassemble, ofType, watchDebate } from "./debate-client.ts";

const proposal = (agent: string) => `Grüße from ${agent}: naïve café ✓ 🙂, {braces}.\nANSWER: ${agent} way`;

let fake: FakeProvider;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeProvider();
  server = await startTestServer({
    env: {
      ...fake.env({ openrouter: true }),
      ARAGORA_AGENT_RETRY_BASE_MS: "5",
      ARAGORA_BREAKER_FAILURES: "2",
      ARAGORA_BREAKER_COOLDOWN_S: "600",
    },
  });
});
afterAll(async () => {
  await server.stop();
  await fake.stop();
});

const requestsFor = (provider: string, model?: string) =>
  fake.requests.filter((r) => r.provider === provider && (model === undefined || r.model === model));

describe("OpenRouter as a debater", () => {
  test("streams through transport faults and retries; reports its own cost; a 402 fails the seat", async () => {
    const [a, b, c] = ["anthropic/claude-sonnet-4.5", "openai/gpt-4.1-mini", "mistralai/mistral-large"];
    const agents = [a, b, c].map((m) => `openrouter:${m}`);
    fake.script(
      { provider: "openrouter", model: a },
      { text: proposal(agents[0] as string), chunkBytes: 3, crlf: true, keepAlive: true, cost: 0.0012 },
      { text: "Critique ✓", multiLineData: true, cost: 0.0012 },
      { text: proposal(agents[0] as string), chunkBytes: 1, multiLineData: true, cost: 0.0012 },
      { text: `VOTE: ${agents[1]}\nCONFIDENCE: 0.9`, cost: 0.0012 },
    );
    fake.script({ provider: "openrouter", model: b }, { text: proposal(agents[1] as string), usage: false });
    fake.script(
      { provider: "openrouter", model: c },
      { status: 429, headers: { "retry-after-ms": "20" } },
      { text: proposal(agents[2] as string) },
      { status: 529 },
      { text: "Critique 🙂" },
      { status: 402 },
    );
    const id = await createDebate(server, { question: "Which router?", agents, rounds: 1 });
    const { events, record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expectTokensReassemble(events);
    const first = ofType(events, "turn_end", agents[0])[0]?.data;
    expect(first?.cost).toMatchObject({ usd: 0.0012, estimated: false });
    expect(record.summary?.agents[agents[0] as string]?.cost_usd).toBeCloseTo(0.0048, 6);
    expect(ofType(events, "turn_end", agents[1])[0]?.data.usage).toMatchObject({ estimated: true });
    // OpenRouter has no fallback of its own: its 402 fails the seat, the debate carries on.
    const [error] = ofType(events, "agent_error", agents[2]);
    expect(error?.data).toMatchObject({ kind: "quota", phase: "revision", seat_failed: true });
    expect(ofType(events, "fallback")).toEqual([]);
    expect(requestsFor("openrouter", c)).toHaveLength(5);
    expect(requestsFor("openrouter")[0]?.headers.authorization).toBe("Bearer sk-or-test-0123456789");
  }, 30_000);
});

describe("fallback to OpenRouter", () => {
  test("before the first token (429, 402) and after it (dropped stream, error event): partial discarded and recorded", async () => {
    const [anthropic, openai, gemini] = [
      "anthropic:claude-sonnet-4-5",
      "openai:gpt-4.1-mini",
      "gemini:gemini-2.5-flash",
    ];
    const broken = `Half a thought from gemini — naïve ✓ and then the line goes dead`;
    // The connection dies once the server has streamed the critique's first tokens to a watcher:
    // after its first token for certain, however slowly a loaded machine reads the stream.
    let tokensShown = () => {};
    const shown = new Promise<void>((resolve) => {
      tokensShown = resolve;
    });
    fake.script(
      { provider: "anthropic", model: "claude-sonnet-4-5" },
      { status: 429, headers: { "retry-after": "1" } },
    );
    fake.script({ provider: "openai", model: "gpt-4.1-mini" }, { text: proposal(openai) }, { status: 402 });
    fake.script(
      { provider: "gemini", model: "gemini-2.5-flash" },
      { text: proposal(gemini) },
      { text: broken, dropAfterTokens: 3, dropPauseMs: 100, dropWhen: shown },
      // A success between the two failures, so the breaker (2 failures here) stays closed.
      { text: proposal(gemini) },
      { text: broken, errorAfterTokens: 2 },
    );
    const before = requestsFor("openrouter").length;
    const id = await createDebate(server, { question: "Fall back?", agents: [anthropic, openai, gemini], rounds: 1 });
    const watcher = await server.socket(server.ws);
    watcher.ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
    const critiqueToken = (m: Record<string, unknown>) =>
      m.type === "token" && m.agent === gemini && (m.data as { phase?: string }).phase === "critique";
    void watcher
      .next(critiqueToken, 60_000)
      .then(tokensShown, tokensShown)
      .finally(() => watcher.ws.close());
    const { events, record } = await watchDebate(server, id);

    expect(record.status).toBe("completed");
    expect(ofType(events, "agent_error")).toEqual([]);
    expect(expectTokensReassemble(events)).toBe(12);

    const fallbacks = ofType(events, "fallback");
    const of = (agent: string, phase: string) =>
      fallbacks.find((f) => f.agent === agent && f.data.phase === phase)?.data as Record<string, unknown>;
    // Before the first token: nothing streamed, nothing discarded; no retry on the rate-limited provider.
    expect(of(anthropic, "proposal")).toMatchObject({
      from: anthropic,
      to: "openrouter:anthropic/claude-sonnet-4.5",
      after_first_token: false,
      discarded_partial: "",
    });
    expect(String(of(anthropic, "proposal").reason)).toStartWith("rate_limited");
    expect(of(openai, "critique")).toMatchObject({ to: "openrouter:openai/gpt-4.1-mini", after_first_token: false });
    expect(String(of(openai, "critique").reason)).toStartWith("quota");
    // After the first token: the partial output is discarded from the turn and kept in the event.
    for (const phase of ["critique", "vote"]) {
      const f = of(gemini, phase);
      expect(f).toMatchObject({ to: "openrouter:google/gemini-2.5-flash", after_first_token: true });
      expect(String(f.reason)).toStartWith("stream_failed");
      expect(String(f.discarded_partial).length).toBeGreaterThan(0);
      expect(broken.startsWith(String(f.discarded_partial))).toBe(true);
      const end = ofType(events, "turn_end", gemini).find((e) => e.data.phase === phase);
      expect(end?.data.fallback).toBe("openrouter:google/gemini-2.5-flash");
      expect(String(end?.data.text)).not.toContain("line goes dead");
    }
    expect(fallbacks).toHaveLength(4);
    // One call per turn: the rate-limited proposal went to the fallback instead of a retry.
    expect(requestsFor("anthropic", "claude-sonnet-4-5")).toHaveLength(4);
    const routed = requestsFor("openrouter")
      .slice(before)
      .map((r) => r.model);
    expect(routed).toEqual(
      expect.arrayContaining(["anthropic/claude-sonnet-4.5", "openai/gpt-4.1-mini", "google/gemini-2.5-flash"]),
    );

    const metrics = await (await server.fetch(`/api/metrics`)).text();
    expect(metrics).toMatch(/aragora_fallback_activations_total\{[^}]*agent="gemini:gemini-2.5-flash"[^}]*\} 2/);
    expect(metrics).toMatch(/aragora_fallback_success_total\{agent="anthropic:claude-sonnet-4-5"\} 1/);
    expect(metrics).toMatch(/aragora_fallback_latency_seconds_count\{agent="openai:gpt-4.1-mini"\} 1/);
  }, 30_000);
});

describe("circuit breaker", () => {
  test("repeated failures open it, /api/agents/health shows it, and the next turns go to the fallback", async () => {
    const flaky = "mistral:mistral-small-latest";
    const others = ["openai:gpt-4.1", "xai:grok-4"];
    fake.script(
      { provider: "mistral", model: "mistral-small-latest" },
      { status: 503, headers: { "x-should-retry": "false" } },
      { status: 503, headers: { "x-should-retry": "false" } },
    );
    const failing = await Promise.all(
      [1, 2].map((n) => createDebate(server, { question: `Breaker ${n}?`, agents: [flaky, ...others], rounds: 1 })),
    );
    for (const id of failing) {
      const { events, record } = await watchDebate(server, id);
      expect(record.status).toBe("completed");
      expect(ofType(events, "agent_error", flaky)[0]?.data).toMatchObject({
        kind: "provider_error",
        seat_failed: true,
      });
    }

    const health = (await (await server.fetch(`/api/agents/health`)).json()) as {
      status: string;
      agents: {
        name: string;
        state: string;
        state_code: number;
        failures: number;
        last_failure: { at: string; message: string } | null;
        seconds_until_half_open: number | null;
      }[];
    };
    expect(health.status).toBe("degraded");
    const entry = health.agents.find((a) => a.name === flaky);
    expect(entry).toMatchObject({ state: "open", state_code: 2, failures: 2 });
    expect(entry?.last_failure?.message).toContain("503");
    expect(entry?.seconds_until_half_open).toBeGreaterThan(500);
    expect(entry?.seconds_until_half_open).toBeLessThanOrEqual(600);
    const breakers = (await (await server.fetch(`/api/circuit-breakers`)).json()) as {
      summary: { open: number };
      breakers: { name: string; state: string }[];
    };
    expect(breakers.summary.open).toBeGreaterThanOrEqual(1);
    expect(breakers.breakers.find((b) => b.name === flaky)?.state).toBe("open");
    const metrics = await (await server.fetch(`/api/metrics`)).text();
    expect(metrics).toContain(`aragora_circuit_breaker_state{agent="${flaky}"} 2`);

    // While open, the agent's turns never reach its provider: they go to the fallback.
    const calls = requestsFor("mistral", "mistral-small-latest").length;
    const id = await createDebate(server, { question: "Breaker open?", agents: [flaky, ...others], rounds: 1 });
    const { events, record } = await watchDebate(server, id);
    expect(record.status).toBe("completed");
    expect(requestsFor("mistral", "mistral-small-latest")).toHaveLength(calls);
    const fallbacks = ofType(events, "fallback", flaky);
    expect(fallbacks.length).toBe(ofType(events, "turn_end", flaky).length);
    expect(fallbacks[0]?.data).toMatchObject({ to: "openrouter:mistralai/mistral-small-latest" });
    expect(String(fallbacks[0]?.data.reason)).toStartWith("circuit_open");
    expectTokensReassemble(events);
  }, 30_000);
});
