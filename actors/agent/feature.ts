/**
 * The agents feature: builds the agent registry (providers, catalog, one AgentActor per agent),
 * offers it to later features as `services.agents`, mounts the health routes, and warns when no
 * provider key is set so only the simulated demo agents are available.
 *
 * @example
 * // runtime/features.ts
 * export const FEATURES: FeatureFactory[] = [agentsFeature, debatesFeature];
 */
import type { FeatureFactory } from "../../runtime/feature.ts";
import { createAgentRegistry } from "./directory.ts";
import { agentRoutes } from "./routes.ts";

export const agentsFeature: FeatureFactory = (ctx) => {
  const log = ctx.log.child({ component: "agents" });
  const registry = createAgentRegistry({ config: ctx.config, system: ctx.system, log });
  ctx.services.agents = registry;
  return {
    name: "agents",
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
};
