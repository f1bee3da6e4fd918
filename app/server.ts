/**
 * The server process: opens the store (applying migrations), registers this node,
 * starts the HTTP API and the dedicated WebSocket listener, and owns graceful shutdown.
 *
 * @example
 * const server = await startServer({ config, log });
 * console.log(server.apiPort, server.wsPort);
 * await server.shutdown("SIGTERM"); // drains, closes sockets with 1001, closes the store
 */
import { hostname } from "node:os";
import { resolve } from "node:path";
import { nodeHeartbeat } from "../actors/node/heartbeat-actor.ts";
import pkg from "../package.json" with { type: "json" };
import { ActorSystem } from "../runtime/actor/index.ts";
import { type AuditRecorder, SYSTEM } from "../runtime/audit.ts";
import type { Config } from "../runtime/config.ts";
import { withDeadline } from "../runtime/deadline.ts";
import { Drain } from "../runtime/drain.ts";
import type { Feature, FeatureContext } from "../runtime/feature.ts";
import { createHttpApp, createWsApp } from "../runtime/http/app.ts";
import { keySourceRoutes, reloadAuditDetail } from "../runtime/http/key-source-routes.ts";
import { keysRoutes } from "../runtime/http/keys-routes.ts";
import type { Authenticator } from "../runtime/http/principal.ts";
import { openRateLimitGuard, type RateLimitGuard } from "../runtime/http/rate-limit.ts";
import { rateLimitRoutes } from "../runtime/http/rate-limit-routes.ts";
import { WsGateway } from "../runtime/http/ws-gateway.ts";
import type { Logger } from "../runtime/log.ts";
import { fieldSealer } from "../runtime/security/field-sealer.ts";
import { watchKeyFile } from "../runtime/security/key-file-watch.ts";
import { type KeyReloadResult, type KeySource, openKeySource } from "../runtime/security/key-source.ts";
import { acquireServerLock } from "../runtime/server-lock.ts";
import { openStore } from "../runtime/store/index.ts";
import { NODE_HEARTBEAT_MS } from "../runtime/store/node-keys.ts";
import { checkpointInBackground } from "../runtime/store/sqlite.ts";
import type { Store } from "../runtime/store/store.ts";
import { StoreHealth, type Unwritten } from "../runtime/store/store-health.ts";
import { WalCheckpointer } from "../runtime/store/wal-checkpointer.ts";
import { openConsoleAssets } from "../web/assets.ts";
import { consoleRoutes } from "../web/plugin.ts";
import { makeFeatures } from "./features.ts";
import { keysStatusSource } from "./keys-status.ts";
import { checkStoredKeys } from "./stored-keys-check.ts";

export const VERSION: string = pkg.version;

export interface RunningServer {
  apiPort: number;
  wsPort: number;
  nodeId: string;
  store: Store;
  system: ActorSystem;
  gateway: WsGateway;
  drain: Drain;
  /** Whether the store can write, as its parts last found out. */
  storeHealth: StoreHealth;
  /** Where the encryption keys come from (runtime/security/key-source.ts). */
  keys: KeySource;
  /** Re-reads the key file on SIGHUP (recorded in the audit log as the system's); never throws. */
  reloadKeys(trigger: "sighup" | "file_change"): KeyReloadResult;
  /** Begin graceful shutdown (idempotent); resolves when everything is closed. */
  shutdown(reason: string): Promise<void>;
}

export interface ServerOptions {
  config: Config;
  log: Logger;
  /**
   * Who is calling, in place of the authenticator app/features.ts composes. Only bench/http.ts
   * passes one: the same server with authentication off (a fixed principal) is the floor that
   * shows what finding the caller from a token or key costs. `aragora serve` never does.
   */
  authenticator?: Authenticator;
}

