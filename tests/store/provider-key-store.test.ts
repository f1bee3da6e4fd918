/**
 * The provider key store on a real store, SQLite and PostgreSQL alike: a key is sealed before it
 * is written (the column holds an `_encrypted` envelope, and the plaintext is nowhere in the
 * database) and opens back; a sealed key copied to another organisation's or provider's row does
 * not open; every read and removal is scoped to its organisation; without an encryption key the
 * plaintext is stored (what `aragora keys verify` counts). And the EncryptedStore contract the key
 * commands rely on: the scan pages through every key once, in id order, and replace writes only
 * while the stored value is still the one read, refusing (false) when an owner set the key meanwhile.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import postgres from "postgres";
import {
  openProviderKeyStore,
  type ProviderKeyStore,
  providerKeyId,
  providerKeysEncryptedStore,
} from "../../actors/agent/provider-key-store.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import type { EncryptedStore } from "../../runtime/security/encrypted-store.ts";
import { generateKeyHex, parseKeyList } from "../../runtime/security/encryption-keys.ts";
import { keyIdOfSealedText, sealText, TamperedFieldError } from "../../runtime/security/field-cipher.ts";
import { fieldSealer } from "../../runtime/security/field-sealer.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const OLD_HEX = generateKeyHex();
const OLD = parseKeyList(OLD_HEX, "test");
/** A new key in front of the old one, as a rotation configures them. */
const ROTATED = parseKeyList(`${generateKeyHex()},${OLD_HEX}`, "test");
const T0 = new Date(1_900_000_000_000);

interface Place {
  env: Record<string, string>;
  /** Every stored `secret` value, as the database holds it. */
  rawSecrets(): Promise<{ id: string; secret: string }[]>;
  /** The database's files as bytes (SQLite), for a search of the plaintext; none on PostgreSQL. */
  files(): Buffer[];
}

