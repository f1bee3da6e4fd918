/**
 * Accounts on PostgreSQL, shared by two server processes (two nodes) with one JWT secret: the
 * owner claimed on one signs in on the other, a key made on one works on the other, and what one
 * node revokes (a key, a session, a password) the other refuses within a second.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import {
  becomes,
  call,
  claimOwner,
  type Session,
  signIn,
  startAccessServer,
  usersCli,
  userWithRole,
} from "./support.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("accounts on PostgreSQL, across two nodes", () => {
  let db: TempDatabase;
  let a: TestServer;
  let b: TestServer;
  let owner: Session;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    a = await startAccessServer({ env: { DATABASE_URL: db.url } });
    b = await startAccessServer({ env: { DATABASE_URL: db.url } });
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  test("one first organisation and one setup token for both nodes; the owner claimed on one signs in on the other", async () => {
    // Two nodes with their own data dirs: the token was written by the one that made it.
    const maker = [a, b].find((s) => existsSync(join(s.dataDir, "setup-token"))) as TestServer;
    await maker.waitForStderr("ara_setup_");
    expect([a, b].filter((s) => s.stderr().includes("ara_setup_"))).toHaveLength(1);
    owner = await claimOwner(maker);
    const other = maker === a ? b : a;
    const there = await signIn(other, "owner@example.com");
    expect(there.organisation.id).toBe(owner.organisation.id);
    expect((await call(other, "GET", "/api/auth/me", { token: owner.access_token })).status).toBe(200);
  });

  test("a key made on one node works on the other, and is refused there within a second of its revocation", async () => {
    const made = await call<{ id: string; key: string }>(a, "POST", "/api/auth/api-key", {
      token: owner.access_token,
      body: { name: "shared" },
    });
    expect(made.status).toBe(201);
    expect((await call(b, "GET", "/api/auth/me", { token: made.body.key })).status).toBe(200);
    expect((await call(a, "DELETE", `/api/auth/api-keys/${made.body.id}`, { token: owner.access_token })).status).toBe(
      200,
    );
    const took = await becomes(401, () => call(b, "GET", "/api/auth/me", { token: made.body.key }), 1500);
    expect(took).toBeLessThan(1300);
  });

  test("signing out or changing the password on one node ends the session on the other within a second", async () => {
    const s = await userWithRole(a, "member", { DATABASE_URL: db.url });
    expect((await call(b, "GET", "/api/auth/me", { token: s.access_token })).status).toBe(200);
    await call(a, "POST", "/api/auth/sign-out", { token: s.access_token });
    expect(await becomes(401, () => call(b, "GET", "/api/auth/me", { token: s.access_token }), 1500)).toBeLessThan(
      1300,
    );

    const t = await signIn(b, s.user.email);
    expect((await call(a, "GET", "/api/auth/me", { token: t.access_token })).status).toBe(200);
    const changed = await call(b, "POST", "/api/auth/password", {
      token: t.access_token,
      body: { current_password: "correct horse battery staple", new_password: "a fresh passphrase" },
    });
    expect(changed.status).toBe(200);
    expect(await becomes(401, () => call(a, "GET", "/api/auth/me", { token: t.access_token }), 1500)).toBeLessThan(
      1300,
    );
  });

  test("a refresh token rotated on one node is a reuse on the other", async () => {
    const s = await userWithRole(a, "viewer", { DATABASE_URL: db.url });
    expect((await call(a, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } })).status).toBe(200);
    const replay = await call(b, "POST", "/api/auth/refresh", { body: { refresh_token: s.refresh_token } });
    expect(replay.status).toBe(401);
    expect(replay.body.error).toBe("refresh_token_reused");
  });

  test("the CLI works on PostgreSQL: list shows the accounts", async () => {
    const listed = await usersCli(a, ["list", "--json"], "", { DATABASE_URL: db.url });
    expect(listed.code).toBe(0);
    const { users } = JSON.parse(listed.stdout) as { users: { email: string }[] };
    expect(users.map((u) => u.email)).toContain("owner@example.com");
  });
});
