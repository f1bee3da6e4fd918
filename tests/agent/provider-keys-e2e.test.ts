/**
 * Organisations' own provider keys through real server processes (SQLite, then PostgreSQL), with
 * the fake provider speaking the real wire protocols and an encryption key configured:
 *
 * - only owners and admins (`keys.manage`) list, set and remove keys; members and viewers get 403;
 *   bad input is a 422 naming the field and the rule, never echoing the key;
 * - a key is answered once as its last four characters, never returned, and the list shows last
 *   fours only; another organisation neither sees nor removes it;
 * - an organisation's debates call the provider with its own key (the fake sees it in the auth
 *   header), another organisation's with the server's; a seat whose provider has neither key is
 *   refused with 422 naming both ways, and runs once the organisation sets its own; a removed key
 *   makes the server's apply again;
 * - a wrong key fails that organisation's seat and opens its own breaker only: another
 *   organisation's debate on the server's key runs, and the shared breaker stays closed;
 * - the stored column is an `_encrypted` envelope and the plaintext is nowhere in the database;
 * - every change is in the audit log without the key, and no key reaches a log line or stderr.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { auditTrail } from "../access/mfa-support.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  type Session,
  startAccessServer,
  userWithRole,
} from "../access/support.ts";
import { type FakeProvider, startFakeProvider, TEST_KEYS } from "../fake-provider/index.ts";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";

interface KeyView {
  provider: string;
  last_four: string;
  created_at: string;
  created_by: string;
  updated_at: string;
  updated_by: string;
  replaced?: boolean;
}
interface ErrorView {
  error: string;
  message: string;
  details?: { field: string; rule: string }[];
}
interface EventView {
  type: string;
  agent: string | null;
  data: Record<string, unknown>;
}

const KEYS = {
  acmeOpenai: "sk-acme-own-openai-key-A1B2",
  acmeOpenaiSecond: "sk-acme-own-openai-key-C3D4",
  acmeAnthropic: "sk-ant-acme-own-key-E5F6",
  acmeMistral: "acme-own-mistral-key-G7H8",
  umbrellaWrong: "sk-umbrella-wrong-openai-key-J9K0",
};
const OPENAI_SEAT = "openai:gpt-4.1-mini";

const pg = await postgresAvailable();
// Each test runs whole debates through a server process.
setDefaultTimeout(60_000);

describe.each([
  ["SQLite", false],
  ["PostgreSQL", true],
])("organisations' own provider keys on %s", (_name, onPostgres) => {
  let fake: FakeProvider;
  let server: TestServer;
  let db: TempDatabase | undefined;
  let acme: Session; // owner of the first organisation
  let umbrella: Session; // owner of a second one (a sign-up)
  let initech: Session; // owner of a third, which never sets a key

  const skip = onPostgres && !pg;

  beforeAll(async () => {
    if (skip) return;
    fake = await startFakeProvider();
    db = onPostgres ? await createTempPostgresDatabase() : undefined;
    server = await startAccessServer({
      env: {
        // The server's own keys: OpenAI and Anthropic, not Mistral (pointed at the fake all the same).
        ...fake.env({ providers: ["openai", "anthropic"] }),
        MISTRAL_BASE_URL: fake.baseUrl("mistral"),
        ARAGORA_ENCRYPTION_KEY: generateKeyHex(),
        ARAGORA_SIGNUP: "open",
        ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
        ARAGORA_BREAKER_FAILURES: "1",
        ARAGORA_AGENT_MAX_ATTEMPTS: "1",
        ...(db ? { DATABASE_URL: db.url } : {}),
      },
    });
    acme = await claimOwner(server);
    umbrella = await signUp("owner@umbrella.example");
    initech = await signUp("owner@initech.example");
  }, 60_000);

  afterAll(async () => {
    if (skip) return;
    await server?.stop();
    await fake?.stop();
    await db?.drop();
  });

  /** What `aragora users` needs to reach the server's store (its data dir is found by itself). */
  const cliEnv = (): Record<string, string> => (db ? { DATABASE_URL: db.url } : {});

  async function signUp(email: string): Promise<Session> {
    const res = await call<Session>(server, "POST", "/api/auth/sign-up", {
      body: { email, password: PASSWORD, name: email.split("@")[0] },
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  const keysOf = (who: Session) =>
    call<{ provider_keys: KeyView[]; providers: string[] }>(server, "GET", "/api/org/provider-keys", {
      token: who.access_token,
    });
  const setKey = (who: Session, provider: string, body: unknown) =>
    call<KeyView & ErrorView>(server, "PUT", `/api/org/provider-keys/${provider}`, { token: who.access_token, body });
  const removeKey = (who: Session, provider: string) =>
    call<{ provider: string; removed: boolean } & ErrorView>(server, "DELETE", `/api/org/provider-keys/${provider}`, {
      token: who.access_token,
    });

  /** Runs a debate of `who`'s organisation to its end: its events and the fake's requests meanwhile. */
  async function debate(who: Session, agents: string[]) {
    const before = fake.requests.length;
    const created = await call<{ debate_id: string } & ErrorView>(server, "POST", "/api/debates", {
      token: who.access_token,
      body: { question: "Whose key pays for this?", agents, rounds: 1 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.debate_id;
    for (let i = 0; ; i++) {
      const record = await call<{ status: string }>(server, "GET", `/api/debates/${id}`, { token: who.access_token });
      if (record.body.status !== "running") break;
      if (i > 600) throw new Error(`debate ${id} did not finish`);
      await Bun.sleep(50);
    }
    const events = await call<{ events: EventView[] }>(server, "GET", `/api/debates/${id}/events?since_seq=0`, {
      token: who.access_token,
    });
    return { events: events.body.events, requests: fake.requests.slice(before) };
  }

  const openaiAuth = (requests: typeof fake.requests) =>
    requests.filter((r) => r.provider === "openai").map((r) => r.headers.authorization);

  test.skipIf(skip)("members and viewers are refused (403), and a caller with no credentials (401)", async () => {
    for (const role of ["viewer", "member"] as const) {
      const who = await userWithRole(server, role, cliEnv());
      expect((await keysOf(who)).status).toBe(403);
      const set = await setKey(who, "openai", { key: "sk-member-tries-this-key" });
      expect(set.status).toBe(403);
      expect(set.body.details?.[0]?.rule).toBe("requires keys.manage");
      expect((await removeKey(who, "openai")).status).toBe(403);
    }
    expect((await call(server, "GET", "/api/org/provider-keys")).status).toBe(401);
    expect((await keysOf(acme)).body.provider_keys).toEqual([]);
  });

  test.skipIf(skip)("bad input is a 422 naming the field and the rule, and never shows the key", async () => {
    const cases: [string, unknown, string, string][] = [
      ["nosuch", { key: "sk-fine-key-123456" }, "params.provider", "one of anthropic, openai"],
      ["demo", { key: "sk-fine-key-123456" }, "params.provider", "one of anthropic, openai"],
      ["openai", { key: "sk with a space 1234" }, "body.key", "must be without whitespace (it has some)"],
      ["openai", { key: "sk-12345678\n" }, "body.key", "must be without whitespace (it has some)"],
      ["openai", { key: "short" }, "body.key", "must be 8 to 512 characters (it has 5)"],
      ["openai", { key: "k".repeat(513) }, "body.key", "must be 8 to 512 characters (it has 513)"],
      ["openai", { key: "sk-ünïcödé-key-1234" }, "body.key", "printable ASCII"],
      // Stored unencrypted when no key is configured, it would pass for encrypted data.
      ["openai", { key: '{"_encrypted":true,"kid":"kx"}' }, "body.key", "must be a key, not JSON"],
      ["openai", { key: 42 }, "body.key", "must be a provider API key"],
      ["openai", { key: "sk-fine-key-123456", role: "x" }, "body.role", "unknown key"],
    ];
    for (const [provider, body, field, rule] of cases) {
      const res = await setKey(acme, provider, body);
      expect(res.status, `${provider} ${JSON.stringify(body)}`).toBe(422);
      expect(res.body.details?.find((d) => d.field === field)?.rule).toContain(rule);
      const key = (body as { key?: unknown }).key;
      if (typeof key === "string" && key.trim().length >= 5) expect(JSON.stringify(res.body)).not.toContain(key.trim());
    }
    expect((await keysOf(acme)).body.provider_keys).toEqual([]);
  });

  test.skipIf(skip)(
    "an owner sets a key (201), sees its last four only, and replaces it (200); an admin may too",
    async () => {
      const set = await setKey(acme, "openai", { key: KEYS.acmeOpenai });
      expect(set.status).toBe(201);
      expect(set.headers.get("cache-control")).toBe("no-store");
      expect(set.body).toMatchObject({
        provider: "openai",
        last_four: "A1B2",
        replaced: false,
        created_by: acme.user.id,
      });
      expect(JSON.stringify(set.body)).not.toContain(KEYS.acmeOpenai);

      const admin = await userWithRole(server, "admin", cliEnv());
      const again = await setKey(admin, "openai", { key: KEYS.acmeOpenaiSecond });
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({
        last_four: "C3D4",
        replaced: true,
        created_by: acme.user.id,
        updated_by: admin.user.id,
      });
      expect((await setKey(acme, "anthropic", { key: KEYS.acmeAnthropic })).status).toBe(201);

      const list = await keysOf(acme);
      expect(list.status).toBe(200);
      expect(list.body.provider_keys.map((k) => [k.provider, k.last_four])).toEqual([
        ["anthropic", "E5F6"],
        ["openai", "C3D4"],
      ]);
      expect(list.body.providers).toEqual(["anthropic", "openai", "gemini", "mistral", "xai", "openrouter"]);
      const text = JSON.stringify(list.body);
      for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
      expect(text).not.toContain("_encrypted");
    },
  );

  test.skipIf(skip)(
    "another organisation neither sees nor removes them; the operator sees the one it names",
    async () => {
      expect((await keysOf(umbrella)).body.provider_keys).toEqual([]);
      const removed = await removeKey(umbrella, "openai");
      expect(removed.status).toBe(404);
      expect((await keysOf(acme)).body.provider_keys).toHaveLength(2);
      const asOperator = await server.fetch("/api/org/provider-keys", {
        headers: { "x-org-id": acme.organisation.id },
      });
      expect(((await asOperator.json()) as { provider_keys: KeyView[] }).provider_keys).toHaveLength(2);
      const other = await server.fetch("/api/org/provider-keys", { headers: { "x-org-id": umbrella.organisation.id } });
      expect(((await other.json()) as { provider_keys: KeyView[] }).provider_keys).toEqual([]);
    },
  );

  test.skipIf(skip)(
    "an organisation's debate calls the provider with its key; another's with the server's",
    async () => {
      const mine = await debate(acme, ["demo:alice", "demo:bob", OPENAI_SEAT, "anthropic:claude-sonnet-4-5"]);
      expect(mine.events.filter((e) => e.type === "agent_error")).toEqual([]);
      const auth = openaiAuth(mine.requests);
      expect(auth.length).toBeGreaterThan(0);
      expect(new Set(auth)).toEqual(new Set([`Bearer ${KEYS.acmeOpenaiSecond}`]));
      const anthropic = mine.requests.filter((r) => r.provider === "anthropic").map((r) => r.headers["x-api-key"]);
      expect(new Set(anthropic)).toEqual(new Set([KEYS.acmeAnthropic]));

      const theirs = await debate(umbrella, ["demo:alice", "demo:bob", OPENAI_SEAT]);
      expect(theirs.events.filter((e) => e.type === "agent_error")).toEqual([]);
      expect(new Set(openaiAuth(theirs.requests))).toEqual(new Set([`Bearer ${TEST_KEYS.openai}`]));
    },
  );

  test.skipIf(skip)(
    "a seat whose provider has neither key is refused naming both ways; with the organisation's own it runs",
    async () => {
      const refused = await call<ErrorView>(server, "POST", "/api/debates", {
        token: umbrella.access_token,
        body: { question: "Q?", agents: ["demo:alice", "demo:bob", "mistral:mistral-large-latest"] },
      });
      expect(refused.status).toBe(422);
      expect(refused.body.details?.[0]?.field).toBe("body.agents.2");
      expect(refused.body.details?.[0]?.rule).toContain("set MISTRAL_API_KEY on the server");
      expect(refused.body.details?.[0]?.rule).toContain("PUT /api/org/provider-keys/mistral");

      expect((await setKey(acme, "mistral", { key: KEYS.acmeMistral })).status).toBe(201);
      const ran = await debate(acme, ["demo:alice", "demo:bob", "mistral:mistral-large-latest"]);
      expect(ran.events.filter((e) => e.type === "agent_error")).toEqual([]);
      const mistral = ran.requests.filter((r) => r.provider === "mistral").map((r) => r.headers.authorization);
      expect(mistral.length).toBeGreaterThan(0);
      expect(new Set(mistral)).toEqual(new Set([`Bearer ${KEYS.acmeMistral}`]));
    },
  );

  test.skipIf(skip)("the stored key is an _encrypted envelope; the plaintext is nowhere in the database", async () => {
    const rows = await storedKeys();
    expect(rows.map((r) => r.id).sort()).toEqual(
      ["anthropic", "mistral", "openai"].map((p) => `${acme.organisation.id}/${p}`),
    );
    for (const row of rows) {
      expect(row.secret.startsWith('{"_encrypted":true')).toBe(true);
      for (const key of Object.values(KEYS)) expect(row.secret).not.toContain(key);
    }
    if (!onPostgres) {
      // Every byte SQLite holds (the file and its WAL), through a copy SQLite made itself too.
      const copy = join(server.dataDir, "copy-for-test.db");
      const sqlite = new Database(join(server.dataDir, "core.db"), { readonly: true });
      try {
        sqlite.run(`VACUUM INTO '${copy}'`);
      } finally {
        sqlite.close();
      }
      for (const file of ["core.db", "core.db-wal", "copy-for-test.db"]) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(join(server.dataDir, file));
        } catch {
          continue;
        }
        for (const key of Object.values(KEYS)) expect(bytes.includes(key), `${key} in ${file}`).toBe(false);
      }
    }
  });

  async function storedKeys(): Promise<{ id: string; secret: string }[]> {
    if (db) {
      const sql = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT id, secret FROM provider_keys`) as unknown as { id: string; secret: string }[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    const sqlite = new Database(join(server.dataDir, "core.db"), { readonly: true });
    try {
      return sqlite.query("SELECT id, secret FROM provider_keys").all() as { id: string; secret: string }[];
    } finally {
      sqlite.close();
    }
  }

  test.skipIf(skip)(
    "a wrong key fails that organisation's seat and opens its own breaker, not the shared one",
    async () => {
      expect((await setKey(umbrella, "openai", { key: KEYS.umbrellaWrong })).status).toBe(201);
      // The provider refuses it and, as OpenAI does, quotes it back.
      fake.script(
        { provider: "openai", model: "gpt-4.1-mini" },
        {
          status: 401,
          errorBody: {
            error: { message: `Incorrect API key provided: ${KEYS.umbrellaWrong}`, type: "invalid_request_error" },
          },
        },
      );
      const failed = await debate(umbrella, ["demo:alice", "demo:bob", OPENAI_SEAT]);
      const errors = failed.events.filter((e) => e.type === "agent_error" && e.agent === OPENAI_SEAT);
      expect(errors).toHaveLength(1);
      expect(errors[0]?.data.message).toContain("[redacted]");
      expect(JSON.stringify(failed.events)).not.toContain(KEYS.umbrellaWrong);
      expect(new Set(openaiAuth(failed.requests))).toEqual(new Set([`Bearer ${KEYS.umbrellaWrong}`]));

      // The breaker the other organisations share (the server's key) is closed...
      const health = await call<{ agents: { name: string; state: string; failures: number }[] }>(
        server,
        "GET",
        "/api/agents/health",
        { token: initech.access_token },
      );
      expect(health.body.agents.find((a) => a.name === OPENAI_SEAT)).toMatchObject({ state: "closed", failures: 0 });
      // ...and their debates run on it.
      const others = await debate(initech, ["demo:alice", "demo:bob", OPENAI_SEAT]);
      expect(others.events.filter((e) => e.type === "agent_error")).toEqual([]);
      expect(new Set(openaiAuth(others.requests))).toEqual(new Set([`Bearer ${TEST_KEYS.openai}`]));

      // The wrong key's own breaker is open: the organisation's next debate does not even call.
      const refused = await debate(umbrella, ["demo:alice", "demo:bob", OPENAI_SEAT]);
      const open = refused.events.filter((e) => e.type === "agent_error" && e.agent === OPENAI_SEAT);
      expect(open[0]?.data.message).toContain("the organisation's own key's circuit breaker open");
      expect(openaiAuth(refused.requests)).toEqual([]);
    },
  );

  test.skipIf(skip)("a removed key makes the server's key apply again", async () => {
    const removed = await removeKey(acme, "openai");
    expect(removed.status).toBe(200);
    expect(removed.body).toMatchObject({ provider: "openai", removed: true });
    expect((await removeKey(acme, "openai")).status).toBe(404);
    const after = await debate(acme, ["demo:alice", "demo:bob", OPENAI_SEAT]);
    expect(after.events.filter((e) => e.type === "agent_error")).toEqual([]);
    expect(new Set(openaiAuth(after.requests))).toEqual(new Set([`Bearer ${TEST_KEYS.openai}`]));
  });

  test.skipIf(skip)("every change is in the audit log, without the key", async () => {
    const trail = (await auditTrail(server)).filter((e) => e.action.startsWith("provider_key."));
    const acmes = trail.filter((e) => e.orgId === acme.organisation.id);
    expect(acmes.map((e) => [e.action, e.detail?.provider, e.detail?.last_four])).toEqual([
      ["provider_key.set", "openai", "A1B2"],
      ["provider_key.replaced", "openai", "C3D4"],
      ["provider_key.set", "anthropic", "E5F6"],
      ["provider_key.set", "mistral", "G7H8"],
      ["provider_key.removed", "openai", "C3D4"],
    ]);
    expect(acmes[0]).toMatchObject({ outcome: "success", actor: { kind: "user", userId: acme.user.id } });
    expect(acmes[0]?.target).toEqual({ type: "provider_key", id: "openai" });
    expect(trail.filter((e) => e.orgId === umbrella.organisation.id).map((e) => e.action)).toEqual([
      "provider_key.set",
    ]);
    const text = JSON.stringify(trail);
    for (const key of Object.values(KEYS)) expect(text).not.toContain(key);
  });

  test.skipIf(skip)("no key reaches a log line or stderr", async () => {
    expect(noSecretsLogged(server, Object.values(KEYS))).toEqual([]);
    for (const key of Object.values(KEYS)) expect(server.stderr()).not.toContain(key);
  });

  test.skipIf(skip)("the routes are in the OpenAPI document with their permission and responses", async () => {
    const doc = (await (await server.fetch("/swagger/json")).json()) as {
      paths: Record<string, Record<string, { responses?: Record<string, unknown>; "x-aragora-permission"?: string }>>;
    };
    const list = doc.paths["/api/org/provider-keys"]?.get;
    const one = doc.paths["/api/org/provider-keys/{provider}"];
    expect(list?.["x-aragora-permission"]).toBe("keys.manage");
    expect(Object.keys(list?.responses ?? {})).toContain("200");
    expect(Object.keys(one?.put?.responses ?? {})).toEqual(expect.arrayContaining(["200", "201", "403", "422"]));
    expect(Object.keys(one?.delete?.responses ?? {})).toEqual(expect.arrayContaining(["200", "404"]));
  });
});
