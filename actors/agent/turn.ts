/**
 * The contract between the debate actor and the agents: one *turn* is one model call that
 * streams tokens and ends with text, normalised usage and cost. The agent side (providers, the
 * AgentActor with its breaker, retries and fallback) implements {@link AgentDirectory}; the debate
 * side only ever sees these types.
 *
 * @example
 * const spec = agents.resolve("anthropic:claude-sonnet-4-5"); // or an alias, or "demo:alice"
 * const result = await agents.runTurn(spec.name, {
 *   debateId: "d-42", round: 1, role: "critic",
 *   system: "You are a careful critic.", prompt: "Critique: ...",
 *   signal: AbortSignal.timeout(60_000),
 *   onToken: (delta) => publish(delta),
 * });
 */

/** Token counts normalised across providers (Anthropic's cumulative output counts are not double-counted). */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
  reasoningTokens: number;
  /** True when the provider sent no usage and the counts are estimates. */
  estimated: boolean;
}

export interface Cost {
  usd: number;
  /** "price_table@<version>", "openrouter" (the provider reported it) or "simulated". */
  source: string;
  estimated: boolean;
}

export type DebateRole = "proposer" | "critic" | "devils_advocate" | "judge" | "synthesiser" | "voter";

export interface TurnRequest {
  debateId: string;
  round: number;
  role: DebateRole;
  system: string;
  prompt: string;
  maxOutputTokens?: number;
  /** Aborts the turn (cancel, shutdown, timeout); every wait inside the agent honours it. */
  signal: AbortSignal;
  /** Streamed text deltas of the turn as they arrive. */
  onToken?: (delta: string) => void;
  /** Called when the turn moves to the fallback provider; `discardedPartial` is output thrown away. */
  onFallback?: (info: FallbackInfo) => void;
}

export interface FallbackInfo {
  from: string;
  to: string;
  reason: string;
  afterFirstToken: boolean;
  discardedPartial: string;
}

export interface TurnResult {
  agent: string;
  provider: string;
  model: string;
  text: string;
  usage: Usage;
  cost: Cost;
  latencyMs: number;
  /** Time to first token. */
  firstTokenMs: number | null;
  simulated: boolean;
  fallback?: FallbackInfo;
}

/** What the debate needs to know about an agent before it runs. */
export interface AgentSpec {
  /** Canonical `provider:model` name. */
  name: string;
  provider: string;
  model: string;
  /** Set when the caller used an alias. */
  alias?: string;
  configured: boolean;
  simulated: boolean;
}

/** Raised by runTurn; `kind` tells the debate whether the seat can carry on. */
export class AgentTurnError extends Error {
  constructor(
    readonly agent: string,
    readonly kind:
      | "circuit_open"
      | "rate_limited"
      | "quota"
      | "provider_error"
      | "timeout"
      | "aborted"
      | "not_configured",
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = "AgentTurnError";
  }
}

export interface AgentDirectory {
  /** Resolve a name or alias; throws an Error whose message names what is wrong (for a 422). */
  resolve(nameOrAlias: string): AgentSpec;
  /** The agents a debate uses when the request names none. */
  defaultAgents(): AgentSpec[];
  /** Run one turn on the agent's actor (breaker, retries and fallback included). */
  runTurn(agent: string, request: TurnRequest): Promise<TurnResult>;
}
