/**
 * The first start through a real server process: the setup token is printed once (stderr) and
 * written to a 0600 file, never logged; a wrong token is 401, the right one makes the owner and
 * answers like a sign-in, and after that setup is 410 for good. Debates of the legacy `local`
 * owner move to the first organisation, in its default workspace, on start.
 */
import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runCli, tempDir } from "../support/server.ts";
import {
  call,
  JWT_SECRET,
  noSecretsLogged,
  PASSWORD,
  type Session,
  setupTokenOf,
  signIn,
  startAccessServer,
} from "./support.ts";

describe("first start and the setup token", () => {
  const dataDir = tempDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test("printed once, kept 0600, claimed once; a restart offers no new token", async () => {
    const server = await startAccessServer({ dataDir });
    let token: string;
    try {
      token = setupTokenOf(server);
      expect(token).toMatch(/^ara_setup_[A-Za-z0-9_-]{43}$/);
      expect(statSync(join(dataDir, "setup-token")).mode & 0o777).toBe(0o600);
      // One console line carries it; no log line does, though one says where it is.
      const printed = (await server.waitForStderr(token)).split("\n").filter((l) => l.includes(token));
      expect(printed).toHaveLength(1);
      expect(printed[0]).toContain("POST /api/auth/setup");
      expect(server.logs().some((l) => l.file === join(dataDir, "setup-token"))).toBe(true);
      expect(noSecretsLogged(server, [token])).toEqual([]);

      const body = { email: "Owner@Example.com", password: PASSWORD, name: "Owner" };
      const wrong = await call(server, "POST", "/api/auth/setup", {
        // Its last character changed (to one it is not: a token ending in "A" is one in 64).
        body: { ...body, setup_token: `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}` },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.body.error).toBe("invalid_setup_token");
      // A weak password is refused before the token is spent.
      const weak = await call(server, "POST", "/api/auth/setup", {
        body: { ...body, setup_token: token, password: "short" },
      });
      expect(weak.status).toBe(422);
      expect(weak.body.details).toEqual([{ field: "body.password", rule: "must be at least 12 characters" }]);
      const missing = await call(server, "POST", "/api/auth/setup", {
        body: { setup_token: token, email: "owner@example.com" },
      });
      expect(missing.status).toBe(422);
      expect(JSON.stringify(missing.body.details)).toContain("body.password");

      const claimed = await call<Session>(server, "POST", "/api/auth/setup", { body: { ...body, setup_token: token } });
      expect(claimed.status).toBe(201);
      expect(claimed.body).toMatchObject({
        token_type: "Bearer",
        expires_in: 3600,
        role: "owner",
        user: { email: "owner@example.com", name: "Owner", is_operator: false },
        organisation: { name: "Default organisation" },
        workspace: { name: "Default workspace" },
      });
      const cookies = claimed.headers.getSetCookie();
      expect(cookies.map((c) => c.split("=")[0])).toEqual([
        "aragora_access",
        "aragora_refresh",
        "aragora_csrf",
        "aragora_impersonator_refresh",
      ]);
      // A new session forgets any operator session an earlier impersonation kept aside in this browser.
      expect(cookies[3]).toMatch(/^aragora_impersonator_refresh=; .*Max-Age=0/);
      expect(existsSync(join(dataDir, "setup-token"))).toBe(false);
      const me = await call(server, "GET", "/api/auth/me", { token: claimed.body.access_token });
      expect(me.status).toBe(200);
      expect(me.body.roles).toEqual(["owner"]);

      const again = await call(server, "POST", "/api/auth/setup", { body: { ...body, setup_token: token } });
      expect(again.status).toBe(410);
      expect(again.body.error).toBe("setup_claimed");
      const guessed = await call(server, "POST", "/api/auth/setup", {
        body: { ...body, setup_token: "ara_setup_guess" },
      });
      expect(guessed.status).toBe(410);
    } finally {
      await server.stop();
    }

    const restarted = await startAccessServer({ dataDir });
    try {
      expect(restarted.stderr()).not.toContain("ara_setup_");
      expect(existsSync(join(dataDir, "setup-token"))).toBe(false);
      expect(
        (
          await call(restarted, "POST", "/api/auth/setup", {
            body: { setup_token: token, email: "x@example.com", password: PASSWORD },
          })
        ).status,
      ).toBe(410);
      expect((await signIn(restarted, "owner@example.com")).role).toBe("owner");
    } finally {
      await restarted.stop();
    }
  });
});

describe("debates made before accounts existed", () => {
  const dataDir = tempDir();
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  test("move to the first organisation on start, and stay there", async () => {
    // The schema as an upgraded server finds it: migrated, with a debate of the legacy owner.
    const migrated = await runCli(["migrate", "apply"], { ARAGORA_DATA_DIR: dataDir });
    expect(migrated.code).toBe(0);
    const file = join(dataDir, "core.db");
    const insert = (id: string) => {
      const db = new Database(file);
      db.run(
        "INSERT INTO debates (id, user_id, org_id, workspace_id, question, config, metadata, status, created_at, updated_at) VALUES (?, 'local', 'local', 'local', 'Old question?', '{}', '{}', 'completed', 1, 1)",
        [id],
      );
      db.close();
    };
    const orgOf = (id: string) => {
      const db = new Database(file, { readonly: true });
      const row = db
        .query<{ org_id: string; workspace_id: string }, [string]>(
          "SELECT org_id, workspace_id FROM debates WHERE id = ?",
        )
        .get(id);
      const first = db.query<{ org_id: string }, []>("SELECT org_id FROM setup").get();
      const workspace = db
        .query<{ id: string }, [string]>("SELECT id FROM workspaces WHERE org_id = ? AND is_default = 1")
        .get(first?.org_id ?? "");
      db.close();
      return { debate: row?.org_id, first: first?.org_id, workspace: row?.workspace_id, default: workspace?.id };
    };
    insert("d-legacy-1");
    const server = await startAccessServer({ dataDir });
    await server.stop();
    const after = orgOf("d-legacy-1");
    expect(after.first).toMatch(/^o-/);
    expect(after.debate).toBe(after.first);
    // In the organisation's default workspace.
    expect(after.default).toMatch(/^w-/);
    expect(after.workspace).toBe(after.default);

    insert("d-legacy-2");
    const again = await startAccessServer({ dataDir });
    await again.stop();
    expect(orgOf("d-legacy-2")).toMatchObject({ debate: after.first, workspace: after.default });
    expect(orgOf("d-legacy-1").debate).toBe(after.first);
  });
});

test("the development JWT secret is made once, kept 0600, and survives a restart", async () => {
  const dataDir = tempDir();
  try {
    const { startTestServer } = await import("../support/server.ts");
    const first = await startTestServer({ dataDir });
    const owner = await call<Session>(first, "POST", "/api/auth/setup", {
      body: { setup_token: setupTokenOf(first), email: "o@example.com", password: PASSWORD },
    });
    await first.stop();
    expect(statSync(join(dataDir, "jwt.secret")).mode & 0o777).toBe(0o600);
    const second = await startTestServer({ dataDir });
    try {
      expect((await call(second, "GET", "/api/auth/me", { token: owner.body.access_token })).status).toBe(200);
    } finally {
      await second.stop();
    }
    // A configured secret replaces it: tokens signed with the file's secret are refused.
    const third = await startAccessServer({ dataDir });
    try {
      expect(JWT_SECRET.length).toBeGreaterThanOrEqual(32);
      expect((await call(third, "GET", "/api/auth/me", { token: owner.body.access_token })).status).toBe(401);
    } finally {
      await third.stop();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
