import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { AgentsHealthResponse, CircuitBreakersResponse } from "../../schemas/agents.ts";
import { type FakeProvider, startFakeProvider, TEST_KEYS } from "../fake-provider/index.ts";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";

// The health routes through the real server: one server without keys, one with every provider.
describe("no provider key", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
  });

  test("the server starts, warns that only demo agents are available and uses them by default", async () => {
    const warning = await server.waitForLog((l) => String(l.msg).includes("only the simulated demo agents"));
    expect(String(warning.level).toLowerCase()).toStartWith("warn");
    expect(warning.default_agents).toEqual(["demo:alice", "demo:bob", "demo:carol"]);
    const body = (await (await server.fetch(`/api/agents/health`)).json()) as typeof AgentsHealthResponse.infer;
    expect(AgentsHealthResponse(body)).toEqual(body);
    expect(body).toMatchObject({ status: "healthy", demo_only: true });
    expect(body.agents.map((a) => [a.name, a.simulated])).toEqual([
      ["demo:alice", true],
      ["demo:bob", true],
      ["demo:carol", true],
    ]);
  });

  test("the three breaker routes answer with every agent's breaker and the gauge is exported", async () => {
    for (const path of ["/api/circuit-breakers", "/api/system/circuit-breakers"]) {
      const body = (await (await server.fetch(`${path}`)).json()) as typeof CircuitBreakersResponse.infer;
      expect(CircuitBreakersResponse(body)).toEqual(body);
      expect(body).toMatchObject({
        failure_threshold: 5,
        cooldown_s: 60,
        summary: { closed: 3, half_open: 0, open: 0 },
      });
    }
    const metrics = await (await server.fetch(`/api/metrics`)).text();
    expect(metrics).toContain('aragora_circuit_breaker_state{agent="demo:alice"} 0');
  });
});

describe("every provider configured, pointed at the fake", () => {
  let fake: FakeProvider;
  let server: TestServer;
  beforeAll(async () => {
    fake = await startFakeProvider();
    server = await startTestServer({
      env: {
        ...fake.env({ openrouter: true, local: { ollama: "llama3.1" } }),
        ARAGORA_AGENT_ALIASES: "claude=anthropic:claude-sonnet-4-5,fast=openai:gpt-4.1-mini",
        ARAGORA_BREAKER_FAILURES: "4",
      },
    });
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    await fake.stop();
  });

  test("health lists configured agents with aliases and fallbacks, and never a key", async () => {
    const res = await server.fetch(`/api/agents/health`);
    const text = await res.text();
    for (const key of Object.values(TEST_KEYS)) expect(text).not.toContain(key);
    const body = JSON.parse(text);
    expect(AgentsHealthResponse(body)).toEqual(body);
    expect(body.demo_only).toBe(false);
    const claude = body.agents.find((a: { name: string }) => a.name === "anthropic:claude-sonnet-4-5");
    expect(claude).toMatchObject({
      provider: "anthropic",
      model: "claude-sonnet-4-5",
      aliases: ["claude"],
      configured: true,
      simulated: false,
      fallback: "openrouter:anthropic/claude-sonnet-4.5",
      state: "closed",
      state_code: 0,
      failures: 0,
      last_failure: null,
      seconds_until_half_open: null,
    });
    const ollama = body.agents.find((a: { name: string }) => a.name === "ollama:llama3.1");
    expect(ollama).toMatchObject({ configured: true, simulated: false, fallback: null });
    const breakers = (await (await server.fetch(`/api/circuit-breakers`)).json()) as {
      failure_threshold: number;
    };
    expect(breakers.failure_threshold).toBe(4);
    const log = server.logs().find((l) => String(l.msg).startsWith("agents ready"));
    expect(log?.default_agents).toEqual([
      "anthropic:claude-sonnet-4-5",
      "openai:gpt-4.1-mini",
      "gemini:gemini-2.5-flash",
      "mistral:mistral-large-latest",
      "xai:grok-4",
    ]);
  });
});

test("bad agent configuration stops the start with a message naming the variable and the rule", async () => {
  const local = await runCli(["serve", "--api-port", "0", "--ws-port", "0"], {
    ARAGORA_LOCAL_MODELS: "ollama=127.0.0.1:11434|llama3.1",
  });
  expect(local.code).toBe(2);
  expect(local.stderr).toContain("ARAGORA_LOCAL_MODELS");
  expect(local.stderr).toContain("the base URL must be an http(s) URL");
  const secret = await runCli(["serve", "--api-port", "0", "--ws-port", "0"], {
    OPENAI_API_KEY: "sk-should-never-be-echoed",
    OPENAI_BASE_URL: "not a url",
  });
  expect(secret.code).toBe(2);
  expect(secret.stderr).toContain("OPENAI_BASE_URL");
  expect(secret.stderr).not.toContain("sk-should-never-be-echoed");
  const dataDir = tempDir();
  const unknown = await runCli(["serve", "--api-port", "0", "--ws-port", "0"], {
    ARAGORA_DEFAULT_AGENTS: "demo:alice,nosuch:model",
    ARAGORA_DATA_DIR: dataDir,
  });
  rmSync(dataDir, { recursive: true, force: true });
  expect(unknown.code).not.toBe(0);
  expect(unknown.stderr).toContain('ARAGORA_DEFAULT_AGENTS: "nosuch:model": unknown provider "nosuch"');
});
