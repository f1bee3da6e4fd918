/**
 * API keys through a real server: shown once and stored as a hash, listed without the secret,
 * capped at the creator's role, revoked by id or by themselves and refused at once; scoped keys
 * stay within their scopes; service headers count only on a service key (a spoofed header from
 * anyone else grants nothing).
 */

import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { TestServer } from "../support/server.ts";
import {
  becomes,
  call,
  claimOwner,
  noSecretsLogged,
  type Session,
  seenSecrets,
  startAccessServer,
  userWithRole,
} from "./support.ts";

interface CreatedKey {
  error?: string;
  details?: unknown;
  id: string;
  key: string;
  name: string;
  prefix: string;
  last_four: string;
  role: string;
  scopes: string[];
  kind: string;
}

let server: TestServer;
let owner: Session;
let admin: Session;

beforeAll(async () => {
  server = await startAccessServer();
  owner = await claimOwner(server);
  admin = await userWithRole(server, "admin");
});

afterAll(async () => {
  const leaked = noSecretsLogged(server, seenSecrets);
  await server.stop();
  expect(leaked).toEqual([]);
});

const makeKey = (token: string, body: Record<string, unknown>) =>
  call<CreatedKey>(server, "POST", "/api/auth/api-key", { token, body });

describe("making and listing keys", () => {
  test("the key is shown once; only its hash is stored; the list never carries it", async () => {
    const made = await makeKey(admin.access_token, { name: "ci" });
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: "ci", role: "admin", kind: "user", scopes: [] });
    expect(made.body.key).toMatch(/^ara_live_[A-Za-z0-9_-]{43}$/);
    expect(made.body.key.startsWith(made.body.prefix)).toBe(true);
    expect(made.body.key.endsWith(made.body.last_four)).toBe(true);
    expect(made.headers.get("cache-control")).toBe("no-store");

    const hash = new Bun.CryptoHasher("sha256").update(made.body.key).digest("hex");
    for (const path of ["/api/auth/api-keys", "/api/auth/api-key"]) {
      const list = await call<{ api_keys: Record<string, unknown>[] }>(server, "GET", path, {
        token: owner.access_token,
      });
      expect(list.status).toBe(200);
      const row = list.body.api_keys.find((k) => k.id === made.body.id);
      expect(row).toMatchObject({
        name: "ci",
        prefix: made.body.prefix,
        last_four: made.body.last_four,
        role: "admin",
        kind: "user",
      });
      expect(Object.keys(row ?? {}).sort()).toEqual([
        "created_at",
        "id",
        "kind",
        "last_four",
        "last_used_at",
        "name",
        "prefix",
        "role",
        "scopes",
      ]);
      const text = JSON.stringify(list.body);
      expect(text).not.toContain(made.body.key);
      expect(text).not.toContain(hash);
    }
    // What the database keeps is the hash, not the key.
    const db = new Database(join(server.dataDir, "core.db"), { readonly: true });
    const stored = db
      .query<{ key_hash: string }, [string]>("SELECT key_hash FROM api_keys WHERE id = ?")
      .get(made.body.id);
    const dump = JSON.stringify(db.query("SELECT * FROM api_keys").all());
    db.close();
    expect(stored?.key_hash).toBe(hash);
    expect(dump).not.toContain(made.body.key);
  });

  test("a key acts with its own role, by Authorization or X-API-Key, and records its last use", async () => {
    const made = await makeKey(admin.access_token, { name: "reader", role: "viewer" });
    const bearer = await call(server, "GET", "/api/auth/me", { token: made.body.key });
    expect(bearer.body).toMatchObject({
      roles: ["viewer"],
      via: "api_key",
      key_id: made.body.id,
      user: { id: admin.user.id },
    });
    const header = await call(server, "GET", "/api/auth/me", { headers: { "x-api-key": made.body.key } });
    expect(header.status).toBe(200);
    // A viewer key cannot manage keys.
    expect((await makeKey(made.body.key, { name: "nope" })).status).toBe(403);
    const list = await call<{ api_keys: { id: string; last_used_at: string | null }[] }>(
      server,
      "GET",
      "/api/auth/api-keys",
      { token: admin.access_token },
    );
    expect(list.body.api_keys.find((k) => k.id === made.body.id)?.last_used_at).not.toBeNull();
  });

  test("a key's role may not exceed its creator's; service keys are for admins and owners; members make no keys", async () => {
    const high = await makeKey(admin.access_token, { name: "too high", role: "owner" });
    expect(high.status).toBe(403);
    expect(high.body).toMatchObject({
      error: "role_too_high",
      details: [{ field: "body.role", rule: "must not exceed the creator's role" }],
    });
    expect((await makeKey(owner.access_token, { name: "owner key", role: "owner" })).status).toBe(201);
    expect((await makeKey(admin.access_token, { name: "svc", kind: "service" })).status).toBe(201);
    const member = await userWithRole(server, "member");
    const refused = await makeKey(member.access_token, { name: "m" });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("forbidden");
    expect((await makeKey(admin.access_token, { name: "x", role: "operator" })).status).toBe(422);
    const unknownScope = await makeKey(admin.access_token, { name: "x", scopes: ["debates.fly"] });
    expect(unknownScope.status).toBe(422);
    const aboveRole = await makeKey(admin.access_token, { name: "x", role: "viewer", scopes: ["debates.create"] });
    expect(aboveRole.status).toBe(422);
    expect(aboveRole.body.details).toEqual([
      { field: "body.scopes.0", rule: "must be granted by the key's role and by your own credentials" },
    ]);
  });

  test("a scoped key is held to its scopes, but can always see itself and revoke itself", async () => {
    const narrow = await makeKey(admin.access_token, { name: "narrow", role: "viewer", scopes: ["debates.read"] });
    const me = await call(server, "GET", "/api/auth/me", { token: narrow.body.key });
    expect(me.body).toMatchObject({
      roles: ["viewer"],
      scopes: ["debates.read"],
      permissions: ["account.self", "debates.read"],
    });
    expect((await call(server, "POST", "/api/auth/ws-ticket", { token: narrow.body.key })).status).toBe(200);
    expect((await makeKey(narrow.body.key, { name: "x" })).status).toBe(403);
    expect((await call(server, "DELETE", "/api/auth/api-key", { token: narrow.body.key })).status).toBe(200);
    expect((await call(server, "GET", "/api/auth/me", { token: narrow.body.key })).status).toBe(401);
  });

  test("a scoped key cannot make a wider key", async () => {
    const scoped = await makeKey(admin.access_token, { name: "scoped", scopes: ["keys.manage"] });
    expect(scoped.status).toBe(201);
    const me = await call(server, "GET", "/api/auth/me", { token: scoped.body.key });
    expect(me.body).toMatchObject({
      roles: ["admin"],
      scopes: ["keys.manage"],
      permissions: ["account.self", "keys.manage"],
    });
    expect((await call(server, "POST", "/api/auth/ws-ticket", { token: scoped.body.key })).status).toBe(403);
    // Over the WebSocket too: the key's role could read debates, its scopes cannot.
    const socket = await server.socket(server.ws, { "x-api-key": scoped.body.key });
    try {
      socket.ws.send(
        JSON.stringify({ type: "subscribe", debate_id: "d-00000000-0000-7000-8000-000000000000", since_seq: 0 }),
      );
      const refused = await socket.next((m) => m.type === "error");
      expect(refused).toMatchObject({ type: "error", code: "forbidden" });
    } finally {
      socket.ws.close();
    }
    expect((await makeKey(scoped.body.key, { name: "wider", scopes: ["debates.read"] })).status).toBe(422);
    expect((await makeKey(scoped.body.key, { name: "unscoped", scopes: [] })).status).toBe(422);
    const inherited = await makeKey(scoped.body.key, { name: "same" });
    expect(inherited.status).toBe(201);
    expect(inherited.body.scopes).toEqual(["keys.manage"]);
  });
});

