/**
 * How an actor folder plugs into the server: a {@link FeatureFactory} receives the process's shared
 * parts (config, store, actor system, WS gateway, drain) and returns its HTTP routes plus start/stop
 * hooks. runtime/features.ts lists the factories in start order; the server starts them in that
 * order and stops them in reverse, after the drain and before the actor system shuts down.
 *
 * @example
 * export const agentsFeature: FeatureFactory = async (ctx) => {
 *   const directory = createAgentDirectory(ctx);
 *   ctx.services.agents = directory;            // later features (debates) use it
 *   return { name: "agents", routes: agentRoutes(directory) };
 * };
 */
import type { AnyElysia } from "elysia";
import type { AgentDirectory } from "../actors/agent/turn.ts";
import type { RunbookService } from "../actors/runbook/service.ts";
import type { ActorSystem } from "./actor/index.ts";
import type { Config } from "./config.ts";
import type { Drain } from "./drain.ts";
import type { RouteGuard } from "./http/admin-guard.ts";
import type { WsGateway } from "./http/ws-gateway.ts";
import type { Logger } from "./log.ts";
import type { Store } from "./store/index.ts";
import type { StoreHealth } from "./store/store-health.ts";

/** Services features offer each other; a feature sets its field, later ones read it. */
export interface Services {
  agents?: AgentDirectory;
  /** The runbook interpreter (actors/runbook); the schedulers run maintenance playbooks through it. */
  runbooks?: RunbookService;
}

export interface FeatureContext {
  config: Config;
  log: Logger;
  store: Store;
  system: ActorSystem;
  gateway: WsGateway;
  drain: Drain;
  nodeId: string;
  /** Absolute ARAGORA_DATA_DIR. */
  dataDir: string;
  version: string;
  services: Services;
  /** Whether the store can write: features report their store failures and successes here. */
  storeHealth: StoreHealth;
}

export interface Feature {
  name: string;
  /** Elysia routes mounted on the API app (every route: detail.summary, tags, response schemas). */
  routes?: AnyElysia;
  /** Guards of path prefixes, checked before any body or query is read (runtime/http/admin-guard.ts). */
  guards?: RouteGuard[];
  /** Runs after the listeners are up (resume work, start schedules). */
  start?(): Promise<void>;
  /** Runs at shutdown after the drain, in reverse start order. */
  stop?(): Promise<void>;
}

export type FeatureFactory = (ctx: FeatureContext) => Feature | Promise<Feature>;
