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
  /**
   * The organisation whose debate this is: a provider it has its own key for is called with that
   * key (and its own circuit breaker), the others with the server's.
   */
  orgId?: string;
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

/**
 * Why an agent cannot run: neither the server nor the organisation has a key for its provider;
 * names both ways to give it one.
 *
 * @example missingKeyRule("anthropic") // "the anthropic provider has no API key (set ANTHROPIC_API_KEY on the server, or ...)"
 */
export function missingKeyRule(provider: string): string {
  return `the ${provider} provider has no API key (set ${provider.toUpperCase()}_API_KEY on the server, or an owner or admin sets the organisation's own with PUT /api/org/provider-keys/${provider})`;
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
  /**
   * The providers `orgId` has its own key for: its seats on them run although the server has no
   * key (rejects when the keys cannot be read).
   */
  providersWithOwnKeys(orgId: string): Promise<ReadonlySet<string>>;
}

/**
 * The answer conventions every agent is asked to follow, and which the simulated demo agents
 * always honour, so the debate can read votes and stances without a model-specific parser:
 *
 * - A proposal or revision (roles proposer, critic, devils_advocate, synthesiser) ends with one
 *   line `ANSWER: <short answer>`: the stance in a few words, comparable across agents.
 * - A prompt for a vote (roles voter, judge) lists the choices one per line as
 *   `OPTION <label>: <text>` (labels without spaces, e.g. agent names or A, B, C), and the reply
 *   ends with `VOTE: <label>` and `CONFIDENCE: <0.0-1.0>`.
 *
 * @example
 * parseVote("I prefer B.\nVOTE: B\nCONFIDENCE: 0.8"); // { choice: "B", confidence: 0.8 }
 * parseAnswer("... reasons ...\nANSWER: Yes, gradually"); // "Yes, gradually"
 */
export const ANSWER_CONVENTIONS = {
  option: (label: string, text: string) => `OPTION ${label}: ${text}`,
  answerLine: /^\s*ANSWER:\s*(.+?)\s*$/im,
  voteLine: /^\s*VOTE:\s*(\S+)\s*$/im,
  confidenceLine: /^\s*CONFIDENCE:\s*([01](?:\.\d+)?|\.\d+)\s*$/im,
} as const;

/**
 * The vote at the end of a voter's or judge's reply; undefined when there is no `VOTE:` line.
 * A missing or malformed `CONFIDENCE:` line gives 0.5.
 *
 * @example
 * parseVote("VOTE: demo:bob\nCONFIDENCE: 0.72"); // { choice: "demo:bob", confidence: 0.72 }
 */
export function parseVote(text: string): { choice: string; confidence: number } | undefined {
  const vote = ANSWER_CONVENTIONS.voteLine.exec(lastLines(text))?.[1];
  if (vote === undefined) return undefined;
  const raw = ANSWER_CONVENTIONS.confidenceLine.exec(lastLines(text))?.[1];
  const confidence = raw === undefined ? 0.5 : Math.min(1, Math.max(0, Number(raw)));
  return { choice: vote, confidence };
}

/**
 * The short answer of a proposal or revision (its `ANSWER:` line), if present.
 *
 * @example
 * parseAnswer("Because ...\nANSWER: Adopt a four-day week"); // "Adopt a four-day week"
 */
export function parseAnswer(text: string): string | undefined {
  return ANSWER_CONVENTIONS.answerLine.exec(lastLines(text))?.[1];
}

/** Only the tail is searched, so an agent quoting the prompt's options earlier does not confuse the parser. */
function lastLines(text: string): string {
  return text.split("\n").slice(-6).join("\n");
}