function suite(place: () => Place) {
  let core: Store;
  let keys: ProviderKeyStore;
  /** The same table as the key commands see it. */
  let sealed: EncryptedStore & { close(): Promise<void> };
  let ring = OLD;
  beforeAll(async () => {
    const config = loadConfig(place().env);
    core = await openStore(config, quiet);
    keys = await openProviderKeyStore(
      core,
      fieldSealer(() => ring),
    );
    sealed = await providerKeysEncryptedStore(core);
  });
  afterAll(async () => {
    await keys?.close();
    await sealed?.close();
    await core?.close();
  });

  test("a key is sealed before it is written and opens back; the plaintext is nowhere in the database", async () => {
    const plaintext = "sk-acme-openai-plaintext-key-0001";
    const set = await keys.put("o-acme", "openai", plaintext, "u-owner", T0);
    expect(set.replaced).toBe(false);
    expect(set.row).toMatchObject({ id: "o-acme/openai", orgId: "o-acme", provider: "openai", lastFour: "0001" });
    expect(set.row.createdAt.getTime()).toBe(T0.getTime());
    const stored = (await place().rawSecrets()).find((r) => r.id === "o-acme/openai");
    expect(stored?.secret.startsWith('{"_encrypted":true')).toBe(true);
    expect(stored?.secret).not.toContain(plaintext);
    expect(keyIdOfSealedText(stored?.secret as string)).toBe(OLD.active.id);
    for (const file of place().files()) expect(file.includes(plaintext)).toBe(false);
    const [row] = await keys.list("o-acme");
    expect(keys.secretOf(row as never)).toBe(plaintext);
  });

  test("setting it again replaces it, keeping when it was first set", async () => {
    const later = new Date(T0.getTime() + 60_000);
    const again = await keys.put("o-acme", "openai", "sk-acme-openai-second-key-0002", "u-admin", later);
    expect(again.replaced).toBe(true);
    expect(again.row).toMatchObject({ lastFour: "0002", createdBy: "u-owner", updatedBy: "u-admin" });
    expect(again.row.createdAt.getTime()).toBe(T0.getTime());
    expect(again.row.updatedAt.getTime()).toBe(later.getTime());
    expect(keys.secretOf(again.row)).toBe("sk-acme-openai-second-key-0002");
  });

  test("a sealed key copied to another organisation's or provider's row does not open", async () => {
    const [acme] = await keys.list("o-acme");
    expect(() => keys.secretOf({ id: providerKeyId("o-evil", "openai"), secret: acme?.secret as string })).toThrow(
      TamperedFieldError,
    );
    expect(() => keys.secretOf({ id: providerKeyId("o-acme", "anthropic"), secret: acme?.secret as string })).toThrow(
      TamperedFieldError,
    );
  });

  test("reads and removals are scoped to the organisation", async () => {
    await keys.put("o-umbrella", "anthropic", "sk-ant-umbrella-key-0003", "u-u", T0);
    expect((await keys.list("o-acme")).map((r) => r.provider)).toEqual(["openai"]);
    expect((await keys.list("o-umbrella")).map((r) => r.provider)).toEqual(["anthropic"]);
    expect(await keys.remove("o-acme", "anthropic")).toBeUndefined();
    expect(await keys.list("o-umbrella")).toHaveLength(1);
    expect((await keys.remove("o-umbrella", "anthropic"))?.lastFour).toBe("0003");
    expect(await keys.list("o-umbrella")).toHaveLength(0);
  });

  test("the scan pages through every key once, in id order", async () => {
    expect(sealed.name).toBe("provider_keys");
    expect(sealed.description).toBe("organisations' provider keys");
    for (const org of ["o-b", "o-a", "o-c"]) {
      for (const provider of ["xai", "gemini", "mistral"])
        await keys.put(org, provider, `sk-${org}-${provider}-00`, "u", T0);
    }
    // The database's order of ids (PostgreSQL's collation may order "/" unlike SQLite's bytes).
    const all = (await sealed.scan(null, 1000)).map((f) => f.id);
    expect(new Set(all)).toEqual(
      new Set([
        "o-acme/openai",
        ...["o-a", "o-b", "o-c"].flatMap((o) => ["gemini", "mistral", "xai"].map((p) => `${o}/${p}`)),
      ]),
    );
    const paged: string[] = [];
    for (let after: string | null = null; ; ) {
      const batch = await sealed.scan(after, 4);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(4);
      for (const f of batch) {
        expect(f.ref).toEqual({ table: "provider_keys", id: f.id, field: "secret" });
        expect(f.stored.startsWith('{"_encrypted":true')).toBe(true);
      }
      paged.push(...batch.map((f) => f.id));
      after = batch.at(-1)?.id ?? null;
    }
    expect(paged).toEqual(all);
    expect(paged).toHaveLength(10);
    expect(await sealed.scan(all.at(-1) as string, 4)).toEqual([]);
  });

  test("replace re-encrypts under the new key, but never over a key set meanwhile", async () => {
    const both = ROTATED;
    const fields = await sealed.scan(null, 1000);
    const a = fields.find((f) => f.id === "o-a/gemini");
    const b = fields.find((f) => f.id === "o-b/gemini");
    if (a === undefined || b === undefined) throw new Error("the scan lost a key");
    // A server sets o-b's key after the migration read it.
    await keys.put("o-b", "gemini", "sk-o-b-gemini-set-meanwhile", "u", T0);
    const reseal = (f: typeof a) => ({
      ref: f.ref,
      previous: f.stored,
      next: sealText(both, keys.secretOf({ id: f.id, secret: f.stored }), f.ref),
    });
    expect(await sealed.replace([reseal(a), reseal(b)])).toEqual([true, false]);
    const after = new Map((await sealed.scan(null, 1000)).map((f) => [f.id, f.stored]));
    expect(keyIdOfSealedText(after.get("o-a/gemini") as string)).toBe(ROTATED.active.id);
    // The key set meanwhile stands, as it was written.
    expect(keyIdOfSealedText(after.get("o-b/gemini") as string)).toBe(OLD.active.id);
    ring = both;
    expect(keys.secretOf({ id: "o-a/gemini", secret: after.get("o-a/gemini") as string })).toBe("sk-o-a-gemini-00");
    expect(keys.secretOf({ id: "o-b/gemini", secret: after.get("o-b/gemini") as string })).toBe(
      "sk-o-b-gemini-set-meanwhile",
    );
    // Removed meanwhile: nothing is written back.
    const c = (await sealed.scan(null, 1000)).find((f) => f.id === "o-c/gemini");
    await keys.remove("o-c", "gemini");
    expect(await sealed.replace([reseal(c as typeof a)])).toEqual([false]);
    expect((await keys.list("o-c")).map((r) => r.provider)).toEqual(["mistral", "xai"]);
    ring = OLD;
  });

  test("replace refuses a field of another store, and an empty batch writes nothing", async () => {
    await expect(
      sealed.replace([{ ref: { table: "mfa_totp", id: "o-a/xai", field: "secret" }, previous: "x", next: "y" }]),
    ).rejects.toThrow("is not a field of the provider_keys store");
    expect(await sealed.replace([])).toEqual([]);
  });

  test("without an encryption key the plaintext is stored, and read back as it is", async () => {
    const plain = await openProviderKeyStore(
      core,
      fieldSealer(() => undefined),
    );
    try {
      await plain.put("o-plain", "xai", "xai-plaintext-key-0004", "u", T0);
      const stored = (await place().rawSecrets()).find((r) => r.id === "o-plain/xai");
      expect(stored?.secret).toBe("xai-plaintext-key-0004");
      expect(keyIdOfSealedText(stored?.secret as string)).toBeNull();
      expect((await sealed.scan("o-plain/", 10))[0]?.stored).toBe("xai-plaintext-key-0004");
      const [row] = await plain.list("o-plain");
      expect(plain.secretOf(row as never)).toBe("xai-plaintext-key-0004");
      // A sealed key needs a configured key: the error names the key id, never garbage.
      const [acme] = await plain.list("o-acme");
      expect(() => plain.secretOf(acme as never)).toThrow(OLD.active.id);
    } finally {
      await plain.close();
    }
  });
}

describe("the provider key store on SQLite", () => {
  const dir = tempDataDir();
  afterAll(() => dir.remove());
  const db = join(dir.path, "core.db");
  suite(() => ({
    env: { ARAGORA_DATA_DIR: dir.path },
    async rawSecrets() {
      // Read through SQLite, as another process would (the file is open in this process's store too).
      const sqlite = new Database(db, { readonly: true });
      try {
        return sqlite.query("SELECT id, secret FROM provider_keys ORDER BY id").all() as {
          id: string;
          secret: string;
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

describe.skipIf(!pg)("the provider key store on PostgreSQL", () => {
  let temp: TempDatabase;
  let url = "";
  beforeAll(async () => {
    temp = await createTempPostgresDatabase();
    url = temp.url;
  });
  afterAll(() => temp?.drop());
  suite(() => ({
    env: { DATABASE_URL: url },
    async rawSecrets() {
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        return (await sql`SELECT id, secret FROM provider_keys ORDER BY id`) as unknown as {
          id: string;
          secret: string;
        }[];
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
    files: () => [],
  }));
});
