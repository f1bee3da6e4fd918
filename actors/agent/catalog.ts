/**
 * Which agents exist: `provider:model` names over the built-in providers, the demo provider and
 * the local servers of ARAGORA_LOCAL_MODELS, the aliases of ARAGORA_AGENT_ALIASES, the default
 * set, and the OpenRouter model each agent falls back to.
 *
 * @example
 * const catalog = new AgentCatalog(config, clients);
 * catalog.resolve("claude");            // { name: "anthropic:claude-sonnet-4-5", alias: "claude", ... }
 * catalog.fallbackFor(spec)?.name;      // "openrouter:anthropic/claude-sonnet-4.5"
 */
import type { Config } from "../../runtime/config.ts";
import type { ProviderClient } from "./providers/client.ts";
import type { AgentSpec } from "./turn.ts";

export interface ProviderEntry {
  client: ProviderClient;
  configured: boolean;
  local: boolean;
}

/** Models a provider contributes to the derived default set: its first when several providers have keys, both when it is the only one. */
const DEFAULT_MODELS: Record<string, [string, string]> = {
  anthropic: ["claude-sonnet-4-5", "claude-haiku-4-5"],
  openai: ["gpt-4.1-mini", "gpt-4.1"],
  gemini: ["gemini-2.5-flash", "gemini-2.5-pro"],
  mistral: ["mistral-large-latest", "mistral-small-latest"],
  xai: ["grok-4", "grok-3-mini"],
  openrouter: ["anthropic/claude-sonnet-4.5", "openai/gpt-4.1-mini"],
};
const DEMO_AGENTS = ["demo:alice", "demo:bob", "demo:carol"];
/** OpenRouter's vendor prefix for each provider whose models it resells. */
const OPENROUTER_VENDOR: Record<string, string> = {
  anthropic: "anthropic",
  openai: "openai",
  gemini: "google",
  mistral: "mistralai",
  xai: "x-ai",
};
const MODEL = /^[A-Za-z0-9._/@:-]{1,200}$/;
const DEMO_MODEL = /^[a-z0-9_-]{1,40}$/;

/** Raised for a name the catalog cannot resolve; the message names what is wrong (for a 422). */
export class UnknownAgentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnknownAgentError";
  }
}

export class AgentCatalog {
  private readonly defaults: AgentSpec[];

  /**
   * Builds the catalog and checks the configured aliases and defaults, so a typo fails at start.
   *
   * @example
   * new AgentCatalog(config, providerClients(config) plus demo);
   */
  constructor(
    private readonly config: Config,
    private readonly providers: Map<string, ProviderEntry>,
  ) {
    for (const [alias, target] of Object.entries(config.agentAliases)) {
      try {
        this.parse(target);
      } catch (err) {
        throw new UnknownAgentError(`ARAGORA_AGENT_ALIASES: alias "${alias}": ${(err as Error).message}`);
      }
    }
    if (config.defaultAgents !== undefined) {
      this.defaults = config.defaultAgents.map((name) => {
        try {
          return this.resolve(name);
        } catch (err) {
          throw new UnknownAgentError(`ARAGORA_DEFAULT_AGENTS: ${(err as Error).message}`);
        }
      });
    } else {
      this.defaults = this.derivedDefaults().map((n) => this.resolve(n));
    }
  }

  /** True when no real provider is usable: only demo agents (and local servers, if any) remain. */
  get demoOnly(): boolean {
    return ![...this.providers.entries()].some(([name, p]) => name !== "demo" && p.configured);
  }

  /**
   * A name or alias to its spec; throws UnknownAgentError naming the problem.
   *
   * @example
   * catalog.resolve("demo:alice"); // { name: "demo:alice", provider: "demo", model: "alice", configured: true, simulated: true }
   */
  resolve(nameOrAlias: string): AgentSpec {
    const raw = nameOrAlias.trim();
    const target = this.config.agentAliases[raw];
    const spec = this.parse(target ?? raw);
    return target === undefined ? spec : { ...spec, alias: raw };
  }

