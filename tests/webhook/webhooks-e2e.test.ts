/**
 * Webhooks through real server processes (SQLite, then PostgreSQL; an encryption key configured)
 * and a real local receiver:
 *
 * - only owners and admins (`webhooks.manage`) manage webhooks (a member gets 403); a bad URL,
 *   event type or key is a 422 naming the field, never echoing the URL; another organisation's
 *   endpoint answers 404;
 * - a debate's events (debate_start, consensus, debate_end, receipt_generated) arrive, each body
 *   carrying its delivery id as its headers do; every body (non-ASCII text, nested objects,
 *   numbers) is verified by the `standardwebhooks` package and by the runbook's Python recipient
 *   code run unchanged with python3;
 * - a rotated secret: during the overlap every delivery carries both signatures (either secret
 *   verifies, with the library and with the Python code); a rotation without overlap drops the old;
 * - the signing secret is sealed at rest (an `_encrypted` envelope, the secret nowhere in the
 *   database), counted by `aragora keys verify`, and never in a log line;
 * - kill -9 during deliveries (slow, failing receiver; debates running): after the restart every
 *   acknowledged test delivery and every committed debate event of the outbox's types reaches the
 *   receiver at least once, each event under one delivery id however often it was sent (SQLite);
 * - the runbook's Prometheus metrics count what happened.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { Webhook } from "standardwebhooks";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  startAccessServer,
  userWithRole,
} from "../access/support.ts";
import { runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { type Received, type Receiver, startReceiver } from "./receiver.ts";

setDefaultTimeout(60_000);

/** The runbook's recipient code, unchanged, applied to each JSON line {body, signature, secret} on stdin. */
const PYTHON_VERIFIER = `
import hmac
import hashlib
import json

def verify_signature(payload: dict, signature: str, secret: str) -> bool:
    expected = "sha256=" + hmac.new(
        secret.encode(),
        json.dumps(payload).encode(),
        hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, signature)

import sys
for line in sys.stdin:
    case = json.loads(line)
    print(json.dumps(verify_signature(json.loads(case["body"]), case["signature"], case["secret"])))
`;

/** For each case, whether the runbook's Python code verifies it. */
async function pythonVerifies(cases: { body: string; signature: string; secret: string }[]): Promise<boolean[]> {
  const proc = Bun.spawn(["python3", "-c", PYTHON_VERIFIER], {
    stdin: new Blob([cases.map((c) => JSON.stringify(c)).join("\n")]),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`python3 failed: ${err}`);
  return out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as boolean);
}

/** Whether `standardwebhooks` verifies a received request with `secret` (it also checks the timestamp). */
function libraryVerifies(r: Received, secret: string): boolean {
  try {
    new Webhook(secret).verify(r.body, r.headers);
    return true;
  } catch {
    return false;
  }
}

interface WebhookView {
  id: string;
  secret: string;
  enabled: boolean;
  previous_secret_expires_at: string | null;
}

const pg = await postgresAvailable();