export async function startServer({ config, log, authenticator: replacement }: ServerOptions): Promise<RunningServer> {
  const startedAt = Date.now();
  const nodeId = crypto.randomUUID();
  const dataDir = resolve(config.dataDir);
  const lockInfo = {
    pid: process.pid,
    node_id: nodeId,
    host: config.host,
    api_port: config.apiPort,
    ws_port: config.wsPort,
    version: VERSION,
    started_at: new Date(startedAt).toISOString(),
  };
  const lock = acquireServerLock(dataDir, lockInfo);

  // Commits on the event loop must not run WAL checkpoints (see checkpointInBackground).
  checkpointInBackground();
  let store: Store;
  let keys: KeySource;
  try {
    // Before the store: a key file that cannot be used stops the start (exit 2) at once.
    keys = openKeySource(config, { dataDir, log, forServer: true });
    store = await openStore(config, log);
  } catch (err) {
    lock.release();
    throw err;
  }
  try {
    // Sealed secrets with no key to read them refuse the start; a key id they need that is not
    // configured is warned about (the operator may be mid-rotation).
    await checkStoredKeys({ store, keys, dataDir, log, phase: "start" });
  } catch (err) {
    await store.close();
    lock.release();
    throw err;
  }

  // Every long-lived part of the process runs under the root supervisor of one actor system.
  let shutdownRef: ((reason: string) => Promise<void>) | undefined;
  const system = new ActorSystem({
    mailboxLimit: config.actorMailboxLimit,
    onEscalate: (error) => {
      log.fatal({ err: error }, "the root supervisor gave up: restart intensity exceeded; shutting down");
      void shutdownRef?.("supervisor escalation").then(() => process.exit(1));
    },
    onInternalError: (error) => log.error({ err: error }, "actor kernel error"),
  });

  const storeHealth = new StoreHealth();
  storeHealth.addProbe("nodes", () => store.nodes.heartbeat(nodeId, new Date()));
  const drain = new Drain();
  const gateway = new WsGateway({ heartbeatMs: config.wsHeartbeatSeconds * 1000, log });
  const featureContext: FeatureContext = {
    config,
    log,
    store,
    system,
    gateway,
    drain,
    nodeId,
    dataDir,
    version: VERSION,
    storeHealth,
    sealer: fieldSealer(() => keys.current()),
    keys,
  };
  const features: Feature[] = [];
  let authenticator: Authenticator;
  let audit: AuditRecorder;
  let rateLimits: RateLimitGuard | undefined;
  try {
    ({ authenticator, audit } = await makeFeatures(featureContext, features));
    rateLimits = await openRateLimitGuard(config, log);
    if (replacement !== undefined) authenticator = replacement;
  } catch (err) {
    await system.shutdown();
    await store.close();
    lock.release();
    throw err;
  }
  // GET /api/admin/keys: the stores are opened on its first request, with the sealer's keys of the moment.
  const keysStatus = keysStatusSource(store, () => featureContext.sealer.ring(), dataDir);
  // The web console: found (or, from source outside production, built) in the background; its
  // first page waits for it, nothing else does.
  const consoleAssets = openConsoleAssets({ env: config.env, log });
  consoleAssets
    .manifest()
    .catch((err: unknown) => log.warn({ err, dir: consoleAssets.dir }, "the web console is not available"));
  const app = createHttpApp({
    config,
    log,
    system,
    gateway,
    drain,
    storeHealth,
    version: VERSION,
    startedAt,
    routes: [
      ...features.flatMap((f) => (f.routes ? [f.routes] : [])),
      rateLimitRoutes(rateLimits),
      keySourceRoutes({ keys, nodes: store.nodes, audit }),
      keysRoutes({ report: keysStatus.report }),
      consoleRoutes({ assets: consoleAssets }),
    ],
    authenticator,
    audit,
    rateLimits,
  });
  const wsApp = createWsApp({ config, gateway, authenticator, log });

  try {
    app.listen({ hostname: config.host, port: config.apiPort });
    gateway.setListening("api", true, app.server);
    wsApp.listen({ hostname: config.host, port: config.wsPort });
    gateway.setListening("dedicated", true, wsApp.server);
  } catch (err) {
    await app.stop(true).catch(() => {});
    await store.close();
    lock.release();
    throw err;
  }
  const apiPort = app.server?.port ?? config.apiPort;
  const wsPort = wsApp.server?.port ?? config.wsPort;
  gateway.start();
  lock.update({ ...lockInfo, api_port: apiPort, ws_port: wsPort });

  await store.nodes.register({
    id: nodeId,
    hostname: hostname(),
    pid: process.pid,
    apiPort,
    wsPort,
    version: VERSION,
    startedAt: new Date(startedAt),
    encryptionKeyIds: keys.current()?.ids ?? [],
  });
  if (store.kind === "sqlite") {
    // One server at a time holds a SQLite data dir (the server lock): a node row still marked live
    // is a server that was killed. Marked stopped now, it no longer holds up a key rotation
    // waiting for every live node (which would otherwise wait out its last heartbeat).
    const now = new Date();
    for (const node of await store.nodes.list({ activeOnly: true })) {
      if (node.id !== nodeId)
        await store.nodes.markStopped(node.id, now, `not running: found by node ${nodeId} at its start`);
    }
  }
  const keyIds = () => keys.current()?.ids ?? [];
  const heartbeat = system.spawn(
    nodeHeartbeat({ nodes: store.nodes, nodeId, intervalMs: NODE_HEARTBEAT_MS, health: storeHealth, keyIds }),
    { name: "node-heartbeat", restart: "permanent" },
  );
  keys.onReload(() => {
    // Right away, not at the next beat: a rotation waits for every node to report the new key.
    heartbeat.tell({ type: "beat" });
    // What the reloaded keys leave unreadable is warned about, as at start.
    checkStoredKeys({ store, keys, dataDir, log, phase: "reload" }).catch((err: unknown) =>
      log.warn({ err }, "could not check the stored secrets against the reloaded keys"),
    );
  });
  const reloadKeys = (trigger: "sighup" | "file_change"): KeyReloadResult => {
    const result = keys.reload(trigger);
    void audit.record({
      action: "keys.reloaded",
      outcome: result.ok ? "success" : "failure",
      actor: SYSTEM,
      orgId: null,
      detail: { trigger, ...reloadAuditDetail(result) },
    });
    return result;
  };

  // Every node sharing a key file (a mounted secret, the file `ops run rotate-keys` rewrites) takes
  // a changed key list within seconds, as if it had been sent SIGHUP.
  const stopKeyWatch = keys.status().reloadable
    ? watchKeyFile(() => keys.status().path, { onChange: () => reloadKeys("file_change") })
    : () => {};

  for (const feature of features) await feature.start?.();
  // Started once the server listens and its features run: a thread's start-up is not on the way to
  // the first request.
  const checkpointer =
    store.sqlitePath === undefined
      ? undefined
      : new WalCheckpointer(store.sqlitePath, {
          busyTimeoutMs: config.sqliteBusyTimeoutMs,
          walLimitBytes: config.sqliteWalLimitBytes,
          log,
        });

  const shown = config.host === "0.0.0.0" ? "localhost" : config.host;
  log.info(
    {
      node_id: nodeId,
      version: VERSION,
      api: `http://${shown}:${apiPort}`,
      ws: `ws://${shown}:${wsPort}/ws`,
      data_dir: dataDir,
      store: store.kind,
      startup_ms: Math.round(performance.now()),
    },
    `aragora listening: API http://${shown}:${apiPort} (Swagger /swagger), WebSocket ws://${shown}:${wsPort}/ws`,
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (reason: string) => {
    stopping ??= (async () => {
      const timeoutMs = config.shutdownTimeoutSeconds * 1000;
      log.info({ reason, inflight: drain.inflightRequests, timeout_s: config.shutdownTimeoutSeconds }, "draining");
      stopKeyWatch();
      const result = await drain.drain(timeoutMs);
      if (!result.completed) log.warn({ pending: result.pending }, "shutdown timeout reached; stopping what is left");
      gateway.closeAll(1001, "server shutting down");
      gateway.setListening("api", false);
      gateway.setListening("dedicated", false);
      // Close frames are queued on the sockets; give them one turn of the loop to flush.
      await Bun.sleep(20);
      await Promise.allSettled([app.stop(true), wsApp.stop(true)]);
      await rateLimits.close().catch((err: unknown) => log.warn({ err }, "closing the rate limits' store failed"));
      await keysStatus.close().catch((err: unknown) => log.warn({ err }, "closing the encrypted stores failed"));
      for (const feature of [...features].reverse()) {
        try {
          await feature.stop?.();
        } catch (err) {
          log.error({ err, feature: feature.name }, "feature stop failed");
        }
      }
      // The tree stops in reverse start order, each actor within its shutdown timeout.
      await system.shutdown();
      // Bounded: a database that stopped answering must not keep the process from exiting.
      try {
        await withDeadline(
          store.nodes.markStopped(nodeId, new Date(), reason),
          1000,
          () => new Error("the store did not answer within 1 s"),
        );
      } catch (err) {
        log.warn({ err }, "could not record node stop");
      }
      storeHealth.stop();
      // A store that cannot write may fail its last checkpoint or close: the process still stops,
      // releases the data dir and says what was not written.
      try {
        await checkpointer?.stop();
        await store.close();
      } catch (err) {
        log.error({ err }, "the store failed to close cleanly");
      }
      lock.release();
      const unwritten: Unwritten = storeHealth.unwritten();
      log.info(
        {
          reason,
          uptime_s: Math.round((Date.now() - startedAt) / 1000),
          unwritten_events: unwritten.events,
          unwritten_debate_ids: unwritten.debateIds,
        },
        "stopped",
      );
    })();
    return stopping;
  };
  shutdownRef = shutdown;

  return { apiPort, wsPort, nodeId, store, system, gateway, drain, storeHealth, keys, reloadKeys, shutdown };
}
