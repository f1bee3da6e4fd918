/**
 * A zero-latency, in-process {@link AgentDirectory} for protocol tests and the orchestration
 * benchmark: each agent answers from a script (by role and round), streams its text as a few
 * token deltas, and can be told to fail on a given turn.
 *
 * @example
 * const agents = inProcessAgents({ answers: { "t:a": "yes", "t:b": "no" } });
 * await agents.runTurn("t:a", { debateId: "d-1", round: 0, role: "proposer", system: "", prompt: "Q", signal });
 */
import {
  type AgentDirectory,
  type AgentSpec,
  AgentTurnError,
  type TurnRequest,
  type TurnResult,
} from "../../actors/agent/turn.ts";
import type { Emit } from "../../actors/debate/protocol.ts";
import type { DebateConfig, DebateEventEnvelope } from "../../actors/debate/types.ts";

/**
 * A debate's configuration as the supervisor fills it in, for tests and benches that drive the
 * protocol or the store directly: three in-process agents, majority, all-to-all, no budget, no
 * roles, with `over` on top.
 *
 * @example debateConfig({ rounds: 1, timeouts: { turnMs: 1000, roundMs: 1000, debateMs: 1000 } })
 */
export function debateConfig(over: Partial<DebateConfig> = {}): DebateConfig {
  return {
    agents: ["t:a", "t:b", "t:c"],
    rounds: 2,
    consensus: "majority",
    topology: "all_to_all",
    convergenceThreshold: 1,
    budget: { maxTokens: null, maxCostUsd: null },
    timeouts: { turnMs: 5000, roundMs: 10_000, debateMs: 30_000 },
    roles: { judge: null, devilsAdvocate: null, synthesiser: null },
    ...over,
  };
}

export interface InProcessOptions {
  /** The answer each agent gives in proposals and revisions (default: its own name). */
  answers?: Record<string, string | ((round: number) => string)>;
  /** Whom each agent votes for (default: the first option in the prompt). */
  votes?: Record<string, string>;
  /** Fail this agent's turns from this round on (kind provider_error). */
  failFrom?: Record<string, number>;
  /** Tokens reported per turn (input and output each). */
  tokensPerTurn?: number;
  costPerTurn?: number;
  /** Deltas each turn's text is streamed in. */
  deltas?: number;
  /** Wait before each delta (a model's per-token latency); 0 streams at once. */
  tokenDelayMs?: number;
}

export interface InProcessAgents extends AgentDirectory {
  calls: { agent: string; round: number; role: string }[];
}

/** Build the directory. @example const agents = inProcessAgents({ failFrom: { "t:c": 1 } }) */
export function inProcessAgents(options: InProcessOptions = {}): InProcessAgents {
  const calls: InProcessAgents["calls"] = [];
  const spec = (name: string): AgentSpec => {
    const [provider = "", model = ""] = name.split(":");
    if (!provider || !model) throw new Error(`"${name}" is not provider:model`);
    return { name, provider, model, configured: true, simulated: true };
  };
  const tokens = options.tokensPerTurn ?? 10;
  const deltas = options.deltas ?? 4;
  return {
    calls,
    resolve: spec,
    defaultAgents: () => ["t:a", "t:b", "t:c"].map(spec),
    providersWithOwnKeys: async () => new Set<string>(),
    async runTurn(agent: string, req: TurnRequest): Promise<TurnResult> {
      calls.push({ agent, round: req.round, role: req.role });
      const failRound = options.failFrom?.[agent];
      if (failRound !== undefined && req.round >= failRound) {
        throw new AgentTurnError(agent, "provider_error", `${agent} is scripted to fail from round ${failRound}`);
      }
      let text: string;
      if (req.role === "voter" || req.role === "judge") {
        const first = /^OPTION (\S+):/m.exec(req.prompt)?.[1] ?? agent;
        text = `I weigh the options.\nVOTE: ${options.votes?.[agent] ?? first}\nCONFIDENCE: 0.9`;
      } else {
        const a = options.answers?.[agent];
        const answer = typeof a === "function" ? a(req.round) : (a ?? agent);
        text = `Reasoning of ${agent} in round ${req.round} as ${req.role}.\nANSWER: ${answer}`;
      }
      const step = Math.ceil(text.length / deltas);
      for (let i = 0; i < text.length; i += step) {
        if (options.tokenDelayMs) {
          await Bun.sleep(options.tokenDelayMs);
          if (req.signal.aborted) throw new AgentTurnError(agent, "aborted", "turn aborted");
        }
        req.onToken?.(text.slice(i, i + step));
      }
      return {
        agent,
        provider: "t",
        model: agent.split(":")[1] ?? agent,
        text,
        usage: {
          inputTokens: tokens,
          outputTokens: tokens,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: 0,
          estimated: false,
        },
        cost: { usd: options.costPerTurn ?? 0, source: "simulated", estimated: false },
        latencyMs: 0,
        firstTokenMs: 0,
        simulated: true,
      };
    },
  };
}

/**
 * An in-memory event log for protocol tests: every emitted event as the log would envelope it.
 *
 * @example const rec = recorder(); await runProtocol({ ..., emit: rec.emit }); rec.types() // ["debate_start", ...]
 */
export function recorder(debateId = "d-t") {
  const events: DebateEventEnvelope[] = [];
  const emit: Emit = (type, round, agent, data) => {
    events.push({
      type,
      debate_id: debateId,
      seq: events.length + 1,
      ts: new Date().toISOString(),
      round,
      agent,
      data,
    } as DebateEventEnvelope);
  };
  return { events, emit, types: () => events.filter((e) => e.type !== "token").map((e) => e.type) };
}