describe("revoking keys", () => {
  test("by id: the key stops at once; another organisation's key id is 404", async () => {
    const made = await makeKey(admin.access_token, { name: "to revoke" });
    expect((await call(server, "GET", "/api/auth/me", { token: made.body.key })).status).toBe(200);
    const revoked = await call(server, "DELETE", `/api/auth/api-keys/${made.body.id}`, { token: owner.access_token });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toEqual({ id: made.body.id, revoked: true });
    const took = await becomes(401, () => call(server, "GET", "/api/auth/me", { token: made.body.key }), 1000);
    expect(took).toBeLessThan(1000);
    const gone = await call(server, "GET", "/api/auth/me", { token: made.body.key });
    expect(gone.body.error).toBe("invalid_api_key");
    expect(
      (await call(server, "DELETE", `/api/auth/api-keys/${made.body.id}`, { token: owner.access_token })).status,
    ).toBe(404);
    const list = await call<{ api_keys: { id: string }[] }>(server, "GET", "/api/auth/api-keys", {
      token: owner.access_token,
    });
    expect(list.body.api_keys.map((k) => k.id)).not.toContain(made.body.id);
  });

  test("DELETE /api/auth/api-key revokes the key that presents it, and only that one", async () => {
    const leaked = await makeKey(admin.access_token, { name: "leaked", role: "viewer" });
    const other = await makeKey(admin.access_token, { name: "other", role: "viewer" });
    const self = await call(server, "DELETE", "/api/auth/api-key", { token: leaked.body.key });
    expect(self.body).toEqual({ id: leaked.body.id, revoked: true });
    expect((await call(server, "GET", "/api/auth/me", { token: leaked.body.key })).status).toBe(401);
    expect((await call(server, "GET", "/api/auth/me", { token: other.body.key })).status).toBe(200);
    const notAKey = await call(server, "DELETE", "/api/auth/api-key", { token: admin.access_token });
    expect(notAKey.status).toBe(400);
    expect(notAKey.body.error).toBe("not_an_api_key");
  });

  test("one organisation cannot see or revoke another's keys", async () => {
    const opened = await startAccessServer({ env: { ARAGORA_SIGNUP: "open" } });
    try {
      await claimOwner(opened);
      const a = await call<Session>(opened, "POST", "/api/auth/sign-up", {
        body: { email: "a@a.example", password: "correct horse battery staple", name: "A" },
      });
      const b = await call<Session>(opened, "POST", "/api/auth/sign-up", {
        body: { email: "b@b.example", password: "correct horse battery staple", name: "B" },
      });
      const key = await call<CreatedKey>(opened, "POST", "/api/auth/api-key", {
        token: a.body.access_token,
        body: { name: "a's" },
      });
      seenSecrets.add(key.body.key);
      const list = await call<{ api_keys: unknown[] }>(opened, "GET", "/api/auth/api-keys", {
        token: b.body.access_token,
      });
      expect(list.body.api_keys).toEqual([]);
      const steal = await call(opened, "DELETE", `/api/auth/api-keys/${key.body.id}`, { token: b.body.access_token });
      expect(steal.status).toBe(404);
      expect((await call(opened, "GET", "/api/auth/me", { token: key.body.key })).status).toBe(200);
    } finally {
      await opened.stop();
    }
  });
});

