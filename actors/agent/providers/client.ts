/**
 * One streamed model call, the unit the agent actor retries: the provider clients (AI SDK based,
 * or the simulated demo) implement {@link ProviderClient}. A client throws whatever its transport
 * throws; the caller classifies it with classifyFailure.
 *
 * @example
 * const outcome = await client.stream({ model: "gpt-4.1-mini", system, prompt, signal, onDelta: (d) => out.push(d) });
 * outcome.text; outcome.usage;
 */
import type { Usage } from "../turn.ts";

export interface ModelCall {
  model: string;
  system: string;
  prompt: string;
  maxOutputTokens?: number;
  signal: AbortSignal;
  onDelta(delta: string): void;
  /** Only read by the demo provider, which seeds its text with them. */
  seed: { agent: string; debateId: string; round: number; role: string };
}

export interface CallOutcome {
  text: string;
  usage: Usage;
  /** Cost the provider reported (OpenRouter's usage.cost), in US dollars. */
  reportedCostUsd?: number;
}

export interface ProviderClient {
  /** True for the demo provider: its output is generated locally, not by a model. */
  readonly simulated: boolean;
  stream(call: ModelCall): Promise<CallOutcome>;
}
