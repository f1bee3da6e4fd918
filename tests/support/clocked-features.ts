/**
 * Features in process on a simulated clock, for delivery tests that assert timing exactly: a real
 * SQLite store in a temporary directory (an encryption key configured, loopback allowed for local
 * receivers), an actor system whose clock moves only when told, the features' routes on the
 * shell's app, and callers that are admins of organisation o-1 (`Bearer o-1`) or o-2.
 *
 * @example
 * const env = await startClockedFeatures(async (ctx, now) => [await webhooksFeature(ctx, { ..., now })]);
 * const res = await env.call<{ id: string }>("POST", "/api/webhooks", { url });
 * await advance(env.system, env.clock, 1000);
 * await env.stop();
 */
import { ActorSystem, SimulatedClock, settle } from "../../runtime/actor/index.ts";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { type Config, loadConfig } from "../../runtime/config.ts";
import { Drain } from "../../runtime/drain.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import { createHttpApp } from "../../runtime/http/app.ts";
import type { Authenticator, Principal } from "../../runtime/http/principal.ts";
import { WsGateway } from "../../runtime/http/ws-gateway.ts";
import { createLogger } from "../../runtime/log.ts";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { fieldSealer } from "../../runtime/security/field-sealer.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { tempDataDir } from "./services.ts";

/** The wall clock's reading when the simulated clock reads 0. */
export const T0 = Date.parse("2030-01-01T00:00:00Z");

/** An admin of organisation o-1 (`Bearer o-1`) or o-2. */
const orgAdmins: Authenticator = {
  authenticate(_request, headers) {
    const org = headers.get("authorization")?.slice("Bearer ".length);
    if (org !== "o-1" && org !== "o-2") return undefined;
    return {
      kind: "user",
      userId: `u-${org}`,
      orgId: org,
      workspaceId: `w-${org}`,
      roles: ["admin"],
      via: "bearer",
    } satisfies Principal;
  },
};

export interface ClockedFeatures {
  readonly clock: SimulatedClock;
  readonly system: ActorSystem;
  readonly config: Config;
  readonly store: Store;
  /** The data directory (its `core.db` is the store). */
  readonly dataDir: string;
  /** Audit actions recorded so far. */
  readonly audited: string[];
  readonly app: ReturnType<typeof createHttpApp>;
  /** A request to the app as an admin of `org`, its status and JSON body. */
  call<T>(method: string, path: string, body?: unknown, org?: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** What a test's features are built from. */
export interface ClockedFeatureDeps {
  ctx: FeatureContext;
  config: Config;
  audit: AuditRecorder;
  /** Wall-clock milliseconds: T0 plus the simulated clock. */
  now: () => number;
}

/**
 * Builds the features `make` returns on a fresh store and simulated clock, mounts their routes and
 * starts them (in order; stopped in reverse).
 *
 * @example const env = await startClockedFeatures(async ({ ctx, audit, now }) => [await webhooksFeature(ctx, { audit, now, ... })]);
 */
export async function startClockedFeatures(
  make: (deps: ClockedFeatureDeps) => Promise<Feature[]>,
): Promise<ClockedFeatures> {
  const dir = tempDataDir();
  const clock = new SimulatedClock(0);
  const system = new ActorSystem({ clock, metricsIntervalMs: 0 });
  const log = createLogger("ERROR");
  const audited: string[] = [];
  const audit: AuditRecorder = {
    record: async (e) => {
      audited.push(e.action);
    },
  };
  const config = loadConfig({
    ARAGORA_DATA_DIR: dir.path,
    ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
    ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
  });
  const store = await openStore(config, log);
  const ctx = {
    config,
    log,
    store,
    system,
    version: "test",
    sealer: fieldSealer(() => config.encryptionKeys),
  } as unknown as FeatureContext;
  const features = await make({ ctx, config, audit, now: () => T0 + clock.now() });
  const app = createHttpApp({
    config,
    log,
    system,
    gateway: new WsGateway({ heartbeatMs: 60_000, log }),
    drain: new Drain(),
    version: "test",
    startedAt: Date.now(),
    authenticator: orgAdmins,
    routes: features.flatMap((f) => (f.routes ? [f.routes] : [])),
  });
  for (const f of features) await f.start?.();
  await settle(system);
  return {
    clock,
    system,
    config,
    store,
    dataDir: dir.path,
    audited,
    app,
    async call<T>(method: string, path: string, body?: unknown, org = "o-1") {
      const res = await app.handle(
        new Request(`http://localhost${path}`, {
          method,
          headers: {
            authorization: `Bearer ${org}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        }),
      );
      return { status: res.status, body: (await res.json()) as T };
    },
    async stop() {
      for (const f of [...features].reverse()) await f.stop?.();
      await system.shutdown();
      await store.close();
      dir.remove();
    },
  };
}
