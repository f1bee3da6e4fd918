/**
 * Where events come from, through a real server process (SQLite, then PostgreSQL), the fake
 * provider server and a real local receiver:
 *
 * - agent_error: a debate whose OpenAI seat's provider refuses the key (and quotes it back, as
 *   OpenAI does) delivers, to the endpoint that takes agent_error, a signed body naming the seat and
 *   the error with the key redacted; the endpoint that takes only debate_end gets debate_end and
 *   never the agent_error;
 * - ops run events: `ops run` handed to the server delivers ops_run_started and ops_run_finished
 *   (succeeded; a failing playbook: ops_step_failed and ops_run_finished failed; a gate:
 *   ops_approval_waiting while the run waits for `ops approve`) to the operator's
 *   endpoint, signed (checked with `standardwebhooks` and the X-Webhook-Signature HMAC), no secret
 *   param in any body; an organisation's owner cannot subscribe to them (403 naming
 *   body.event_types), does not see or change the operator's endpoint (404) although it sits in the
 *   owner's organisation, and an endpoint of theirs that takes "all" events gets none of them;
 * - durable: a run executed by `ops` while no server runs is delivered once the server starts; the
 *   server killed (SIGKILL) while those deliveries are held by the receiver redelivers each after
 *   the restart, under the same delivery id.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHmac } from "node:crypto";
import { rmSync } from "node:fs";
import { Webhook } from "standardwebhooks";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import { type FakeProvider, startFakeProvider, TEST_KEYS } from "../fake-provider/index.ts";
import { events, ops, spawnOps } from "../ops/support.ts";
import { type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { type Received, type Receiver, startReceiver } from "./receiver.ts";

// Each `ops` command is a process of its own (a few seconds on a loaded machine); the margin is wide.
setDefaultTimeout(180_000);

const OPENAI_SEAT = "openai:gpt-4.1-mini";
const OPS_TYPES = ["ops_run_started", "ops_step_failed", "ops_approval_waiting", "ops_run_paused", "ops_run_finished"];
const FAILS = "tests/webhook/fixtures/ops-fails.yml";
const SMOKE = "tests/ops/fixtures/smoke.yml";
const GATE = "tests/ops/fixtures/gate.yml";

interface WebhookView {
  id: string;
  secret: string;
  event_types: string[];
}

interface Body {
  delivery_id: string;
  webhook_id: string;
  event_type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/** Whether both signatures of a received request verify with `secret`: Standard Webhooks and the hex HMAC. */
function signedWith(r: Received, secret: string): boolean {
  const hmac = `sha256=${createHmac("sha256", secret).update(r.body).digest("hex")}`;
  if (r.headers["x-webhook-signature"] !== hmac) return false;
  try {
    new Webhook(secret).verify(r.body, r.headers);
    return true;
  } catch {
    return false;
  }
}

const bodyOf = (r: Received) => JSON.parse(r.body) as Body;

/** Requests to `path` once `done` holds for them (real time, then a clear failure). */
async function receivedAt(
  rx: Receiver,
  path: string,
  done: (got: Received[]) => boolean,
  timeoutMs = 30_000,
): Promise<Received[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = rx.received.filter((r) => r.path === path);
    if (done(got)) return got;
    if (Date.now() > deadline) {
      throw new Error(`${path} got ${got.map((r) => bodyOf(r).event_type).join(", ") || "nothing"}`);
    }
    await Bun.sleep(20);
  }
}

const typesOf = (got: Received[]) => got.map((r) => bodyOf(r).event_type);
const ofRun = (got: Received[], runId: string) => got.filter((r) => bodyOf(r).data.run_id === runId);

const pg = await postgresAvailable();

