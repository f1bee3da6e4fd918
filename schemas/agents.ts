/** Response bodies of the agent health and circuit-breaker routes (public, read-only, no secrets). */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const AgentStatusBody = lazy(() =>
  type({
    name: type("string").describe("canonical provider:model"),
    provider: "string",
    model: "string",
    aliases: type("string[]").describe("configured aliases of this agent"),
    configured: type("boolean").describe("false when the provider's API key is not set"),
    simulated: type("boolean").describe("true for the built-in demo agents: no model is called"),
    fallback: type("string | null").describe("the OpenRouter agent this one falls back to, if any"),
    state: type("'closed' | 'half_open' | 'open'").describe("circuit breaker state"),
    state_code: type("0 | 1 | 2").describe("as in aragora_circuit_breaker_state: 0 closed, 1 half-open, 2 open"),
    failures: type("number.integer >= 0").describe("consecutive failed turns"),
    last_failure: type({ at: "string", message: "string" })
      .or("null")
      .describe("time (ISO 8601) and message of the last failed turn"),
    seconds_until_half_open: type("number.integer >= 0 | null").describe("only while open"),
  }),
);

export const AgentsHealthResponse = lazy(() =>
  type({
    status: type("'healthy' | 'degraded'").describe("degraded while any breaker is open or half-open"),
    demo_only: type("boolean").describe("true when no provider key is set and only simulated demo agents run"),
    "message?": "string",
    agents: AgentStatusBody.array(),
  }).describe("every known agent with its provider, configuration and circuit breaker"),
);

export const CircuitBreakersResponse = lazy(() =>
  type({
    failure_threshold: type("number.integer >= 1").describe("ARAGORA_BREAKER_FAILURES"),
    cooldown_s: type("number.integer >= 1").describe("ARAGORA_BREAKER_COOLDOWN_S"),
    summary: type({ closed: "number.integer >= 0", half_open: "number.integer >= 0", open: "number.integer >= 0" }),
    breakers: AgentStatusBody.array(),
  }).describe("per-agent circuit breakers"),
);

export type AgentStatusBody = typeof AgentStatusBody.infer;