  /** @example catalog.defaultAgents().map((a) => a.name) // ["demo:alice", "demo:bob", "demo:carol"] */
  defaultAgents(): AgentSpec[] {
    return this.defaults.map((a) => ({ ...a }));
  }

  /** The provider entry behind a resolved agent. @example catalog.provider("openai").configured */
  provider(name: string): ProviderEntry {
    const entry = this.providers.get(name);
    if (entry === undefined) throw new UnknownAgentError(`unknown provider "${name}"`);
    return entry;
  }

  /**
   * The OpenRouter agent a turn falls back to, when there is an OpenRouter key (`openrouter`: by
   * default whether OPENROUTER_API_KEY is set; an organisation's own key counts for its debates)
   * and the agent's model has a mapping (ARAGORA_FALLBACK_MODELS, else the vendor/model rule).
   *
   * @example
   * catalog.fallbackFor(catalog.resolve("anthropic:claude-sonnet-4-5"))?.model; // "anthropic/claude-sonnet-4.5"
   */
  fallbackFor(spec: AgentSpec, openrouter = this.config.openrouterApiKey !== undefined): AgentSpec | undefined {
    if (spec.provider === "openrouter" || !openrouter) return undefined;
    const override = this.config.fallbackModels[spec.name];
    const vendor = OPENROUTER_VENDOR[spec.provider];
    const model =
      override ??
      (vendor === undefined
        ? undefined
        : // Anthropic's API names versions with dashes (claude-sonnet-4-5), OpenRouter with dots (4.5).
          `${vendor}/${spec.provider === "anthropic" ? spec.model.replace(/-(\d+)-(\d+)$/, "-$1.$2") : spec.model}`);
    return model === undefined ? undefined : this.parse(`openrouter:${model}`);
  }

  /** Every agent worth listing before any turn ran: defaults, alias targets, local servers' models. */
  knownAgents(): AgentSpec[] {
    const names = new Set<string>(this.defaults.map((a) => a.name));
    for (const target of Object.values(this.config.agentAliases)) names.add(target);
    for (const server of this.config.localModels) names.add(`${server.name}:${server.model}`);
    return [...names].map((n) => this.parse(n));
  }

  private parse(name: string): AgentSpec {
    const colon = name.indexOf(":");
    if (colon <= 0) {
      throw new UnknownAgentError(
        `"${name}" is not an agent: expected provider:model (providers: ${[...this.providers.keys()].join(", ")}) or a configured alias`,
      );
    }
    const provider = name.slice(0, colon);
    const model = name.slice(colon + 1);
    const entry = this.providers.get(provider);
    if (entry === undefined) {
      throw new UnknownAgentError(
        `"${name}": unknown provider "${provider}" (providers: ${[...this.providers.keys()].join(", ")})`,
      );
    }
    const valid = provider === "demo" ? DEMO_MODEL.test(model) : MODEL.test(model);
    if (!valid) {
      throw new UnknownAgentError(
        provider === "demo"
          ? `"${name}": a demo agent's name is lowercase letters, digits, - or _ (e.g. demo:alice)`
          : `"${name}": the model must be 1-200 characters of letters, digits and . _ / @ : -`,
      );
    }
    return { name, provider, model, configured: entry.configured, simulated: entry.client.simulated };
  }

  private derivedDefaults(): string[] {
    const remote = Object.keys(DEFAULT_MODELS).filter((p) => this.providers.get(p)?.configured);
    const local = this.config.localModels.map((s) => `${s.name}:${s.model}`);
    const candidates = [...remote.map((p) => `${p}:${(DEFAULT_MODELS[p] as [string, string])[0]}`), ...local];
    if (candidates.length >= 2) return candidates.slice(0, 5);
    if (remote.length === 1)
      return (DEFAULT_MODELS[remote[0] as string] as [string, string]).map((m) => `${remote[0]}:${m}`);
    // One local server alone cannot debate with itself: the demo agents keep it company.
    return [...local, ...DEMO_AGENTS].slice(0, Math.max(3, local.length));
  }
}
