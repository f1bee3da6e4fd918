/**
 * Pending OAuth sign-ins on a real store (SQLite; PostgreSQL too when it runs): handed out once,
 * only to the browser that started them and for their provider, expiring, bounded, shared by every
 * connection (as by every node), the PKCE verifier sealed at rest.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { encryptExisting } from "../../runtime/security/encrypt-existing.ts";
import { generateKeyHex, keyFromHex, ringOf } from "../../runtime/security/encryption-keys.ts";
import { keyIdOfSealedText } from "../../runtime/security/field-cipher.ts";
import { fieldSealer } from "../../runtime/security/field-sealer.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../../tests/support/services.ts";
import {
  oauthPendingEncryptedStore,
  openPendingStore,
  type PendingAuthorization,
  type PendingStoreOptions,
  pendingTables,
} from "./pending-store.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const ring = ringOf([keyFromHex(generateKeyHex())], "test");
const sealer = fieldSealer(() => ring);

function flow(state: string): PendingAuthorization {
  return { state, codeVerifier: `verifier-${state}`, nonce: `nonce-${state}`, returnTo: `/after/${state}` };
}

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
  };
}

function suite(name: string, open: () => Promise<Store>) {
  describe(name, () => {
    let store: Store;
    /** Each test gets its own states (one table holds them all). */
    let n = 0;
    const s = (label: string) => `${label}-${n}`;
    const pendingWith = (options: PendingStoreOptions = {}) => openPendingStore(store, sealer, options);
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });
    const fresh = async () => {
      n++;
      const raw = await store.openRepo(pendingTables, { name: "clear" });
      await raw.write((db) => db.delete(raw.tables.oauthPending));
      await raw.close();
    };

    test("handed back once, for its provider, with the browser's matching state; the verifier sealed at rest", async () => {
      await fresh();
      const pending = await pendingWith();
      await pending.put("google", flow(s("a")));
      const raw = await store.openRepo(pendingTables, { name: "raw" });
      const [row] = await raw.read((db) => db.select().from(raw.tables.oauthPending));
      await raw.close();
      expect(row?.codeVerifier).toStartWith('{"_encrypted":true');
      expect(JSON.stringify(row)).not.toContain(`verifier-${s("a")}`);
      expect(JSON.stringify(row)).not.toContain(`"${s("a")}"`);
      expect(await pending.take("google", s("a"), s("a"))).toEqual(flow(s("a")));
      expect(await pending.take("google", s("a"), s("a"))).toBeUndefined();
      expect(await pending.size()).toBe(0);
      await pending.close();
    });

    test("the sealed verifiers are a store with encrypted fields: counted per key, re-encrypted, still taken after", async () => {
      await fresh();
      const pending = await pendingWith();
      await pending.put("google", flow(s("r")));
      const verifiers = await oauthPendingEncryptedStore(store);
      try {
        const [field] = await verifiers.scan(null, 10);
        expect(verifiers.name).toBe("oauth_pending");
        expect(keyIdOfSealedText(field?.stored ?? "")).toBe(ring.active.id);
        // A rotation: the new key in front, every verifier re-encrypted with it.
        const next = ringOf([keyFromHex(generateKeyHex()), ring.active], "rotated");
        const summary = await encryptExisting([verifiers], { sealer: fieldSealer(() => next), execute: true });
        expect(summary.stores[0]?.counts.reencrypted).toBe(1);
        const [after] = await verifiers.scan(null, 10);
        expect(keyIdOfSealedText(after?.stored ?? "")).toBe(next.active.id);
        const rotated = await openPendingStore(
          store,
          fieldSealer(() => next),
        );
        expect(await rotated.take("google", s("r"), s("r"))).toEqual(flow(s("r")));
        await rotated.close();
      } finally {
        await verifiers.close();
        await pending.close();
      }
    });

    test("any connection takes what another put (the callback may reach another node); racing takes: one wins", async () => {
      await fresh();
      const [a, b] = [await pendingWith(), await pendingWith()];
      await a.put("oidc", flow(s("x")));
      const taken = await Promise.all([a.take("oidc", s("x"), s("x")), b.take("oidc", s("x"), s("x"))]);
      expect(taken.filter((t) => t !== undefined)).toEqual([flow(s("x"))]);
      await Promise.all([a.close(), b.close()]);
    });

    test("an unknown, missing or empty state finds nothing", async () => {
      await fresh();
      const pending = await pendingWith();
      await pending.put("google", flow(s("a")));
      expect(await pending.take("google", s("b"), s("b"))).toBeUndefined();
      expect(await pending.take("google", null, s("a"))).toBeUndefined();
      expect(await pending.take("google", undefined, undefined)).toBeUndefined();
      expect(await pending.take("google", "", "")).toBeUndefined();
      expect(await pending.size()).toBe(1);
      await pending.close();
    });

    test("a callback without the browser's cookie, or with another state in it, is refused and uses the entry up", async () => {
      await fresh();
      const pending = await pendingWith();
      await pending.put("google", flow(s("attacker")));
      await pending.put("google", flow(s("victim")));
      // The attacker's callback link opened in the victim's browser: the victim's cookie holds "victim".
      expect(await pending.take("google", s("attacker"), s("victim"))).toBeUndefined();
      expect(await pending.take("google", s("attacker"), s("attacker"))).toBeUndefined();
      await pending.put("google", flow(s("third")));
      expect(await pending.take("google", s("third"), undefined)).toBeUndefined();
      expect(await pending.take("google", s("third"), s("third"))).toBeUndefined();
      expect(await pending.take("google", s("victim"), s("victim"))).toEqual(flow(s("victim")));
      await pending.close();
    });

    test("a sign-in started for one provider does not complete on another's callback", async () => {
      await fresh();
      const pending = await pendingWith();
      await pending.put("google", flow(s("a")));
      expect(await pending.take("oidc", s("a"), s("a"))).toBeUndefined();
      expect(await pending.take("google", s("a"), s("a"))).toBeUndefined();
      await pending.close();
    });

    test("a sign-in expires after the TTL (10 minutes by default); expired ones are swept as new ones arrive", async () => {
      await fresh();
      const clock = manualClock(Date.now());
      const pending = await pendingWith({ now: clock.now });
      await pending.put("google", flow(s("a")));
      await pending.put("google", flow(s("b")));
      clock.advance(600_000 - 1);
      expect(await pending.take("google", s("a"), s("a"))).toEqual(flow(s("a")));
      clock.advance(1);
      expect(await pending.take("google", s("b"), s("b"))).toBeUndefined();
      await pending.put("google", flow(s("c")));
      await pending.put("google", flow(s("d")));
      clock.advance(600_000);
      await pending.put("google", flow(s("e")));
      expect(await pending.size()).toBe(1);
      await pending.close();
    });

    test("bounded: past maxEntries the sign-ins that would expire first go", async () => {
      await fresh();
      const clock = manualClock(Date.now());
      const pending = await pendingWith({ maxEntries: 3, now: clock.now });
      for (const state of ["a", "b", "c", "d"]) {
        await pending.put("google", flow(s(state)));
        clock.advance(1);
      }
      expect(await pending.size()).toBe(3);
      expect(await pending.take("google", s("a"), s("a"))).toBeUndefined();
      for (const state of ["b", "c", "d"])
        expect(await pending.take("google", s(state), s(state))).toEqual(flow(s(state)));
      await pending.close();
    });

    test("nonsense limits are refused", async () => {
      await expect(pendingWith({ ttlMs: 0 })).rejects.toThrow(TypeError);
      await expect(pendingWith({ maxEntries: 0 })).rejects.toThrow(TypeError);
      await expect(pendingWith({ maxEntries: 1.5 })).rejects.toThrow(TypeError);
    });
  });
}

let dir: TempDir;
suite("pending sign-ins on SQLite", async () => {
  dir = tempDataDir();
  return openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
});
afterAll(() => dir?.remove());

let db: TempDatabase | undefined;
if (await postgresAvailable()) {
  suite("pending sign-ins on PostgreSQL", async () => {
    db = await createTempPostgresDatabase();
    return openStore(loadConfig({ DATABASE_URL: db.url }), quiet);
  });
  afterAll(async () => db?.drop());
}
