/**
 * GET /api/agents/health, GET /api/circuit-breakers and GET /api/system/circuit-breakers: read-only,
 * for on-call and the admin console (permission agents.read, which every role holds); they show no
 * key and no prompt.
 *
 * @example
 * curl -s -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/agents/health | jq '.agents[] | {name, state, failures}'
 * curl -s -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/circuit-breakers | jq .
 */
import { Elysia } from "elysia";
import type { Config } from "../../runtime/config.ts";
import { accessControl } from "../../runtime/http/permission.ts";
import { responses } from "../../runtime/http/route-schemas.ts";
import { type AgentStatusBody, AgentsHealthResponse, CircuitBreakersResponse } from "../../schemas/agents.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { BREAKER_GAUGE } from "./breaker.ts";
import type { AgentRegistry, AgentStatus } from "./directory.ts";

function toBody(a: AgentStatus): AgentStatusBody {
  return {
    name: a.name,
    provider: a.provider,
    model: a.model,
    aliases: a.aliases,
    configured: a.configured,
    simulated: a.simulated,
    fallback: a.fallback,
    state: a.state,
    state_code: BREAKER_GAUGE[a.state] as 0 | 1 | 2,
    failures: a.failures,
    last_failure: a.lastFailure,
    seconds_until_half_open: a.secondsUntilHalfOpen,
  };
}

/**
 * The agent routes over a registry.
 *
 * @example
 * app.use(agentRoutes(registry, config));
 */
export function agentRoutes(registry: AgentRegistry, config: Config) {
  const breakers = () => {
    const list = registry.status().map(toBody);
    const summary = { closed: 0, half_open: 0, open: 0 };
    for (const b of list) summary[b.state]++;
    return {
      failure_threshold: config.breakerFailures,
      cooldown_s: config.breakerCooldownSeconds,
      summary,
      breakers: list,
    };
  };
  // A fresh object per route: Elysia merges each route's permission into its detail in place.
  const detail = (tags: string[]) => ({
    summary: "Per-agent circuit breakers: state, consecutive failures, last failure",
    tags,
  });
  const agents = new Elysia({ name: "aragora-agents", prefix: "/api/agents" }).use(accessControl).get(
    "/health",
    () => {
      const agents = registry.status().map(toBody);
      const demoOnly = registry.catalog.demoOnly;
      return {
        status: agents.some((a) => a.state !== "closed") ? ("degraded" as const) : ("healthy" as const),
        demo_only: demoOnly,
        ...(demoOnly
          ? {
              message: "no provider API key is set: only the simulated demo agents (and local servers) are available",
            }
          : {}),
        agents,
      };
    },
    {
      permission: "agents.read",
      detail: {
        summary: "Agent health: provider, model, configured, simulated, circuit breaker per agent",
        tags: ["agents"],
      },
      response: responses({ 200: AgentsHealthResponse, 500: ErrorBody }),
    },
  );
  // The runbook's two addresses of the breakers' state.
  const breakerRoutes = new Elysia({ name: "aragora-circuit-breakers", prefix: "/api/circuit-breakers" })
    .use(accessControl)
    .get("", breakers, {
      permission: "agents.read",
      detail: detail(["agents"]),
      response: responses({ 200: CircuitBreakersResponse, 500: ErrorBody }),
    });
  const systemRoutes = new Elysia({ name: "aragora-system-breakers", prefix: "/api/system" })
    .use(accessControl)
    .get("/circuit-breakers", breakers, {
      permission: "agents.read",
      detail: detail(["agents", "system"]),
      response: responses({ 200: CircuitBreakersResponse, 500: ErrorBody }),
    });
  return new Elysia({ name: "aragora-agent-routes" }).use(agents).use(breakerRoutes).use(systemRoutes);
}
