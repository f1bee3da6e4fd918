/**
 * The runbooks feature: the server's RunbookService (a `runbooks` supervisor with one RunbookActor
 * per run), the /api/ops routes, the WebSocket topic `ops:<run id>`, the local handoff token
 * `<data dir>/ops.token`, and the resumption of runs whose executor crashed.
 *
 * WebSocket: `{"type":"subscribe","topic":"ops:<run id>"}`, on a connection whose principal holds
 * ops.read (the operator), replays the run's journal and then streams its events as
 * `{"type":"ops_event","topic",...event}`.
 *
 * The handoff token is offered to app/, which makes the operator authenticator accept it on /api/ops.
 *
 * @example
 * const { runbooks, handoffToken } = await runbooksFeature(ctx); // the schedulers run maintenance playbooks through it
 */
import { readFileSync } from "node:fs";
import type { CredentialsOpener } from "../../ops/action.ts";
import type { OpsEventOutbox } from "../../ops/event-outbox.ts";
import { removeOpsToken, writeOpsToken } from "../../ops/handoff.ts";
import type { RunEvent } from "../../ops/journal.ts";
import { openOpsJournal } from "../../ops/journal-sql.ts";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { environmentSnapshot } from "../../runtime/config.ts";
import type { Feature, FeatureContext } from "../../runtime/feature.ts";
import type { Connection } from "../../runtime/http/ws-gateway.ts";
import type { EncryptedStoresOpener } from "../../runtime/security/encrypted-store.ts";
import { lockPath } from "../../runtime/server-lock.ts";
import { opsRoutes } from "./routes.ts";
import { RunbookService } from "./service.ts";

/** How long after start the playbook compiler is loaded in the background. */
const COMPILER_WARMUP_MS = 1000;

const TOPIC = /^ops:(r-[0-9]{8}-[0-9a-f]{8})$/;

export interface RunbooksFeatureDeps {
  /** Where runs started, approved, resumed and cancelled over HTTP are recorded. */
  audit: AuditRecorder;
  /** The stores with encrypted fields (the shell's list), for `keys.encrypt_existing` steps. */
  encryptedStores?: EncryptedStoresOpener;
  /** The credentials the emergency key rotation revokes (`auth.revoke_issued` steps). */
  credentials?: CredentialsOpener;
}

export async function runbooksFeature(
  ctx: FeatureContext,
  { audit, encryptedStores, credentials }: RunbooksFeatureDeps,
): Promise<Feature & { runbooks: RunbookService; handoffToken: string; opsOutbox: OpsEventOutbox }> {
  const { config, log, gateway, system, store, dataDir, drain } = ctx;
  const journal = await openOpsJournal(store);
  const opsToken = writeOpsToken(dataDir);
  const env = environmentSnapshot();
  const eventMessage = (e: RunEvent) => JSON.stringify({ type: "ops_event", topic: `ops:${e.runId}`, ...e });
  let apiBaseUrl = `http://127.0.0.1:${config.apiPort}`;
  const service = new RunbookService({
    system,
    journal,
    config,
    dataDir,
    log: log.child({ feature: "runbooks" }),
    nodeId: ctx.nodeId,
    encryptedStores,
    // The server's keys of the moment: backups are sealed with them, restores and migrations read
    // with them, and the key rotation reloads them after it changed the key file.
    keys: ctx.keys,
    credentials,
    get server() {
      return { apiBaseUrl };
    },
    publish: (e) => gateway.publish(`ops:${e.runId}`, eventMessage(e)),
  });

  gateway.onField(
    "subscribe",
    "topic",
    (conn: Connection, msg) => {
      const topic = String(msg.topic);
      const match = TOPIC.exec(topic);
      const send = (body: Record<string, unknown>) => conn.send(JSON.stringify(body));
      if (!match)
        return void send({
          type: "error",
          code: "invalid_message",
          message: `unknown topic "${topic}" (ops:<run id>)`,
        });
      const runId = match[1] as string;
      void (async () => {
        const source = service.journalOf(runId);
        if (!(await source.getRun(runId)))
          return void send({ type: "error", code: "not_found", message: `no run "${runId}"` });
        // Subscribe before the replay; the client de-duplicates by seq.
        gateway.subscribe(conn, topic);
        send({ type: "subscribed", topic });
        for (const e of await source.entries(runId)) conn.send(eventMessage({ ...e, runId }));
      })().catch((err) => log.warn({ err, topic }, "ops subscription failed"));
      // Checked by the gateway first: a connection that may not follow runs learns nothing about them.
    },
    { permission: "ops.read" },
  );
  gateway.onField("unsubscribe", "topic", (conn, msg) => gateway.unsubscribe(conn, String(msg.topic)));

  drain.register({
    name: "runbooks",
    // Running playbooks get the shutdown window to finish; whatever is left resumes at the next start.
    drain: async (signal) => {
      while (service.running > 0 && !signal.aborted) await Bun.sleep(50);
    },
  });

  return {
    name: "runbooks",
    runbooks: service,
    handoffToken: opsToken,
    // The runs' webhook events (ops/event-outbox.ts): app/ hands it to the webhooks feature.
    opsOutbox: journal.outbox,
    routes: opsRoutes({ service, audit }),
    async start() {
      // The real port (maybe picked by the OS) is in server.json once the listeners are up.
      const lock = JSON.parse(readFileSync(lockPath(dataDir), "utf8")) as { api_port: number };
      apiBaseUrl = `http://127.0.0.1:${lock.api_port}`;
      const resumed = await service.resumeOrphans(env);
      if (resumed.length > 0) log.info({ runs: resumed }, "resumed ops runs whose executor had stopped");
      // The playbook compiler (yaml, every action's schema) takes a few hundred ms to load: load it
      // once the server has settled rather than in the first ops request, and not during start-up,
      // which a load balancer's first health check waits on.
      setTimeout(() => {
        import("../../ops/playbook.ts").catch((err: unknown) =>
          log.warn({ err }, "could not preload the playbook compiler"),
        );
      }, COMPILER_WARMUP_MS).unref();
    },
    async stop() {
      await service.stop();
      await journal.close();
      removeOpsToken(dataDir, opsToken);
    },
  };
}