describe.each([
  ["SQLite", false],
  ["PostgreSQL", true],
])("webhooks end to end on %s", (_name, onPostgres) => {
  let rx: Receiver;
  let server: TestServer;
  let db: TempDatabase | undefined;
  let owner: Session;
  let member: Session;
  let umbrella: Session;
  const secrets: string[] = [];
  const skip = onPostgres && !pg;

  beforeAll(async () => {
    if (skip) return;
    rx = startReceiver();
    db = onPostgres ? await createTempPostgresDatabase() : undefined;
    server = await startAccessServer({
      env: {
        ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
        ARAGORA_SIGNUP: "open",
        ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
        // The receivers listen on loopback, which the server refuses unless told (tests/webhook/ssrf-e2e.test.ts).
        ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
        ...(db ? { DATABASE_URL: db.url } : {}),
      },
    });
    owner = await claimOwner(server);
    member = await userWithRole(server, "member", db ? { DATABASE_URL: db.url } : {});
    const signUp = await call<Session>(server, "POST", "/api/auth/sign-up", {
      body: { email: "owner@umbrella.example", password: PASSWORD, name: "Umbrella" },
    });
    expect(signUp.status).toBe(201);
    umbrella = signUp.body;
  });

  afterAll(async () => {
    if (skip) return;
    await server?.stop();
    rx?.stop();
    await db?.drop();
  });

  /** The endpoints' stored secret columns, read from the database itself. */
  async function storedSecrets(): Promise<{ secret: string; previous_secret: string | null }[]> {
    if (db) {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT secret, previous_secret FROM webhook_endpoints`) as unknown as {
          secret: string;
          previous_secret: string | null;
        }[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    const sqlite = new Database(join(server.dataDir, "core.db"), { readonly: true });
    try {
      return sqlite.query("SELECT secret, previous_secret FROM webhook_endpoints").all() as {
        secret: string;
        previous_secret: string | null;
      }[];
    } finally {
      sqlite.close();
    }
  }

  const as = (who: Session) => ({ token: who.access_token });

  async function create(url: string, extra: Record<string, unknown> = {}): Promise<WebhookView> {
    const res = await call<WebhookView>(server, "POST", "/api/webhooks", { ...as(owner), body: { url, ...extra } });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    secrets.push(res.body.secret);
    return res.body;
  }

  /** Received requests to `path`, once at least `count` arrived. */
  async function receivedAt(path: string, count: number, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = rx.received.filter((r) => r.path === path);
      if (got.length >= count) return got;
      if (Date.now() > deadline) throw new Error(`${path} got ${got.length} requests, not ${count}`);
      await Bun.sleep(20);
    }
  }

  test.skipIf(skip)("who may manage webhooks, and bad input is a 422 naming the field", async () => {
    const byMember = await call<{ error: string }>(server, "POST", "/api/webhooks", {
      ...as(member),
      body: { url: `${rx.url}` },
    });
    expect(byMember.status).toBe(403);
    expect((await call(server, "GET", "/api/webhooks", as(member))).status).toBe(403);
    expect((await fetch(`${server.api}/api/webhooks`)).status).toBe(401);

    const token = "s3cr3t-path-token";
    for (const [body, field, rule] of [
      [{ url: "ftp://example.com/hook" }, "body.url", "http:// or https://"],
      [{ url: `https://user:${token}@example.com/hook` }, "body.url", "without a user name or password"],
      [{ url: "/relative/hook" }, "body.url", "absolute"],
      [{ url: "https://example.com/h", event_types: ["debate_exploded"] }, "body.event_types.0", ""],
      [{ url: "https://example.com/h", colour: "red" }, "body.colour", 'unknown key "colour"'],
      [{}, "body.url", ""],
    ] as const) {
      const res = await call<{ error: string; details: { field: string; rule: string }[] }>(
        server,
        "POST",
        "/api/webhooks",
        { ...as(owner), body },
      );
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      const detail = res.body.details.find((d) => d.field === field);
      expect({ body, field: detail?.field }).toEqual({ body, field });
      expect(detail?.rule).toContain(rule);
      expect(JSON.stringify(res.body)).not.toContain(token);
    }
    const emptyPatch = await call<{ error: string }>(server, "PATCH", `/api/webhooks/wh-${crypto.randomUUID()}`, {
      ...as(owner),
      body: {},
    });
    expect(emptyPatch.status).toBe(422);
  });

  test.skipIf(skip)(
    "a debate's events arrive signed; standardwebhooks and the runbook's Python code verify every body",
    async () => {
      const hook = await create(`${rx.url}/debates`, { description: "all events" });
      // Another organisation's endpoint is not found, and it receives none of this organisation's events.
      const theirs = await call<WebhookView>(server, "POST", "/api/webhooks", {
        ...as(umbrella),
        body: { url: `${rx.url}/umbrella` },
      });
      expect(theirs.status).toBe(201);
      secrets.push(theirs.body.secret);
      expect((await call(server, "GET", `/api/webhooks/${hook.id}`, as(umbrella))).status).toBe(404);
      expect((await call(server, "GET", `/api/webhooks/${theirs.body.id}/deliveries`, as(owner))).status).toBe(404);

      const question = 'Café ☕ or 日本茶? «Guillemets», "quotes", a \\ backslash, a tab\tand an emoji 🎉';
      const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
        ...as(owner),
        body: { question, agents: ["demo:alice", "demo:bob"], rounds: 1 },
      });
      expect(created.status).toBe(201);
      const got = await receivedAt("/hook/debates", 4);
      const byType = new Map(got.map((r) => [JSON.parse(r.body).event_type as string, r]));
      expect([...byType.keys()].sort()).toEqual(["consensus", "debate_end", "debate_start", "receipt_generated"]);
      const start = byType.get("debate_start") as Received;
      // Non-ASCII leaves as \\uXXXX escapes (Python's json.dumps), and reads back as the question.
      expect(start.body).toContain("Caf\\u00e9 \\u2615");
      expect(start.body).toContain("\\ud83c\\udf89");
      expect(JSON.parse(start.body).data).toMatchObject({ debate_id: created.body.debate_id, question, rounds: 1 });
      expect(start.body).toStartWith('{"delivery_id": "dlv-');

      for (const r of got) {
        const body = JSON.parse(r.body);
        expect(r.headers["webhook-id"]).toBe(body.delivery_id);
        expect(r.headers["x-webhook-delivery-id"]).toBe(body.delivery_id);
        expect(body.webhook_id).toBe(hook.id);
        expect(libraryVerifies(r, hook.secret)).toBe(true);
        expect(libraryVerifies(r, theirs.body.secret)).toBe(false);
      }
      const cases = got.map((r) => ({
        body: r.body,
        signature: r.headers["x-webhook-signature"] as string,
        secret: hook.secret,
      }));
      expect(await pythonVerifies(cases)).toEqual(cases.map(() => true));
      // A body whose content changed, or checked with another secret, does not verify.
      const altered = cases.map((c) => ({ ...c, body: c.body.replace("dlv-", "dlv-x") }));
      expect(await pythonVerifies(altered)).toEqual(cases.map(() => false));
      expect(await pythonVerifies([{ ...(cases[0] as (typeof cases)[0]), secret: theirs.body.secret }])).toEqual([
        false,
      ]);
      expect(rx.received.filter((r) => r.path === "/hook/umbrella")).toEqual([]);

      const deliveries = await call<{ deliveries: { state: string; history: unknown[] }[] }>(
        server,
        "GET",
        `/api/webhooks/${hook.id}/deliveries`,
        as(owner),
      );
      expect(deliveries.body.deliveries.map((d) => d.state)).toEqual([
        "DELIVERED",
        "DELIVERED",
        "DELIVERED",
        "DELIVERED",
      ]);
      const metrics = await call<Record<string, unknown>>(server, "GET", "/api/webhooks/metrics", as(owner));
      expect(metrics.body).toMatchObject({ total_deliveries: 4, delivered: 4, success_rate: 100, dead_lettered: 0 });
      expect(typeof metrics.body.avg_latency_ms).toBe("number");
      const theirMetrics = await call<Record<string, unknown>>(server, "GET", "/api/webhooks/metrics", as(umbrella));
      expect(theirMetrics.body).toMatchObject({ total_deliveries: 0, success_rate: null });
      const prometheus = await (await server.fetch("/api/metrics")).text();
      expect(prometheus).toMatch(
        /aragora_webhook_deliveries_total\{status="delivered",event_type="debate_end"\} [1-9]/,
      );
      expect(prometheus).toMatch(/aragora_webhook_delivery_latency_seconds_count\{event_type="consensus"\} [1-9]/);
      expect(prometheus).toContain(`aragora_webhook_circuit_breaker_state{endpoint="${hook.id}"} 0`);
    },
  );

  test.skipIf(skip)(
    "rotation: both signatures during the overlap, either secret verifies; without overlap only the new",
    async () => {
      const hook = await create(`${rx.url}/rotated`, { event_types: ["debate_end"] });
      const rotated = await call<WebhookView>(server, "POST", `/api/webhooks/${hook.id}/rotate-secret`, {
        ...as(owner),
        body: { overlap_seconds: 3600 },
      });
      expect(rotated.status).toBe(200);
      secrets.push(rotated.body.secret);
      expect(rotated.body.secret).not.toBe(hook.secret);
      expect(Date.parse(rotated.body.previous_secret_expires_at as string) - Date.now()).toBeGreaterThan(3500_000);
      expect((await call(server, "POST", `/api/webhooks/${hook.id}/test`, as(owner))).status).toBe(202);
      const [during] = await receivedAt("/hook/rotated", 1);
      const r = during as Received;
      expect((r.headers["webhook-signature"] as string).split(" ")).toHaveLength(2);
      expect(libraryVerifies(r, rotated.body.secret)).toBe(true);
      expect(libraryVerifies(r, hook.secret)).toBe(true);
      expect(
        await pythonVerifies([
          { body: r.body, signature: r.headers["x-webhook-signature"] as string, secret: rotated.body.secret },
          { body: r.body, signature: r.headers["x-webhook-signature-previous"] as string, secret: hook.secret },
          { body: r.body, signature: r.headers["x-webhook-signature"] as string, secret: hook.secret },
        ]),
      ).toEqual([true, true, false]);

      const again = await call<WebhookView>(server, "POST", `/api/webhooks/${hook.id}/rotate-secret`, {
        ...as(owner),
        body: { overlap_seconds: 0 },
      });
      secrets.push(again.body.secret);
      expect(again.body.previous_secret_expires_at).toBeNull();
      expect((await call(server, "POST", `/api/webhooks/${hook.id}/test`, as(owner))).status).toBe(202);
      const after = (await receivedAt("/hook/rotated", 2))[1] as Received;
      expect((after.headers["webhook-signature"] as string).split(" ")).toHaveLength(1);
      expect(after.headers["x-webhook-signature-previous"]).toBeUndefined();
      expect(libraryVerifies(after, again.body.secret)).toBe(true);
      expect(libraryVerifies(after, rotated.body.secret)).toBe(false);
      // Rotating without a body takes the configured overlap (a day by default).
      const byDefault = await call<WebhookView>(server, "POST", `/api/webhooks/${hook.id}/rotate-secret`, as(owner));
      expect(byDefault.status).toBe(200);
      secrets.push(byDefault.body.secret);
      expect(Date.parse(byDefault.body.previous_secret_expires_at as string) - Date.now()).toBeGreaterThan(86_000_000);
    },
  );

  test.skipIf(skip)("secrets are sealed at rest, never listed again and never logged", async () => {
    const rows = await storedSecrets();
    expect(rows.length).toBeGreaterThanOrEqual(3);
    for (const r of rows) {
      expect(JSON.parse(r.secret)._encrypted).toBe(true);
      if (r.previous_secret !== null) expect(JSON.parse(r.previous_secret)._encrypted).toBe(true);
    }
    const dump = JSON.stringify(rows);
    for (const s of secrets) expect(dump).not.toContain(s.slice(6));
    const list = await call<{ webhooks: Record<string, unknown>[] }>(server, "GET", "/api/webhooks", as(owner));
    for (const w of list.body.webhooks) expect(w.secret).toBeUndefined();
    expect(noSecretsLogged(server, secrets)).toEqual([]);
  });
});

