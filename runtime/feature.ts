/**
 * How a feature plugs into the server: a factory receives the process's shared parts (config,
 * store, actor system, WS gateway, drain) and, as a second typed argument, what it needs from
 * other features; it returns its HTTP routes, its authenticator and start/stop hooks, plus what it offers
 * to later features. app/features.ts calls the factories in start order, handing each one the
 * offers it needs; the server starts features in that order and stops them in reverse, after the
 * drain and before the actor system shuts down.
 *
 * @example
 * export const debatesFeature = async (ctx: FeatureContext, { agents }: { agents: AgentDirectory }) => {
 *   const debates = new DebateSupervisor({ ...ctx, agents });
 *   return { name: "debates", routes: debateRoutes(debates) } satisfies Feature;
 * };
 */
import type { AnyElysia } from "elysia";
import type { ActorSystem } from "./actor/index.ts";
import type { Config } from "./config.ts";
import type { Drain } from "./drain.ts";
import type { Authenticator } from "./http/principal.ts";
import type { WsGateway } from "./http/ws-gateway.ts";
import type { Logger } from "./log.ts";
import type { FieldSealer } from "./security/field-sealer.ts";
import type { KeySource } from "./security/key-source.ts";
import type { Store } from "./store/index.ts";
import type { StoreHealth } from "./store/store-health.ts";

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
  /** Whether the store can write: features report their store failures and successes here. */
  storeHealth: StoreHealth;
  /** Encrypts and decrypts the secret fields features store, with the keys of the moment (`keys.current()`). */
  sealer: FieldSealer;
  /**
   * Where the encryption keys come from: `current()` the keys of the moment (they change when the
   * key file is reloaded), `status()` the source's kind, path, active and configured key ids and
   * last reload (for the key commands and routes), `onReload` to hear of a reload.
   */
  keys: KeySource;
}

export interface Feature {
  name: string;
  /** Elysia routes mounted on the API app (every route: detail.summary, tags, response schemas). */
  routes?: AnyElysia;
  /**
   * Recognises the credentials this feature issues (tokens, keys, sessions); app/ asks it after the
   * operator's, before any body or query is read (runtime/http/authenticators.ts).
   */
  authenticator?: Authenticator;
  /** Runs after the listeners are up (resume work, start schedules). */
  start?(): Promise<void>;
  /** Runs at shutdown after the drain, in reverse start order. */
  stop?(): Promise<void>;
}
