/**
 * In-process agent registry against the fake provider, with a real or simulated clock: the
 * AgentActor/directory tested directly, since debates (the public way to run turns) live elsewhere.
 *
 * @example
 * const h = await agentHarness({ env: { ARAGORA_AGENT_MAX_ATTEMPTS: "1" } });
 * const result = await h.agents.runTurn("openai:gpt-4.1-mini", h.request());
 * await h.close();
 */

import { type AgentRegistry, createAgentRegistry } from "../../actors/agent/directory.ts";
import type { AgentTurnError, TurnRequest, TurnResult } from "../../actors/agent/turn.ts";
import { ActorSystem, SimulatedClock } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { registry } from "../../runtime/metrics.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";

/** One agent of each wire protocol the fake provider speaks, by provider. */
export const AGENTS: Record<string, string> = {
  anthropic: "anthropic:claude-sonnet-4-5",
  openai: "openai:gpt-4.1-mini",
  gemini: "gemini:gemini-2.5-flash",
  mistral: "mistral:mistral-large-latest",
  xai: "xai:grok-4",
  ollama: "ollama:llama3.1",
};

export interface AgentHarness {
  fake: FakeProvider;
  agents: AgentRegistry;
  system: ActorSystem;
  /** The simulated clock; throws for a harness on real time. */
  clock(): SimulatedClock;
  request(overrides?: Partial<TurnRequest>): TurnRequest;
  close(): Promise<void>;
}

export async function agentHarness(
  options: { env?: Record<string, string>; simulated?: boolean; openrouter?: boolean; fake?: FakeProvider } = {},
): Promise<AgentHarness> {
  const fake = options.fake ?? (await startFakeProvider());
  const clock = options.simulated ? new SimulatedClock(1_000_000) : undefined;
  const system = new ActorSystem({ metricsIntervalMs: 0, clock, random: () => 0.5 });
  const config = loadConfig({
    ...fake.env({ openrouter: options.openrouter ?? false, local: { ollama: "llama3.1" } }),
    ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
    ARAGORA_AGENT_RETRY_BASE_MS: "4",
    ...options.env,
  });
  const agents = createAgentRegistry({ config, system, log: createLogger("ERROR") });
  return {
    fake,
    agents,
    system,
    clock: () => {
      if (clock === undefined) throw new Error("this harness runs on the real clock");
      return clock;
    },
    request: (overrides = {}) => ({
      debateId: "d-test",
      round: 0,
      role: "proposer",
      system: "You are a careful debater.",
      prompt: "Question: Should cities ban cars downtown?",
      signal: new AbortController().signal,
      ...overrides,
    }),
    async close() {
      await agents.close();
      await system.shutdown();
      if (options.fake === undefined) await fake.stop();
    },
  };
}

/** Polls a condition between event-loop turns (real I/O is in flight), failing after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** True once a timer shorter than an hour (a retry wait, not an ask deadline) is armed. */
export function waitArmed(clock: SimulatedClock): boolean {
  const due = clock.nextDue();
  return due !== undefined && due - clock.now() < 3_600_000;
}

/**
 * Start a turn and return its settled outcome, as a promise that never rejects.
 *
 * @example const { result, error } = await settledTurn(h, "openai:gpt-4.1-mini");
 */
export function settledTurn(h: AgentHarness, agent: string, extra: Parameters<AgentHarness["request"]>[0] = {}) {
  return h.agents.runTurn(agent, h.request(extra)).then(
    (result) => ({ result, error: undefined }),
    (error: AgentTurnError) => ({ result: undefined as TurnResult | undefined, error }),
  );
}

/** The agent's aragora_circuit_breaker_state (0 closed, 1 half-open, 2 open). @example await breakerGauge("xai:grok-4") */
export async function breakerGauge(agent: string): Promise<number | undefined> {
  const text = await registry.metrics();
  const m = new RegExp(`aragora_circuit_breaker_state\\{agent="${agent}"\\} (\\d)`).exec(text);
  return m ? Number(m[1]) : undefined;
}
