/**
 * The agent side of the turn contract: resolves names, knows the default set, spawns one
 * AgentActor per agent under the "agents" supervisor (lazily, or at start for the defaults) and
 * routes turns to it. Also the read side of the breakers for the health routes.
 *
 * A turn of an organisation's debate runs with the organisation's own key for the agent's provider
 * when it set one (./org-provider-keys.ts: read briefly cached, opened on demand), else with the
 * server's. The client for an organisation's key is made once per key and kept (the least recently
 * used dropped past {@link MAX_OWN_CLIENTS}); the agent's actor keeps a breaker per credential.
 *
 * @example
 * const agents = createAgentRegistry({ config, system, log });
 * const debates = await debatesFeature(ctx, { agents });
 * const result = await agents.runTurn("demo:alice", { debateId, round: 0, role: "proposer", system, prompt, signal });
 */
import {
  type ActorRef,
  ActorStoppedError,
  type ActorSystem,
  AskTimeoutError,
  type Clock,
  MailboxOverflowError,
  supervisor,
} from "../../runtime/actor/index.ts";
import type { Config } from "../../runtime/config.ts";
import type { Logger } from "../../runtime/log.ts";
import { LruMap } from "../../runtime/security/lru-map.ts";
import {
  type AgentMsg,
  actorNameOf,
  agentActor,
  type BoardEntry,
  TURN_ASK_LIMIT_MS,
  type TurnCredential,
  type TurnOutcome,
} from "./agent-actor.ts";
import type { BreakerState } from "./breaker.ts";
import { AgentCatalog, type ProviderEntry, UnknownAgentError } from "./catalog.ts";
import type { OrgKey, OrgKeySource } from "./org-provider-keys.ts";
import { demoClient } from "./providers/demo.ts";
import {
  type ProviderSettings,
  providerClients,
  providerClientWithKey,
  providerSettings,
} from "./providers/sdk-client.ts";
import { ProviderWorkerPool, workerClients } from "./providers/worker-pool.ts";
import {
  type AgentDirectory,
  type AgentSpec,
  AgentTurnError,
  missingKeyRule,
  type TurnRequest,
  type TurnResult,
} from "./turn.ts";

/** Clients with organisations' own keys kept at most (one per organisation and provider). */
const MAX_OWN_CLIENTS = 1024;
const NO_PROVIDERS: ReadonlySet<string> = new Set();

/** One agent as the health routes show it: never a key. */
export interface AgentStatus {
  name: string;
  provider: string;
  model: string;
  aliases: string[];
  configured: boolean;
  simulated: boolean;
  fallback: string | null;
  state: BreakerState;
  failures: number;
  lastFailure: { at: string; message: string } | null;
  secondsUntilHalfOpen: number | null;
}

export interface AgentRegistryOptions {
  config: Config;
  system: ActorSystem;
  log: Logger;
  /** Provider clients by provider name; defaults to the AI SDK clients plus the demo provider. */
  providers?: Map<string, ProviderEntry>;
  /** Organisations' own provider keys; without it every turn uses the server's keys. */
  orgKeys?: OrgKeySource;
}

/** The AgentDirectory implementation plus what the routes and the feature need. */
export class AgentRegistry implements AgentDirectory {
  readonly catalog: AgentCatalog;
  private readonly board = new Map<string, BoardEntry>();
  private readonly actors = new Map<string, ActorRef<AgentMsg>>();
  private supervisorRef: ActorRef<never> | undefined;
  private readonly secrets: string[];
  private readonly clock: Clock;
  /** The provider worker threads (ARAGORA_WORKERS > 0 and no injected providers). */
  private readonly pool: ProviderWorkerPool | undefined;
  private readonly settings: ProviderSettings;
  /** The server key's credential of each agent that ran a turn. */
  private readonly serverCredentials = new Map<string, TurnCredential>();
  /** Clients with organisations' keys, by organisation and provider, with the key they call with. */
  private readonly ownClients = new LruMap<{ fingerprint: string; entry: ProviderEntry }>();

  constructor(private readonly options: AgentRegistryOptions) {
    const { config, system } = options;
    this.clock = system.clock;
    this.settings = providerSettings(config);
    let providers = options.providers;
    if (providers === undefined) {
      const settings = this.settings;
      if (config.providerWorkers > 0) {
        this.pool = new ProviderWorkerPool(settings, config.providerWorkers, options.log);
        providers = workerClients(settings, this.pool);
      } else providers = providerClients(settings);
    }
    if (!providers.has("demo")) {
      providers.set("demo", {
        client: demoClient({ clock: system.clock, tokenDelayMs: config.demoTokenDelayMs }),
        configured: true,
        local: true,
      });
    }
    this.catalog = new AgentCatalog(config, providers);
    this.secrets = [
      config.anthropicApiKey,
      config.openaiApiKey,
      config.openrouterApiKey,
      config.mistralApiKey,
      config.geminiApiKey,
      config.xaiApiKey,
    ].filter((k): k is string => k !== undefined && k.length >= 4);
  }

  /** @example agents.resolve("claude").name // "anthropic:claude-sonnet-4-5" */
  resolve(nameOrAlias: string): AgentSpec {
    return this.catalog.resolve(nameOrAlias);
  }

