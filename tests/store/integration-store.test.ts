/**
 * The integration store on a real store, SQLite and PostgreSQL alike: credentials sealed before
 * they are written (an `_encrypted` envelope, the plaintext nowhere in the database) and bound to
 * their row; every query scoped to the organisation; refreshed tokens stored; the table listed
 * among the encrypted stores the key commands walk. And the instrumented store over it: cached
 * gets counted as hits and misses, every operation timed and counted, unhealthy after 3
 * consecutive failures and healthy again after a success, in the runbook's shapes and metrics.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import postgres from "postgres";
import { InstrumentedIntegrationStore } from "../../actors/integrations/instrumented-integration-store.ts";
import {
  type IntegrationBackend,
  type IntegrationStore,
  integrationsEncryptedStore,
  openIntegrationStore,
} from "../../actors/integrations/integration-store.ts";
import { closeEncryptedStores, openEncryptedStores } from "../../app/encrypted-stores.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { registry } from "../../runtime/metrics.ts";
import { generateKeyHex, parseKeyList } from "../../runtime/security/encryption-keys.ts";
import { TamperedFieldError } from "../../runtime/security/field-cipher.ts";
import { fieldSealer } from "../../runtime/security/field-sealer.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const KEYS = parseKeyList(generateKeyHex(), "test");
const T0 = new Date(1_900_000_000_000);
const SLACK_URL = "https://hooks.slack.com/services/T0SECRET/B0SECRET/plaintext-webhook-token-0001";

interface Place {
  env: Record<string, string>;
  backend: string;
  rawCredentials(): Promise<{ id: string; credentials: string }[]>;
  files(): Buffer[];
}

function suite(place: () => Place) {
  let core: Store;
  let store: IntegrationStore;
  beforeAll(async () => {
    core = await openStore(loadConfig(place().env), quiet);
    store = await openIntegrationStore(
      core,
      fieldSealer(() => KEYS),
    );
  });
  afterAll(async () => {
    await store?.close();
    await core?.close();
  });

  test("credentials are sealed before they are written and open back; the plaintext is nowhere", async () => {
    const row = await store.save(
      {
        orgId: "o-acme",
        kind: "slack",
        name: "alerts",
        enabled: true,
        settings: {},
        secrets: { webhook_url: SLACK_URL },
      },
      "u-owner",
      T0,
    );
    expect(row).toMatchObject({ orgId: "o-acme", kind: "slack", name: "alerts", enabled: true, createdBy: "u-owner" });
    const stored = (await place().rawCredentials()).find((r) => r.id === row?.id);
    expect(stored?.credentials.startsWith('{"_encrypted":true')).toBe(true);
    expect(stored?.credentials).not.toContain("plaintext-webhook-token");
    for (const file of place().files()) expect(file.includes("plaintext-webhook-token")).toBe(false);
    expect(store.secretsOf(row as never)).toEqual({ webhook_url: SLACK_URL });
  });

  test("sealed credentials copied to another row do not open", async () => {
    const [acme] = await store.list("o-acme");
    const other = await store.save(
      {
        orgId: "o-evil",
        kind: "slack",
        name: "mine",
        enabled: true,
        settings: {},
        secrets: { webhook_url: "https://x.test/" },
      },
      "u-evil",
      T0,
    );
    expect(() => store.secretsOf({ id: other?.id as string, credentials: acme?.credentials as string })).toThrow(
      TamperedFieldError,
    );
  });

  test("every read, replacement and removal is scoped to the organisation", async () => {
    const [acme] = await store.list("o-acme");
    const id = acme?.id as string;
    expect(await store.get("o-evil", id)).toBeUndefined();
    expect(
      await store.save(
        { orgId: "o-evil", id, kind: "slack", name: "stolen", enabled: true, settings: {}, secrets: {} },
        "u-evil",
        T0,
      ),
    ).toBeUndefined();
    expect(await store.delete("o-evil", id)).toBe(false);
    expect(await store.refreshToken("o-evil", id, { x: 1 }, T0)).toBe(false);
    expect((await store.get("o-acme", id))?.name).toBe("alerts");
    expect((await store.list("o-evil")).map((r) => r.name)).toEqual(["mine"]);
  });

  test("replacing, refreshing tokens, counting the enabled, removing", async () => {
    const oauth = await store.save(
      {
        orgId: "o-acme",
        kind: "oauth2",
        name: "crm",
        enabled: true,
        settings: { token_url: "https://as.test/token" },
        secrets: { client_secret: "cs", refresh_token: "r0" },
      },
      "u-owner",
      T0,
    );
    const id = oauth?.id as string;
    expect(
      await store.refreshToken("o-acme", id, { client_secret: "cs", refresh_token: "r1", access_token: "a1" }, T0),
    ).toBe(true);
    expect(store.secretsOf((await store.get("o-acme", id)) as never)).toEqual({
      client_secret: "cs",
      refresh_token: "r1",
      access_token: "a1",
    });
    const enabledBefore = await store.countEnabled();
    await store.save(
      { orgId: "o-acme", id, kind: "oauth2", name: "crm", enabled: false, settings: {}, secrets: {} },
      "u-admin",
      T0,
    );
    expect(await store.countEnabled()).toBe(enabledBefore - 1);
    expect(await store.delete("o-acme", id)).toBe(true);
    expect(await store.get("o-acme", id)).toBeUndefined();
  });

  test("the key commands see the table", async () => {
    const all = await openEncryptedStores(core);
    try {
      expect(all.map((s) => s.name)).toContain("integrations");
    } finally {
      await closeEncryptedStores(all);
    }
    const sealed = await integrationsEncryptedStore(core);
    try {
      const fields = await sealed.scan(null, 100);
      expect(fields.length).toBeGreaterThan(0);
      for (const f of fields) expect(f.ref).toEqual({ table: "integrations", id: f.id, field: "credentials" });
    } finally {
      await sealed.close();
    }
  });

  test("instrumented: cached gets, figures per operation, health after 3 failures and back", async () => {
    let failing = false;
    const flaky: IntegrationBackend = {
      get: (o, i) => (failing ? Promise.reject(new Error("down")) : store.get(o, i)),
      list: (o) => (failing ? Promise.reject(new Error("down")) : store.list(o)),
      save: (input, by, now) => (failing ? Promise.reject(new Error("down")) : store.save(input, by, now)),
      delete: (o, i) => (failing ? Promise.reject(new Error("down")) : store.delete(o, i)),
      refreshToken: (o, i, s, n) => (failing ? Promise.reject(new Error("down")) : store.refreshToken(o, i, s, n)),
      countEnabled: () => store.countEnabled(),
    };
    const backend = place().backend;
    const instrumented = new InstrumentedIntegrationStore(flaky, { backendType: backend });
    const row = await instrumented.save(
      {
        orgId: "o-acme",
        kind: "discord",
        name: "ops",
        enabled: true,
        settings: {},
        secrets: { webhook_url: "https://d.test/" },
      },
      "u-owner",
      T0,
    );
    const id = row?.id as string;
    expect((await instrumented.get("o-acme", id))?.name).toBe("ops");
    expect((await instrumented.get("o-acme", id))?.name).toBe("ops");
    expect((await instrumented.get("o-acme", id))?.name).toBe("ops");
    await instrumented.list("o-acme");
    let m = instrumented.metrics();
    expect(m.operations.get.total_calls).toBe(3);
    expect(m.cache_hit_rate).toBeCloseTo(66.7, 1);
    expect(m.operations.save).toMatchObject({ total_calls: 1, success_rate: 100 });
    expect(m.operations.list.avg_latency_seconds).toBeGreaterThan(0);
    expect(instrumented.health()).toMatchObject({ healthy: true, backend_type: backend, consecutive_failures: 0 });
    expect(instrumented.health().active_integrations).toBe(await store.countEnabled());

    // A change through the store is seen at once: the cached entry is dropped.
    await instrumented.save(
      { orgId: "o-acme", id, kind: "discord", name: "ops-2", enabled: true, settings: {}, secrets: {} },
      "u",
      T0,
    );
    expect((await instrumented.get("o-acme", id))?.name).toBe("ops-2");

    failing = true;
    for (const op of [() => instrumented.list("o-acme"), () => instrumented.delete("o-acme", id)]) {
      await expect(op()).rejects.toThrow("down");
    }
    expect(instrumented.health()).toMatchObject({ healthy: true, consecutive_failures: 2 });
    await expect(instrumented.refreshToken("o-acme", id, {}, T0)).rejects.toThrow("down");
    expect(instrumented.health()).toMatchObject({ healthy: false, consecutive_failures: 3 });
    expect(instrumented.metrics().is_healthy).toBe(false);
    let exposed = await registry.metrics();
    expect(exposed).toContain(`aragora_integration_store_health{backend="${backend}"} 0`);
    expect(exposed).toContain("aragora_integration_store_consecutive_failures 3");
    expect(exposed).toMatch(
      /aragora_integration_store_operations_total\{operation="refresh_token",status="failure"\} [1-9]/,
    );

    failing = false;
    await instrumented.list("o-acme");
    expect(instrumented.health()).toMatchObject({ healthy: true, consecutive_failures: 0 });
    exposed = await registry.metrics();
    expect(exposed).toContain(`aragora_integration_store_health{backend="${backend}"} 1`);
    expect(exposed).toMatch(/aragora_integration_store_latency_seconds_count\{operation="get"\} [1-9]/);
    expect(exposed).toMatch(/aragora_integration_store_active_integrations [1-9]/);
    expect(exposed).toMatch(/aragora_integration_store_cache_hit_rate \d/);
    m = instrumented.metrics();
    expect(m.operations.delete).toMatchObject({ total_calls: 1, success_rate: 0 });
  });
}

describe("the integration store on SQLite", () => {
  const dir = tempDataDir();
  afterAll(() => dir.remove());
  const db = join(dir.path, "core.db");
  suite(() => ({
    env: { ARAGORA_DATA_DIR: dir.path },
    backend: "sqlite",
    async rawCredentials() {
      const sqlite = new Database(db, { readonly: true });
      try {
        return sqlite.query("SELECT id, credentials FROM integrations ORDER BY id").all() as {
          id: string;
          credentials: string;
        }[];
      } finally {
        sqlite.close();
      }
    },
    files() {
      const out: Buffer[] = [];
      for (const f of [db, `${db}-wal`]) {
        try {
          out.push(readFileSync(f));
        } catch {}
      }
      return out;
    },
  }));
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("the integration store on PostgreSQL", () => {
  let temp: TempDatabase;
  let url = "";
  beforeAll(async () => {
    temp = await createTempPostgresDatabase();
    url = temp.url;
  });
  afterAll(() => temp?.drop());
  suite(() => ({
    env: { DATABASE_URL: url },
    backend: "postgresql",
    async rawCredentials() {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT id, credentials FROM integrations ORDER BY id`) as unknown as {
          id: string;
          credentials: string;
        }[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    files: () => [],
  }));
});
