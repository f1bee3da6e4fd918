/**
 * The agents feature: builds the agent registry (providers, catalog, one AgentActor per agent),
 * offers it to later features as `agents`, mounts the health routes, and warns when no provider
 * key is set so only the simulated demo agents are available.
 *
 * @example
 * const agents = agentsFeature(ctx);
 * const debates = await debatesFeature(ctx, { agents: agents.agents });
 */
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import { type AgentRegistry, createAgentRegistry } from "./directory.ts";
import { agentRoutes } from "./routes.ts";

export function agentsFeature(ctx: FeatureContext): Feature & { agents: AgentRegistry } {
  const log = ctx.log.child({ component: "agents" });
  const registry = createAgentRegistry({ config: ctx.config, system: ctx.system, log });
  return {
    name: "agents",
    agents: registry,
    routes: agentRoutes(registry, ctx.config),
    async start() {
      registry.start();
      const defaults = registry.defaultAgents().map((a) => a.name);
      if (registry.catalog.demoOnly) {
        log.warn(
          { default_agents: defaults },
          "no provider API key is set (ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENROUTER_API_KEY, MISTRAL_API_KEY, GEMINI_API_KEY, XAI_API_KEY): only the simulated demo agents are available",
        );
      } else {
        log.info(
          { default_agents: defaults, fallback: ctx.config.openrouterApiKey !== undefined },
          `agents ready: ${defaults.join(", ")}`,
        );
      }
    },
    async stop() {
      await registry.close();
    },
  };
}
