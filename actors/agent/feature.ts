/**
 * The agents feature: builds the agent registry (providers, catalog, one AgentActor per agent),
 * offers it to later features as `agents`, mounts the health routes and an organisation's own
 * provider keys (/api/org/provider-keys, stored sealed in `provider_keys`), and warns when no
 * provider key is set so only the simulated demo agents are available (organisations may still
 * set their own).
 *
 * @example
 * const agents = await agentsFeature(ctx, { audit: access.audit });
 * const debates = await debatesFeature(ctx, { agents: agents.agents });
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import { type AgentRegistry, createAgentRegistry } from "./directory.ts";
import { OrgProviderKeys } from "./org-provider-keys.ts";
import { providerKeyRoutes } from "./provider-key-routes.ts";
import { openProviderKeyStore } from "./provider-key-store.ts";
import { keyedProviders } from "./providers/sdk-client.ts";
import { agentRoutes } from "./routes.ts";

export interface AgentsFeatureDeps {
  /** Where changes to organisations' provider keys are recorded. */
  audit: AuditRecorder;
}

export async function agentsFeature(
  ctx: FeatureContext,
  { audit }: AgentsFeatureDeps,
): Promise<Feature & { agents: AgentRegistry }> {
  const log = ctx.log.child({ component: "agents" });
  const keyStore = await openProviderKeyStore(ctx.store, ctx.sealer);
  const orgKeys = new OrgProviderKeys(keyStore);
  let registry: AgentRegistry;
  try {
    registry = createAgentRegistry({ config: ctx.config, system: ctx.system, log, orgKeys });
  } catch (err) {
    await keyStore.close();
    throw err;
  }
  return {
    name: "agents",
    agents: registry,
    routes: new Elysia({ name: "aragora-agents-and-provider-keys" }).use(agentRoutes(registry, ctx.config)).use(
      providerKeyRoutes({
        store: keyStore,
        forget: (orgId) => {
          orgKeys.forget(orgId);
          registry.forgetOwnClients(orgId);
        },
        providers: keyedProviders(ctx.config),
        audit,
        log,
      }),
    ),
    async start() {
      registry.start();
      const defaults = registry.defaultAgents().map((a) => a.name);
      if (registry.catalog.demoOnly) {
        log.warn(
          { default_agents: defaults },
          "no provider API key is set (ANTHROPIC_API_KEY, OPENAI_API_KEY, OPENROUTER_API_KEY, MISTRAL_API_KEY, GEMINI_API_KEY, XAI_API_KEY): only the simulated demo agents are available, and the agents of providers an organisation set its own key for (PUT /api/org/provider-keys/<provider>)",
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
      await keyStore.close();
    },
  };
}