  /** @example agents.defaultAgents().length // 3 on a server without keys */
  defaultAgents(): AgentSpec[] {
    return this.catalog.defaultAgents();
  }

  /**
   * The providers `orgId` has its own key for (none without organisations' keys).
   *
   * @example (await agents.providersWithOwnKeys(orgId)).has("anthropic")
   */
  providersWithOwnKeys(orgId: string): Promise<ReadonlySet<string>> {
    return this.options.orgKeys?.providers(orgId) ?? Promise.resolve(NO_PROVIDERS);
  }

  /**
   * Drops the clients made with `orgId`'s own keys (its keys changed): a removed key is not kept in
   * a client here, and the next turn makes one with the key set now.
   *
   * @example agents.forgetOwnClients(orgId);
   */
  forgetOwnClients(orgId: string): void {
    const prefix = `${orgId}\u0000`;
    const gone = [...this.ownClients.entries()].map(([id]) => id).filter((id) => id.startsWith(prefix));
    for (const id of gone) this.ownClients.delete(id);
  }

  /**
   * Runs one turn on the agent's actor, with the organisation's own key for the provider when
   * `request.orgId` has one, else the server's. Rejects with AgentTurnError (never anything else).
   *
   * @example
   * await agents.runTurn("demo:bob", { debateId: "d-1", round: 1, role: "critic", system: "", prompt, signal });
   */
  async runTurn(agent: string, request: TurnRequest): Promise<TurnResult> {
    let spec: AgentSpec;
    try {
      spec = this.catalog.resolve(agent);
    } catch (err) {
      throw new AgentTurnError(agent, "not_configured", (err as Error).message, err);
    }
    let via: TurnCredential | undefined;
    const { orgKeys } = this.options;
    if (orgKeys !== undefined && request.orgId !== undefined && !spec.simulated) {
      let own: OrgKey | undefined;
      let openrouter = false;
      try {
        own = await orgKeys.key(request.orgId, spec.provider);
        openrouter = (await orgKeys.providers(request.orgId)).has("openrouter");
      } catch (err) {
        // Never the server's key instead: the organisation chose to pay for this provider itself.
        throw new AgentTurnError(spec.name, "not_configured", `${spec.name}: ${(err as Error).message}`, err);
      }
      if (own !== undefined) via = this.ownCredential(request.orgId, spec, own, openrouter);
      else if (spec.configured && openrouter && this.options.config.openrouterApiKey === undefined) {
        // The server's key, and the organisation's OpenRouter key to fall back on.
        via = { ...this.serverCredential(spec), fallback: this.fallbackOf(spec, true) };
      }
    }
    if (via === undefined) {
      if (!spec.configured) {
        throw new AgentTurnError(spec.name, "not_configured", `${spec.name}: ${missingKeyRule(spec.provider)}`);
      }
      via = this.serverCredential(spec);
    }
    if (request.signal.aborted)
      throw new AgentTurnError(spec.name, "aborted", "the turn was aborted before it started");
    let ref: ActorRef<AgentMsg>;
    try {
      ref = this.actorFor(spec);
    } catch (err) {
      throw new AgentTurnError(spec.name, "aborted", "the agents are shutting down", err);
    }
    let outcome: TurnOutcome;
    try {
      outcome = await ref.ask<TurnOutcome>({ type: "turn", request, via }, { timeoutMs: TURN_ASK_LIMIT_MS });
    } catch (err) {
      if (err instanceof ActorStoppedError)
        throw new AgentTurnError(spec.name, "aborted", "the agent is shutting down", err);
      if (err instanceof MailboxOverflowError)
        throw new AgentTurnError(spec.name, "provider_error", "the agent's mailbox is full", err);
      if (err instanceof AskTimeoutError)
        throw new AgentTurnError(spec.name, "timeout", "the turn never finished", err);
      throw err;
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  }

  /** Stop the provider worker threads (after the debates have drained). @example await agents.close() */
  async close(): Promise<void> {
    await this.pool?.close();
  }

  /**
   * Spawns the actors of the default agents, so their breakers show up before the first debate.
   *
   * @example
   * agents.start();
   */
  start(): void {
    for (const spec of this.catalog.knownAgents()) if (spec.configured) this.actorFor(spec);
  }

  /**
   * Every agent the server knows (configured defaults, aliases, local servers, and any that ran
   * a turn) with its breaker, oldest first.
   *
   * @example
   * agents.status().find((a) => a.state === "open");
   */
  status(): AgentStatus[] {
    const specs = new Map<string, AgentSpec>();
    for (const spec of this.catalog.knownAgents()) specs.set(spec.name, spec);
    for (const name of this.board.keys()) if (!specs.has(name)) specs.set(name, this.catalog.resolve(name));
    const aliases = new Map<string, string[]>();
    for (const [alias, target] of Object.entries(this.options.config.agentAliases)) {
      aliases.set(target, [...(aliases.get(target) ?? []), alias]);
    }
    return [...specs.values()].map((spec) => {
      const entry = this.board.get(spec.name);
      let state: BreakerState = entry?.snapshot.state ?? "closed";
      let secondsUntilHalfOpen = entry?.snapshot.secondsUntilHalfOpen ?? null;
      if (entry !== undefined && state === "open") {
        // The snapshot ages: an open breaker whose cooldown passed is half-open now.
        const remaining = (entry.msUntilHalfOpen - (this.clock.now() - entry.publishedAt)) / 1000;
        secondsUntilHalfOpen = remaining > 0 ? Math.ceil(remaining) : null;
        if (remaining <= 0) state = "half_open";
      }
      return {
        name: spec.name,
        provider: spec.provider,
        model: spec.model,
        aliases: aliases.get(spec.name) ?? [],
        configured: spec.configured,
        simulated: spec.simulated,
        fallback: this.catalog.fallbackFor(spec)?.name ?? null,
        state,
        failures: entry?.snapshot.failures ?? 0,
        lastFailure: entry?.snapshot.lastFailure ?? null,
        secondsUntilHalfOpen,
      };
    });
  }

  private actorFor(spec: AgentSpec): ActorRef<AgentMsg> {
    const existing = this.actors.get(spec.name);
    if (existing?.alive) return existing;
    const { config, system, log } = this.options;
    this.supervisorRef ??=
      system.lookup<never>("/system/agents") ??
      system.spawn(supervisor(), {
        name: "agents",
        restart: "permanent",
        supervisor: { strategy: "one_for_one", maxRestarts: 20, periodMs: 60_000 },
      });
    const ref = system.spawn(
      agentActor({
        spec,
        policy: {
          maxAttempts: config.agentMaxAttempts,
          baseMs: config.agentRetryBaseMs,
          maxWaitMs: config.agentMaxRetryWaitSeconds * 1000,
        },
        breaker: { failureThreshold: config.breakerFailures, cooldownMs: config.breakerCooldownSeconds * 1000 },
        board: this.board,
        runFallback: (fallback, request) => this.runTurn(fallback.name, request),
        log,
      }),
      { parent: this.supervisorRef, name: actorNameOf(spec.name), restart: "permanent" },
    );
    this.actors.set(spec.name, ref);
    return ref;
  }

  /** The server key's credential for `spec`: its provider's client, fallback and redaction. */
  private serverCredential(spec: AgentSpec): TurnCredential {
    let via = this.serverCredentials.get(spec.name);
    if (via === undefined) {
      via = {
        entry: this.catalog.provider(spec.provider),
        fallback: this.catalog.fallbackFor(spec),
        redact: (message) => this.redact(message),
      };
      this.serverCredentials.set(spec.name, via);
    }
    return via;
  }

  /** The OpenRouter agent `spec` falls back to when there is an OpenRouter key (`openrouter`). */
  private fallbackOf(spec: AgentSpec, openrouter: boolean): AgentSpec | undefined {
    return this.catalog.fallbackFor(spec, openrouter || this.options.config.openrouterApiKey !== undefined);
  }

  /**
   * The credential of `orgId`'s own key for `spec`'s provider: a client made once per key (on the
   * worker threads when they stream), a fallback when the server or the organisation has an
   * OpenRouter key, and the key scrubbed out of provider messages with the server's.
   */
  private ownCredential(orgId: string, spec: AgentSpec, key: OrgKey, openrouter: boolean): TurnCredential {
    const id = `${orgId}\u0000${spec.provider}`;
    let cached = this.ownClients.get(id);
    if (cached === undefined || cached.fingerprint !== key.fingerprint) {
      const entry = this.pool
        ? {
            client: this.pool.client(spec.provider, { id: `${orgId}#${key.fingerprint}`, apiKey: key.secret }),
            configured: true,
            local: this.catalog.provider(spec.provider).local,
          }
        : providerClientWithKey(this.settings, spec.provider, key.secret);
      if (entry === undefined) {
        throw new AgentTurnError(
          spec.name,
          "not_configured",
          `${spec.name}: the ${spec.provider} provider takes no key`,
        );
      }
      cached = { fingerprint: key.fingerprint, entry };
      this.ownClients.set(id, cached);
      while (this.ownClients.size > MAX_OWN_CLIENTS) {
        const oldest = this.ownClients.oldest();
        if (oldest === undefined) break;
        this.ownClients.delete(oldest[0]);
      }
    } else this.ownClients.touch(id);
    const { secret } = key;
    return {
      orgId,
      keyId: key.fingerprint,
      entry: cached.entry,
      fallback: this.fallbackOf(spec, openrouter),
      redact: (message) => this.redact(message).replaceAll(secret, "[redacted]"),
    };
  }

  private redact(message: string): string {
    let out = message;
    for (const secret of this.secrets) out = out.replaceAll(secret, "[redacted]");
    return out;
  }
}

export { UnknownAgentError };

/**
 * Builds the registry; throws UnknownAgentError when the configured aliases or defaults name an
 * agent that cannot exist.
 *
 * @example
 * const agents = createAgentRegistry({ config, system: ctx.system, log: ctx.log });
 */
export function createAgentRegistry(options: AgentRegistryOptions): AgentRegistry {
  return new AgentRegistry(options);
}