describe.each([
  ["SQLite", false],
  ["PostgreSQL", true],
])("events reach webhooks on %s", (_name, onPostgres) => {
  const skip = onPostgres && !pg;
  let db: TempDatabase | undefined;
  let fake: FakeProvider;
  let rx: Receiver;
  let server: TestServer;
  let owner: Session;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    if (skip) return;
    fake = await startFakeProvider();
    rx = startReceiver();
    db = onPostgres ? await createTempPostgresDatabase() : undefined;
    Object.assign(env, {
      ...(db ? { DATABASE_URL: db.url } : {}),
      ...fake.env(),
      ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
      ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
      ARAGORA_AGENT_RETRY_BASE_MS: "5",
      // The receiver listens on loopback, which the server refuses unless told (ssrf-e2e.test.ts).
      ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
      ARAGORA_WEBHOOK_BASE_DELAY_SECONDS: "0.2",
      ARAGORA_WEBHOOK_MAX_DELAY_SECONDS: "1",
      // Dead letters come soon: the operator's are left out of the organisation's list.
      ARAGORA_WEBHOOK_MAX_RETRIES: "2",
    });
    server = await startAccessServer({ env, dataDir: tempDir(), keepDataDir: true });
    owner = await claimOwner(server);
  });

  afterAll(async () => {
    if (skip) return;
    await server?.stop();
    if (server) rmSync(server.dataDir, { recursive: true, force: true });
    rx?.stop();
    await fake?.stop();
    await db?.drop();
  });

  const asOwner = () => ({ token: owner.access_token });
  const asOperator = () => ({ token: server.operatorToken as string });

  async function create(who: { token: string }, body: Record<string, unknown>): Promise<WebhookView> {
    const res = await call<WebhookView>(server, "POST", "/api/webhooks", { ...who, body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body;
  }

  test.skipIf(skip)(
    "a failing seat's agent_error reaches the endpoint that takes it, signed, naming the seat, no key in it",
    async () => {
      const errors = await create(asOwner(), { url: `${rx.url}/agent-errors`, event_types: ["agent_error"] });
      const ends = await create(asOwner(), { url: `${rx.url}/ends`, event_types: ["debate_end"] });
      // The provider refuses the server's key and quotes it back in its error, as OpenAI does.
      fake.script(
        { provider: "openai", model: "gpt-4.1-mini" },
        {
          status: 401,
          errorBody: {
            error: { message: `Incorrect API key provided: ${TEST_KEYS.openai}`, type: "invalid_request_error" },
          },
        },
      );
      const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
        ...asOwner(),
        body: {
          question: "Does a failing seat reach the webhook?",
          agents: ["demo:alice", "demo:bob", OPENAI_SEAT],
          rounds: 1,
        },
      });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const debateId = created.body.debate_id;

      const [got] = await receivedAt(rx, "/hook/agent-errors", (g) => g.length >= 1);
      const r = got as Received;
      const body = bodyOf(r);
      expect(body.event_type).toBe("agent_error");
      expect(body.webhook_id).toBe(errors.id);
      expect(body.data).toMatchObject({ debate_id: debateId, agent: OPENAI_SEAT, seat_failed: true });
      expect(String(body.data.message)).toContain("[redacted]");
      expect(r.body).not.toContain(TEST_KEYS.openai);
      expect(r.headers["webhook-id"]).toBe(body.delivery_id);
      expect(signedWith(r, errors.secret)).toBe(true);
      expect(signedWith(r, ends.secret)).toBe(false);

      // debate_end comes after the agent_error in the debate's log, so its fan-out made every
      // delivery of the agent_error before: the debate_end endpoint has exactly that one.
      const endsGot = await receivedAt(rx, "/hook/ends", (g) => g.length >= 1);
      expect(typesOf(endsGot)).toEqual(["debate_end"]);
      expect(bodyOf(endsGot[0] as Received).data.debate_id).toBe(debateId);
      const listed = await call<{ deliveries: { event_type: string }[] }>(
        server,
        "GET",
        `/api/webhooks/${ends.id}/deliveries`,
        asOwner(),
      );
      expect(listed.body.deliveries.map((d) => d.event_type)).toEqual(["debate_end"]);
      expect(typesOf(rx.received.filter((x) => x.path === "/hook/agent-errors"))).toEqual(["agent_error"]);
    },
  );

  test.skipIf(skip)(
    "ops run events: only the operator subscribes; its endpoint is hidden from the organisation",
    async () => {
      // An organisation's owner may not subscribe to the operator's events.
      const refused = await call<{ error: string; details: { field: string; rule: string }[] }>(
        server,
        "POST",
        "/api/webhooks",
        { ...asOwner(), body: { url: `${rx.url}/stolen`, event_types: ["debate_end", "ops_run_finished"] } },
      );
      expect(refused.status).toBe(403);
      expect(refused.body.details[0]).toMatchObject({ field: "body.event_types" });
      expect(refused.body.details[0]?.rule).toContain("ops_run_finished");

      const mine = await create(asOwner(), { url: `${rx.url}/org-all` });
      const patched = await call(server, "PATCH", `/api/webhooks/${mine.id}`, {
        ...asOwner(),
        body: { event_types: ["ops_run_started"] },
      });
      expect(patched.status).toBe(403);

      const opsHook = await create(asOperator(), { url: `${rx.url}/ops`, event_types: OPS_TYPES });
      // The operator's second receiver is down: its deliveries end as dead letters.
      const down = await create(asOperator(), { url: `${rx.url}/ops-down`, event_types: ["ops_run_finished"] });
      rx.script((_n, r) => (r.path === "/hook/ops-down" ? { status: 500 } : { status: 200 }));
      expect(opsHook.event_types).toEqual(OPS_TYPES);
      // It sits in the owner's organisation (the one the operator acts in), but only the operator sees it.
      const ownerList = await call<{ webhooks: { id: string }[] }>(server, "GET", "/api/webhooks", asOwner());
      expect(ownerList.body.webhooks.map((w) => w.id)).toContain(mine.id);
      expect(ownerList.body.webhooks.map((w) => w.id)).not.toContain(opsHook.id);
      const operatorList = await call<{ webhooks: { id: string }[] }>(server, "GET", "/api/webhooks", asOperator());
      expect(operatorList.body.webhooks.map((w) => w.id)).toContain(opsHook.id);
      for (const [method, path, body] of [
        ["GET", `/api/webhooks/${opsHook.id}`, undefined],
        ["PATCH", `/api/webhooks/${opsHook.id}`, { url: `${rx.url}/stolen` }],
        ["POST", `/api/webhooks/${opsHook.id}/rotate-secret`, undefined],
        ["GET", `/api/webhooks/${opsHook.id}/deliveries`, undefined],
        ["DELETE", `/api/webhooks/${opsHook.id}`, undefined],
      ] as const) {
        const res = await call(server, method, path, { ...asOwner(), ...(body ? { body } : {}) });
        expect({ method, path, status: res.status }).toEqual({ method, path, status: 404 });
      }

      // Handed to the server (it holds the data dir): a run that succeeds, one that fails.
      const secretParam = `tok-${crypto.randomUUID()}`;
      const ok = await ops(["run", SMOKE, "--param", `token=${secretParam}`, "--json"], {
        ARAGORA_DATA_DIR: server.dataDir,
      });
      expect(ok.code, ok.stderr).toBe(0);
      const okRun = String(events(ok.stdout).at(-1)?.run_id);
      const failed = await ops(["run", FAILS, "--json"], { ...env, ARAGORA_DATA_DIR: server.dataDir });
      expect(failed.code).not.toBe(0);
      const failedRun = String(events(failed.stdout).at(-1)?.run_id);

      // A run at an approval gate: the operator hears it waits, while it waits.
      const gated = spawnOps(["run", GATE, "--json"], { ...env, ARAGORA_DATA_DIR: server.dataDir });
      const gatedRun = (await gated.waitFor((e) => e.kind === "approval_waiting")).run_id;
      const waiting = await receivedAt(rx, "/hook/ops", (g) =>
        typesOf(ofRun(g, gatedRun)).includes("ops_approval_waiting"),
      );
      const waitingBody = bodyOf(
        ofRun(waiting, gatedRun).find((r) => bodyOf(r).event_type === "ops_approval_waiting") as Received,
      );
      expect(waitingBody.data).toMatchObject({ run_id: gatedRun, playbook: "gate", step: "go" });
      const approved = await ops(["approve", gatedRun, "go", "--as", "alice"], {
        ...env,
        ARAGORA_DATA_DIR: server.dataDir,
      });
      expect(approved.code, approved.stderr).toBe(0);
      expect(await gated.exited).toBe(0);

      const got = await receivedAt(
        rx,
        "/hook/ops",
        (g) => ofRun(g, okRun).length >= 2 && ofRun(g, failedRun).length >= 3 && ofRun(g, gatedRun).length >= 3,
      );
      expect(typesOf(ofRun(got, gatedRun))).toEqual(["ops_run_started", "ops_approval_waiting", "ops_run_finished"]);
      expect(typesOf(ofRun(got, okRun))).toEqual(["ops_run_started", "ops_run_finished"]);
      expect(typesOf(ofRun(got, failedRun))).toEqual(["ops_run_started", "ops_step_failed", "ops_run_finished"]);
      const finished = bodyOf(ofRun(got, okRun)[1] as Received);
      expect(finished).toMatchObject({ webhook_id: opsHook.id, event_type: "ops_run_finished" });
      expect(finished.data).toMatchObject({ run_id: okRun, playbook: "smoke", status: "succeeded", step: null });
      const started = bodyOf(ofRun(got, okRun)[0] as Received);
      expect(started.data).toMatchObject({ run_id: okRun, playbook: "smoke", params: { token: "***" } });
      const stepFailed = bodyOf(ofRun(got, failedRun)[1] as Received);
      expect(stepFailed.data).toMatchObject({
        run_id: failedRun,
        playbook: "ops-fails",
        step: "check",
        status: "failed",
      });
      expect(String(stepFailed.data.error)).toContain("the check failed on purpose");
      expect(bodyOf(ofRun(got, failedRun)[2] as Received).data).toMatchObject({ status: "failed" });
      for (const r of got) {
        expect(signedWith(r, opsHook.secret)).toBe(true);
        expect(signedWith(r, mine.secret)).toBe(false);
        expect(r.body).not.toContain(secretParam);
        expect(r.headers["webhook-id"]).toBe(bodyOf(r).delivery_id);
      }
      // The fan-out that made these made every delivery of the same events: the organisation's
      // "all events" endpoint has none of them.
      const theirs = await call<{ deliveries: { event_type: string }[] }>(
        server,
        "GET",
        `/api/webhooks/${mine.id}/deliveries`,
        asOwner(),
      );
      expect(theirs.body.deliveries.filter((d) => d.event_type.startsWith("ops_"))).toEqual([]);
      expect(rx.received.filter((r) => r.path === "/hook/org-all" && bodyOf(r).event_type.startsWith("ops_"))).toEqual(
        [],
      );
      expect(rx.received.filter((r) => r.path === "/hook/stolen")).toEqual([]);

      // Dead letters of the operator's endpoint: the operator lists them, the organisation does not.
      type DeadLetters = { dead_letters: { delivery_id: string; webhook_id: string; event_type: string }[] };
      let operatorDead: DeadLetters["dead_letters"] = [];
      // The first one: the endpoint's breaker opens after five failed attempts, and the second waits.
      for (let i = 0; i < 300 && operatorDead.length === 0; i++) {
        const res = await call<DeadLetters>(server, "GET", "/api/webhooks/dead-letters", asOperator());
        operatorDead = res.body.dead_letters.filter((d) => d.webhook_id === down.id);
        if (operatorDead.length === 0) await Bun.sleep(50);
      }
      expect(operatorDead.map((d) => d.event_type)).toEqual(["ops_run_finished"]);
      const ownerDead = await call<DeadLetters>(server, "GET", "/api/webhooks/dead-letters", asOwner());
      expect(ownerDead.status).toBe(200);
      expect(ownerDead.body.dead_letters.filter((d) => d.event_type.startsWith("ops_"))).toEqual([]);
      // Nor may the organisation send the operator's dead letter again, even knowing its id.
      const deadId = operatorDead[0]?.delivery_id as string;
      const ownerRetry = await call(server, "POST", `/api/webhooks/dead-letters/${deadId}/retry`, asOwner());
      expect(ownerRetry.status).toBe(404);
      const stillDead = await call<DeadLetters>(server, "GET", "/api/webhooks/dead-letters", asOperator());
      expect(stillDead.body.dead_letters.map((d) => d.delivery_id)).toContain(deadId);
      // Its breaker opens (five failed attempts): the operator counts it, and its deliveries; the
      // organisation does not.
      let open = 0;
      for (let i = 0; i < 300 && open === 0; i++) {
        const res = await call<{ circuits_open: number }>(server, "GET", "/api/webhooks/metrics", asOperator());
        open = res.body.circuits_open;
        if (open === 0) await Bun.sleep(50);
      }
      expect(open).toBe(1);
      type Metrics = { circuits_open: number; dead_lettered: number; total_deliveries: number };
      const ownerMetrics = await call<Metrics>(server, "GET", "/api/webhooks/metrics", asOwner());
      const operatorMetrics = await call<Metrics>(server, "GET", "/api/webhooks/metrics", asOperator());
      expect(ownerMetrics.body).toMatchObject({ circuits_open: 0, dead_lettered: 0 });
      expect(operatorMetrics.body.dead_lettered).toBeGreaterThan(0);
      expect(operatorMetrics.body.total_deliveries).toBeGreaterThan(ownerMetrics.body.total_deliveries);
      rx.script(() => ({ status: 200 }));
    },
  );

  test.skipIf(skip)(
    "a run executed while no server runs is delivered at the next start; kill -9 loses none",
    async () => {
      const hook = await create(asOperator(), {
        url: `${rx.url}/durable`,
        event_types: ["ops_run_started", "ops_run_finished"],
      });
      expect(await server.stop()).toBe(0);

      // No server: `ops` executes the run itself and journals it, events included, in the store.
      const ran = await ops(["run", FAILS, "--json"], { ...env, ARAGORA_DATA_DIR: server.dataDir });
      expect(events(ran.stdout).at(-1)).toMatchObject({ kind: "run_finished", status: "failed" });
      const runId = String(events(ran.stdout).at(-1)?.run_id);

      // The receiver holds every request: the server is killed while it waits for the answers.
      rx.script((_n, r) => (r.path === "/hook/durable" ? { status: 200, delayMs: 60_000 } : { status: 200 }));
      server = await startAccessServer({ env, dataDir: server.dataDir, keepDataDir: true });
      const first = await receivedAt(rx, "/hook/durable", (g) => ofRun(g, runId).length >= 2);
      server.signal("SIGKILL");
      await server.exited;

      rx.script(() => ({ status: 200 }));
      const before = rx.received.filter((r) => r.path === "/hook/durable").length;
      server = await startAccessServer({ env, dataDir: server.dataDir, keepDataDir: true });
      const after = await receivedAt(rx, "/hook/durable", (g) => ofRun(g.slice(before), runId).length >= 2);
      const again = ofRun(after.slice(before), runId);
      const idsOf = (list: Received[]) =>
        Object.fromEntries(list.map((r) => [bodyOf(r).event_type, bodyOf(r).delivery_id]));
      expect(Object.keys(idsOf(first)).sort()).toEqual(["ops_run_finished", "ops_run_started"]);
      // Sent again after the crash, each under the id it had.
      expect(idsOf(again)).toEqual(idsOf(ofRun(first, runId)));
      for (const r of again) expect(signedWith(r, hook.secret)).toBe(true);
      let states: string[] = [];
      for (let i = 0; i < 200; i++) {
        const list = await call<{ deliveries: { state: string }[] }>(
          server,
          "GET",
          `/api/webhooks/${hook.id}/deliveries`,
          asOperator(),
        );
        states = list.body.deliveries.map((d) => d.state);
        if (states.length === 2 && states.every((state) => state === "DELIVERED")) return;
        await Bun.sleep(50);
      }
      throw new Error(`the deliveries are ${states.join(", ")}, not two DELIVERED`);
    },
  );
});