describe("service headers", () => {
  test("spoofed by a user or a plain key, they grant nothing", async () => {
    const viewer = await userWithRole(server, "viewer");
    const spoof = { "x-user-id": owner.user.id, "x-user-roles": "owner", "x-org-id": owner.organisation.id };
    const me = await call(server, "GET", "/api/auth/me", { token: viewer.access_token, headers: spoof });
    expect(me.body).toMatchObject({ user: { id: viewer.user.id }, roles: ["viewer"] });
    expect((await makeKey(viewer.access_token, { name: "escalate" })).status).toBe(403);
    const plain = await makeKey(admin.access_token, { name: "plain", role: "viewer" });
    const asKey = await call(server, "GET", "/api/auth/me", { token: plain.body.key, headers: spoof });
    expect(asKey.body).toMatchObject({ roles: ["viewer"], user: { id: admin.user.id } });
    const anonymous = await call(server, "GET", "/api/auth/me", { headers: spoof });
    expect(anonymous.status).toBe(401);
  });

  test("a service key speaks for a user, within its own organisation and role", async () => {
    const svc = await makeKey(admin.access_token, { name: "gateway", kind: "service", role: "member" });
    const viewer = await userWithRole(server, "viewer");
    const acting = await call(server, "GET", "/api/auth/me", {
      token: svc.body.key,
      headers: { "x-user-id": viewer.user.id, "x-user-roles": "owner,viewer" },
    });
    expect(acting.body).toMatchObject({
      user: { id: viewer.user.id },
      roles: ["member", "viewer"],
      key_id: svc.body.id,
    });
    const elsewhere = await call(server, "GET", "/api/auth/me", {
      token: svc.body.key,
      headers: { "x-user-id": viewer.user.id, "x-org-id": "o-another" },
    });
    expect(elsewhere.status).toBe(403);
  });
});
