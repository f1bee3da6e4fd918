/**
 * A webhook is never a way into the network the server runs in, through a real server with its
 * defaults (ARAGORA_OUTBOUND_ALLOW_LOOPBACK unset):
 *
 * - registering (or changing to) a URL that reaches loopback, a private network, link-local or a
 *   cloud metadata service, that carries credentials or another scheme, is a 422 naming `body.url`
 *   and the rule, and nothing is stored;
 * - an endpoint whose stored URL reaches loopback anyway (written before the check, or by hand) is
 *   refused at send time by the guarded sender: the receiver listening there gets nothing and the
 *   attempt records why.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import type { TestServer } from "../support/server.ts";
import { type Receiver, startReceiver } from "./receiver.ts";

interface ErrorView {
  error: string;
  details?: { field: string; rule: string }[];
}

describe("webhook URLs that reach inside are refused", () => {
  let server: TestServer;
  let owner: Session;
  let rx: Receiver;

  beforeAll(async () => {
    rx = startReceiver();
    server = await startAccessServer({ env: { ARAGORA_ENCRYPTION_KEY: generateKeyHex() } });
    owner = await claimOwner(server);
  });
  afterAll(async () => {
    await server?.stop();
    rx?.stop();
  });

  const create = (url: string) =>
    call<ErrorView & { id: string }>(server, "POST", "/api/webhooks", { token: owner.access_token, body: { url } });

  test.each([
    ["loopback", `http://127.0.0.1:${9}/hook`, "loopback"],
    ["loopback by name", "http://localhost:8080/hook", "loopback"],
    ["loopback written as a number", "http://2130706433/hook", "loopback"],
    ["IPv6 loopback", "http://[::1]/hook", "loopback"],
    ["IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]/hook", "loopback"],
    ["a private network", "http://10.0.0.5/hook", "private"],
    ["link-local", "http://169.254.10.10/hook", "link"],
    ["cloud metadata", "http://169.254.169.254/latest/meta-data/", "metadata"],
    ["carrier-grade NAT", "http://100.64.0.1/hook", "100.64"],
    ["credentials in the URL", "https://user:pw@hooks.example.com/hook", "user name or password"],
    ["another scheme", "ftp://hooks.example.com/hook", "https://"],
  ])("%s: 422 naming body.url", async (_name, url, rule) => {
    const res = await create(url);
    expect(res.status).toBe(422);
    expect(res.body.details?.[0]?.field).toBe("body.url");
    expect(res.body.details?.[0]?.rule).toContain(rule);
    const list = await call<{ webhooks: unknown[] }>(server, "GET", "/api/webhooks", { token: owner.access_token });
    expect(list.body.webhooks).toEqual([]);
  });

  test("changing an endpoint's URL to an internal one is refused too", async () => {
    const made = await create("https://hooks.example.com/aragora");
    expect(made.status).toBe(201);
    const changed = await call<ErrorView>(server, "PATCH", `/api/webhooks/${made.body.id}`, {
      token: owner.access_token,
      body: { url: "http://169.254.169.254/latest/meta-data/" },
    });
    expect(changed.status).toBe(422);
    expect(changed.body.details?.[0]?.field).toBe("body.url");
    await call(server, "DELETE", `/api/webhooks/${made.body.id}`, { token: owner.access_token });
  });

  test("a stored URL that reaches loopback is refused at send time: the receiver gets nothing", async () => {
    const made = await create("https://hooks.example.com/aragora");
    expect(made.status).toBe(201);
    // As a row written before the check existed (or edited in the database) would hold it.
    const db = new Database(join(server.dataDir, "core.db"));
    try {
      db.run("PRAGMA busy_timeout = 10000");
      db.run("UPDATE webhook_endpoints SET url = ? WHERE id = ?", [rx.url, made.body.id]);
    } finally {
      db.close();
    }
    // The actor holds the endpoint as loaded: a reload (PATCH of another field) reads the row again.
    const patched = await call(server, "PATCH", `/api/webhooks/${made.body.id}`, {
      token: owner.access_token,
      body: { description: "reloaded" },
    });
    expect(patched.status).toBe(200);
    const sent = await call(server, "POST", `/api/webhooks/${made.body.id}/test`, { token: owner.access_token });
    expect(sent.status).toBe(202);
    let deliveries: { attempts: number; last_error: string | null; history: { error: string | null }[] }[] = [];
    for (let i = 0; i < 200; i++) {
      const res = await call<{ deliveries: typeof deliveries }>(
        server,
        "GET",
        `/api/webhooks/${made.body.id}/deliveries`,
        { token: owner.access_token },
      );
      deliveries = res.body.deliveries;
      if (deliveries[0] !== undefined && deliveries[0].attempts > 0) break;
      await Bun.sleep(50);
    }
    expect(deliveries[0]?.attempts).toBeGreaterThan(0);
    expect(deliveries[0]?.last_error ?? "").toContain("loopback");
    expect(rx.received).toEqual([]);
  });
});