describe("kill -9 during deliveries", () => {
  const dataDir = tempDir();
  const env = {
    ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true",
    ARAGORA_DEMO_TOKEN_DELAY_MS: "3",
    ARAGORA_WEBHOOK_BASE_DELAY_SECONDS: "0.05",
    ARAGORA_WEBHOOK_MAX_DELAY_SECONDS: "0.2",
    ARAGORA_WEBHOOK_MAX_RETRIES: "50",
    ARAGORA_WEBHOOK_CIRCUIT_BREAKER_COOLDOWN_SECONDS: "0.2",
    ARAGORA_SHUTDOWN_TIMEOUT_S: "2",
  };
  let rx: Receiver;
  let server: TestServer | undefined;

  afterAll(async () => {
    await server?.stop();
    rx?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("every acknowledged delivery and every committed event arrives at least once, each under one delivery id", async () => {
    rx = startReceiver();
    // Slow, and every third request fails: retries are pending when the server dies.
    rx.script((n) => (n % 3 === 0 ? { status: 503, delayMs: 20 } : { status: 200, delayMs: 40 }));
    server = await startTestServer({ dataDir, env });
    const first = server;
    const hook = (await (
      await first.fetch("/api/webhooks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ url: `${rx.url}/durable` }),
      })
    ).json()) as WebhookView;
    const debates: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await first.fetch("/api/debates", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ question: `Crash question ${i}?`, agents: ["demo:alice", "demo:bob"], rounds: 2 }),
      });
      expect(res.status).toBe(201);
      debates.push(((await res.json()) as { debate_id: string }).debate_id);
    }
    const acknowledged: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await first.fetch(`/api/webhooks/${hook.id}/test`, { method: "POST" });
      expect(res.status).toBe(202);
      acknowledged.push(((await res.json()) as { delivery_id: string }).delivery_id);
    }
    // Some deliveries are through, many are not.
    await rx.waitFor(5);
    first.signal("SIGKILL");
    expect(await first.exited).not.toBe(0);
    const beforeRestart = rx.received.length;

    server = await startTestServer({ dataDir, env });
    const second = server;
    // Every debate finishes (resumed from its log), and every delivery of the endpoint reaches a final state.
    const deadline = Date.now() + 45_000;
    for (;;) {
      const states = await Promise.all(
        debates.map(
          async (id) => ((await (await second.fetch(`/api/debates/${id}`)).json()) as { status: string }).status,
        ),
      );
      const list = (await (await second.fetch(`/api/webhooks/${hook.id}/deliveries?limit=500`)).json()) as {
        deliveries: { state: string }[];
      };
      const open = list.deliveries.filter((d) => d.state !== "DELIVERED");
      if (states.every((s) => s !== "running") && open.length === 0 && list.deliveries.length >= 30 + 4 * 4) break;
      if (Date.now() > deadline) {
        throw new Error(`not settled: debates ${states.join(",")}, ${open.length} open deliveries`);
      }
      await Bun.sleep(100);
    }
    expect(rx.received.length).toBeGreaterThan(beforeRestart);

    const delivered = rx.received
      .filter((r) => r.path === "/hook/durable")
      .map((r) => ({
        r,
        body: JSON.parse(r.body) as { delivery_id: string; event_type: string; data: Record<string, unknown> },
      }));
    // Each request's delivery id is its header's, and its signature verifies.
    for (const { r, body } of delivered) {
      expect(r.headers["webhook-id"]).toBe(body.delivery_id);
      expect(libraryVerifies(r, hook.secret)).toBe(true);
    }
    const receivedIds = new Set(delivered.map((d) => d.body.delivery_id));
    for (const id of acknowledged) expect({ id, received: receivedIds.has(id) }).toEqual({ id, received: true });

    // Every committed event of the outbox's types, by (debate, seq): received, under one delivery id.
    const idsOfEvent = new Map<string, Set<string>>();
    for (const { body } of delivered) {
      if (body.event_type === "test") continue;
      const key = `${body.data.debate_id}:${body.data.seq}`;
      const ids = idsOfEvent.get(key) ?? new Set();
      ids.add(body.delivery_id);
      idsOfEvent.set(key, ids);
    }
    const kinds = new Set(["debate_start", "consensus", "agent_error", "debate_end", "receipt_generated"]);
    let expected = 0;
    for (const id of debates) {
      const { events } = (await (await second.fetch(`/api/debates/${id}/events?since_seq=0`)).json()) as {
        events: { type: string; seq: number }[];
      };
      for (const e of events.filter((x) => kinds.has(x.type))) {
        expected++;
        const key = `${id}:${e.seq}`;
        expect({ key, ids: idsOfEvent.get(key)?.size }).toEqual({ key, ids: 1 });
      }
    }
    expect(expected).toBeGreaterThanOrEqual(4 * 3);
    expect(idsOfEvent.size).toBe(expected);
  });
});

/** The keys command on the server's data dir counts the webhook secrets. */
test("aragora keys verify counts the webhook secrets store", async () => {
  const key = generateKeyHex();
  const server = await startTestServer({
    env: { ARAGORA_ENCRYPTION_KEY: key, ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true" },
    keepDataDir: true,
  });
  try {
    const res = await server.fetch("/api/webhooks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ url: "https://hooks.example.com/a" }),
    });
    expect(res.status).toBe(201);
  } finally {
    await server.stop();
  }
  const out = await runCli(["keys", "verify"], { ARAGORA_DATA_DIR: server.dataDir, ARAGORA_ENCRYPTION_KEY: key });
  rmSync(server.dataDir, { recursive: true, force: true });
  expect(out.code).toBe(0);
  expect(out.stdout).toContain("webhook_secrets (webhook endpoints' signing secrets): 1 record");
});
