/**
 * The access store on both dialects (SQLite in a temporary data dir, PostgreSQL in a fresh
 * temporary database): what must happen once happens once, however requests or nodes race.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { hashSecretToken, newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { openStore, type Store } from "../runtime/store/index.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../tests/support/services.ts";
import { type AccessStore, isUniqueViolation, newId, openAccessStore } from "./access-store.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

function suite(name: string, open: () => Promise<Store>) {
  describe(name, () => {
    let store: Store;
    let access: AccessStore;
    let other: AccessStore;
    beforeAll(async () => {
      store = await open();
      access = await openAccessStore(store);
      // A second connection (pool), as a second node would have.
      other = await openAccessStore(store);
    });
    afterAll(async () => {
      await other.close();
      await access.close();
      await store.close();
    });

    test("two nodes making the first organisation at once agree on one", async () => {
      const now = new Date();
      const [a, b] = await Promise.all([access.ensureFirstOrganisation(now), other.ensureFirstOrganisation(now)]);
      expect(a.orgId).toBe(b.orgId);
      expect(a.workspaceId).toBe(b.workspaceId);
      expect([a.created, b.created].filter(Boolean).length).toBeLessThanOrEqual(1);
      const again = await access.ensureFirstOrganisation(new Date());
      expect(again).toEqual({ orgId: a.orgId, workspaceId: a.workspaceId, created: false });
      expect(await access.defaultWorkspace(a.orgId)).toBe(a.workspaceId);
    });

    test("two owners demoting or removing each other at once: one wins, the organisation keeps an owner", async () => {
      for (let round = 0; round < 15; round++) {
        const { orgId } = await access.createUserWithOrganisation(
          { email: `race-a-${round}@example.com`, name: "A", passwordHash: "h" },
          `Race ${round}`,
          new Date(),
        );
        const [a] = (await access.members(orgId)).map((m) => m.userId) as [string];
        const b = await access.createUser(
          { email: `race-b-${round}@example.com`, name: "B", passwordHash: "h" },
          orgId,
          "owner",
          new Date(),
        );
        // Each node changes the other owner, as two owners clicking at once on two nodes would.
        const outcomes = await Promise.all(
          round % 2 === 0
            ? [access.changeMemberRole(b.id, orgId, "member"), other.changeMemberRole(a, orgId, "admin")]
            : [access.removeMember(b.id, orgId, new Date()), other.removeMember(a, orgId, new Date())],
        );
        expect(outcomes.filter(Boolean)).toEqual([true]);
        const owners = (await access.members(orgId)).filter((m) => m.role === "owner");
        expect(owners).toHaveLength(1);
      }
    });

    test("a setup token is offered once and claimed once, by one of two racing claims", async () => {
      const { token, hash } = newSecretToken(TOKEN_PREFIX.setup);
      expect(await access.offerSetupToken(hash)).toBe(true);
      expect(await access.offerSetupToken(newSecretToken(TOKEN_PREFIX.setup).hash)).toBe(false);
      expect(await access.claimSetup(hashSecretToken(`${token}x`), new Date())).toBe(false);
      const claims = await Promise.all([access.claimSetup(hash, new Date()), other.claimSetup(hash, new Date())]);
      expect(claims.filter(Boolean)).toEqual([true]);
      const record = await access.setupRecord();
      expect(record?.claimedAt).toBeInstanceOf(Date);
      expect(record?.tokenHash).toBeNull();
      await access.unclaimSetup(hash);
      expect((await access.setupRecord())?.claimedAt).toBeNull();
      expect(await access.claimSetup(hash, new Date())).toBe(true);
    });

    test("emails are one account however they are typed", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: "Ada@Example.COM", name: "Ada", passwordHash: "h" },
        orgId,
        "admin",
        new Date(),
      );
      expect(user.email).toBe("ada@example.com");
      expect((await access.userByEmail("ADA@example.com"))?.id).toBe(user.id);
      const dup = await access
        .createUser({ email: "ada@example.com", name: "Ada 2", passwordHash: "h" }, orgId, "viewer", new Date())
        .catch((e: unknown) => e);
      expect(isUniqueViolation(dup)).toBe(true);
      const state = await access.userState(user.id, new Date(), 60_000);
      expect(state.memberships).toEqual([
        { orgId, role: "admin", workspaceId: (await access.defaultWorkspace(orgId)) as string },
      ]);
    });

    test("a refresh token rotates once; presented again it revokes its whole session", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: `r-${Date.now()}@example.com`, name: "R", passwordHash: "h" },
        orgId,
        "member",
        new Date(),
      );
      const familyId = newId.session();
      const first = newSecretToken(TOKEN_PREFIX.refresh);
      const now = new Date();
      const expiresAt = new Date(now.getTime() + 60_000);
      await access.insertRefreshToken({ familyId, userId: user.id, orgId, tokenHash: first.hash, expiresAt }, now);
      const second = newSecretToken(TOKEN_PREFIX.refresh);
      const third = newSecretToken(TOKEN_PREFIX.refresh);
      const next = (hash: string) => ({ tokenHash: hash, expiresAt });
      // Two requests racing with the same token: one rotates, the other is a reuse.
      const results = await Promise.all([
        access.rotateRefreshToken(first.hash, new Date(), next(second.hash)),
        other.rotateRefreshToken(first.hash, new Date(), next(third.hash)),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["reused", "rotated"]);
      // The reuse revoked the family: the token the winner got is dead too.
      const winner = results[0]?.status === "rotated" ? second : third;
      expect(
        (await access.rotateRefreshToken(winner.hash, new Date(), next(newSecretToken(TOKEN_PREFIX.refresh).hash)))
          .status,
      ).toBe("revoked");
      const state = await access.userState(user.id, new Date(), 60_000);
      expect(state.revokedSessions.has(familyId)).toBe(true);
      expect((await access.rotateRefreshToken(hashSecretToken("ara_rt_nope"), new Date(), next("x"))).status).toBe(
        "unknown",
      );
    });

    test("an expired refresh token is refused as expired, not rotated", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: `e-${Date.now()}@example.com`, name: "E", passwordHash: "h" },
        orgId,
        "member",
        new Date(),
      );
      const t = newSecretToken(TOKEN_PREFIX.refresh);
      const past = new Date(Date.now() - 1000);
      await access.insertRefreshToken(
        { familyId: newId.session(), userId: user.id, orgId, tokenHash: t.hash, expiresAt: past },
        new Date(Date.now() - 2000),
      );
      const result = await access.rotateRefreshToken(t.hash, new Date(), { tokenHash: "y", expiresAt: past });
      expect(result.status).toBe("expired");
    });

    test("a password change ends every session of the account", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: `p-${Date.now()}@example.com`, name: "P", passwordHash: "old" },
        orgId,
        "member",
        new Date(),
      );
      const families = [newId.session(), newId.session()];
      for (const familyId of families) {
        await access.insertRefreshToken(
          {
            familyId,
            userId: user.id,
            orgId,
            tokenHash: newSecretToken(TOKEN_PREFIX.refresh).hash,
            expiresAt: new Date(Date.now() + 60_000),
          },
          new Date(),
        );
      }
      await access.setPassword(user.id, "new", new Date());
      expect((await access.user(user.id))?.passwordHash).toBe("new");
      expect([...(await access.userState(user.id, new Date(), 60_000)).revokedSessions].sort()).toEqual(
        families.sort(),
      );
    });

    test("a reset token works once and only before it expires", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: `x-${Date.now()}@example.com`, name: "X", passwordHash: "h" },
        orgId,
        "member",
        new Date(),
      );
      const live = newSecretToken("ara_reset_");
      const old = newSecretToken("ara_reset_");
      const now = new Date();
      await access.insertPasswordReset(user.id, live.hash, now, new Date(now.getTime() + 60_000));
      await access.insertPasswordReset(
        user.id,
        old.hash,
        new Date(now.getTime() - 7_200_000),
        new Date(now.getTime() - 3_600_000),
      );
      const taken = await Promise.all([
        access.takePasswordReset(live.hash, now),
        other.takePasswordReset(live.hash, now),
      ]);
      expect(taken.filter((t) => t !== undefined)).toEqual([user.id]);
      expect(await access.takePasswordReset(old.hash, now)).toBeUndefined();
    });

    test("API keys: found by hash with their workspace, listed while live, revoked only in their organisation", async () => {
      const { orgId, workspaceId } = await access.ensureFirstOrganisation(new Date());
      const secret = newSecretToken(TOKEN_PREFIX.apiKey);
      const id = newId.apiKey();
      await access.insertApiKey({
        id,
        orgId,
        createdBy: null,
        name: "ci",
        prefix: secret.token.slice(0, 13),
        lastFour: secret.lastFour,
        keyHash: secret.hash,
        role: "member",
        scopes: "[]",
        kind: "user",
        createdAt: new Date(),
        lastUsedAt: null,
        revokedAt: null,
      });
      const found = await access.apiKeyByHash(secret.hash);
      expect(found?.key.id).toBe(id);
      expect(found?.workspaceId).toBe(workspaceId);
      expect((await access.listApiKeys(orgId)).map((k) => k.id)).toContain(id);
      expect(await access.revokeApiKey(id, "o-someone-else", new Date())).toBeUndefined();
      const at = new Date(1_900_000_000_000);
      await access.touchApiKey(id, at);
      expect((await access.apiKeyByHash(secret.hash))?.key.lastUsedAt?.getTime()).toBe(at.getTime());
      expect(await access.revokeApiKey(id, orgId, new Date())).toBe(secret.hash);
      expect(await access.revokeApiKey(id, orgId, new Date())).toBeUndefined();
      expect((await access.listApiKeys(orgId)).map((k) => k.id)).not.toContain(id);
      expect((await access.apiKeyByHash(secret.hash))?.key.revokedAt).toBeInstanceOf(Date);
    });

    test("a WebSocket ticket is taken once, and not after it expires", async () => {
      const t = newSecretToken("ara_wst_");
      const now = new Date();
      await access.insertWsTicket(t.hash, '{"p":1}', now, new Date(now.getTime() + 30_000));
      const taken = await Promise.all([access.takeWsTicket(t.hash, now), other.takeWsTicket(t.hash, now)]);
      expect(taken.filter((x) => x !== undefined)).toEqual(['{"p":1}']);
      const late = newSecretToken("ara_wst_");
      await access.insertWsTicket(late.hash, "{}", now, new Date(now.getTime() + 30_000));
      expect(await access.takeWsTicket(late.hash, new Date(now.getTime() + 31_000))).toBeUndefined();
    });

    test("deleting an account ends its sessions and is reported once", async () => {
      const { orgId } = await access.ensureFirstOrganisation(new Date());
      const user = await access.createUser(
        { email: `d-${Date.now()}@example.com`, name: "D", passwordHash: "h" },
        orgId,
        "member",
        new Date(),
      );
      const familyId = newId.session();
      await access.insertRefreshToken(
        {
          familyId,
          userId: user.id,
          orgId,
          tokenHash: newSecretToken(TOKEN_PREFIX.refresh).hash,
          expiresAt: new Date(Date.now() + 60_000),
        },
        new Date(),
      );
      expect(await access.deleteUser(user.id, new Date())).toBe(true);
      expect(await access.deleteUser(user.id, new Date())).toBe(false);
      const state = await access.userState(user.id, new Date(), 60_000);
      expect(state.user?.deletedAt).toBeInstanceOf(Date);
      expect(state.revokedSessions.has(familyId)).toBe(true);
    });
  });
}

let dir: TempDir;
suite("access store on SQLite", async () => {
  dir = tempDataDir();
  return openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
});
afterAll(() => dir?.remove());

const pg = await postgresAvailable();
let db: TempDatabase | undefined;
if (pg) {
  suite("access store on PostgreSQL", async () => {
    db = await createTempPostgresDatabase();
    return openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
  });
  afterAll(async () => db?.drop());
}
