import { describe, expect, test } from "bun:test";
import { fingerprintOf, OrgKeyUnreadable, OrgProviderKeys } from "./org-provider-keys.ts";
import type { ProviderKeyRow } from "./provider-key-store.ts";

/** A store of rows by organisation whose reads and openings are counted; `sealed:` values open, others throw. */
function countingStore(rows: Record<string, { provider: string; secret: string }[]>) {
  const counts = { list: 0, open: 0 };
  let failing = false;
  let gate: Promise<void> | undefined;
  const store = {
    async list(orgId: string): Promise<ProviderKeyRow[]> {
      counts.list++;
      // What the database held when the read ran; its answer may arrive later (the gate).
      const read = rows[orgId] ?? [];
      if (gate) await gate;
      if (failing) throw new Error("the store cannot be read");
      return read.map((r) => ({
        id: `${orgId}/${r.provider}`,
        orgId,
        provider: r.provider,
        secret: r.secret,
        lastFour: r.secret.slice(-4),
        createdBy: "u",
        createdAt: new Date(0),
        updatedBy: "u",
        updatedAt: new Date(0),
      }));
    },
    secretOf(row: Pick<ProviderKeyRow, "id" | "secret">): string {
      counts.open++;
      if (!row.secret.startsWith("sealed:")) throw new Error(`Key not found: ${row.id} needs key kfeedface`);
      return row.secret.slice("sealed:".length);
    },
  };
  return {
    store,
    counts,
    fail: (on: boolean) => {
      failing = on;
    },
    hold: () => {
      let release!: () => void;
      gate = new Promise<void>((r) => {
        release = r;
      });
      return () => {
        gate = undefined;
        release();
      };
    },
  };
}

describe("an organisation's keys, briefly cached", () => {
  test("read once per TTL, each key opened once, on demand", async () => {
    let now = 0;
    const s = countingStore({ "o-1": [{ provider: "openai", secret: "sealed:sk-one" }] });
    const keys = new OrgProviderKeys(s.store, { ttlMs: 1000, now: () => now });
    expect(await keys.providers("o-1")).toEqual(new Set(["openai"]));
    expect(s.counts.open).toBe(0);
    const key = await keys.key("o-1", "openai");
    expect(key).toEqual({ secret: "sk-one", fingerprint: fingerprintOf("sk-one") });
    expect(await keys.key("o-1", "openai")).toBe(key as never);
    expect(await keys.key("o-1", "anthropic")).toBeUndefined();
    expect(s.counts).toEqual({ list: 1, open: 1 });
    now = 999;
    await keys.providers("o-1");
    expect(s.counts.list).toBe(1);
    now = 1000;
    await keys.key("o-1", "openai");
    expect(s.counts).toEqual({ list: 2, open: 2 });
    // Another organisation is read on its own.
    expect(await keys.providers("o-2")).toEqual(new Set());
    expect(s.counts.list).toBe(3);
  });

  test("forget reads again at once, and a load in flight when forgotten is not kept", async () => {
    const rows: Record<string, { provider: string; secret: string }[]> = { "o-1": [] };
    const s = countingStore(rows);
    const keys = new OrgProviderKeys(s.store, { ttlMs: 60_000, now: () => 0 });
    const release = s.hold();
    const old = keys.providers("o-1");
    // The key is set while the first read is in flight.
    rows["o-1"] = [{ provider: "mistral", secret: "sealed:m-key" }];
    keys.forget("o-1");
    release();
    expect(await old).toEqual(new Set());
    expect(await keys.providers("o-1")).toEqual(new Set(["mistral"]));
    expect(s.counts.list).toBe(2);
    rows["o-1"] = [];
    keys.forget("o-1");
    expect(await keys.key("o-1", "mistral")).toBeUndefined();
  });

  test("a key that does not open is OrgKeyUnreadable naming the provider and the key id", async () => {
    const s = countingStore({ "o-1": [{ provider: "xai", secret: '{"_encrypted":true}' }] });
    const keys = new OrgProviderKeys(s.store);
    const err = await keys.key("o-1", "xai").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrgKeyUnreadable);
    expect((err as Error).message).toBe(
      "the organisation's xai key cannot be decrypted: Key not found: o-1/xai needs key kfeedface",
    );
  });

  test("when a reload fails the keys read last stand; with none, the failure is the answer", async () => {
    let now = 0;
    const s = countingStore({ "o-1": [{ provider: "openai", secret: "sealed:sk-one" }] });
    const keys = new OrgProviderKeys(s.store, { ttlMs: 1000, now: () => now });
    await keys.providers("o-1");
    s.fail(true);
    now = 5000;
    expect((await keys.key("o-1", "openai"))?.secret).toBe("sk-one");
    await expect(keys.providers("o-2")).rejects.toThrow("the store cannot be read");
    s.fail(false);
    expect(await keys.providers("o-2")).toEqual(new Set());
  });
});
