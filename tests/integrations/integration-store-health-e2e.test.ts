/**
 * The instrumented integration store's health through a server process on PostgreSQL, whose
 * connection to the database passes a proxy that ends a session at an exact statement
 * (tests/support/pg-proxy.ts): three saves cut in a row make the store unhealthy
 * (`GET /api/integrations/health`, the Prometheus gauge), one save that succeeds makes it healthy
 * again; the metrics count the failures.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import postgres from "postgres";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import { type PgProxy, startPgProxy } from "../support/pg-proxy.ts";
import type { TestServer } from "../support/server.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  TEST_DATABASE_URL,
  type TempDatabase,
} from "../support/services.ts";

setDefaultTimeout(60_000);

const pg = await postgresAvailable();

interface Health {
  healthy: boolean;
  backend_type: string;
  consecutive_failures: number;
  active_integrations: number;
}

describe.skipIf(!pg)("integration store health on PostgreSQL", () => {
  let db: TempDatabase;
  let admin: postgres.Sql;
  let proxy: PgProxy;
  let server: TestServer;
  let owner: Session;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
    proxy = await startPgProxy(db.url, admin);
    server = await startAccessServer({
      env: { ARAGORA_ENCRYPTION_KEY: generateKeyHex(), DATABASE_URL: proxy.url },
    });
    owner = await claimOwner(server);
  });

  afterAll(async () => {
    await server?.stop();
    proxy?.stop();
    await admin?.end({ timeout: 1 });
    await db?.drop();
  });

  const health = async () => (await (await server.fetch("/api/integrations/health")).json()) as Health;
  const gauge = async () =>
    /aragora_integration_store_health\{backend="postgresql"\} (\d)/.exec(
      await (await server.fetch("/api/metrics")).text(),
    )?.[1];
  const save = (name: string) =>
    call(server, "POST", "/api/integrations", {
      token: owner.access_token,
      body: { kind: "slack", name, webhook_url: "https://hooks.slack.com/services/T0/B0/abcdefgh" },
    });

  test("unhealthy after 3 consecutive failures, healthy again after a success", async () => {
    expect(await health()).toMatchObject({ healthy: true, backend_type: "postgresql", consecutive_failures: 0 });
    expect(await gauge()).toBe("1");
    for (let i = 1; i <= 3; i++) {
      // The save's INSERT carries the name: its session is ended with the statement in flight.
      const cut = proxy.cutWhenClientSends(`cut-save-${i}`);
      const res = await save(`cut-save-${i}`);
      await cut;
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect((await health()).consecutive_failures).toBe(i);
      expect((await health()).healthy).toBe(i < 3);
    }
    expect(await gauge()).toBe("0");
    const metrics = (await (await server.fetch("/api/integrations/metrics")).json()) as {
      is_healthy: boolean;
      operations: { save: { total_calls: number; success_rate: number } };
    };
    expect(metrics).toMatchObject({ is_healthy: false, operations: { save: { total_calls: 3, success_rate: 0 } } });

    const ok = await save("after-the-cuts");
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
    expect(await health()).toMatchObject({ healthy: true, consecutive_failures: 0, active_integrations: 1 });
    expect(await gauge()).toBe("1");
    expect(proxy.cuts).toBe(3);
  });
});
