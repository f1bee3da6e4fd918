/**
 * The keys' report counts records per key id without decrypting, marks keys that are not
 * configured (the report is then not ok) and never carries key material.
 */
import { describe, expect, test } from "bun:test";
import type { EncryptedStore, StoredField } from "./encrypted-store.ts";
import { generateKeyHex, keyFromHex, ringOf } from "./encryption-keys.ts";
import { sealText } from "./field-cipher.ts";
import { buildKeysReport, keysReportText } from "./keys-report.ts";

const hexA = generateKeyHex();
const hexB = generateKeyHex();
const hexLost = generateKeyHex();
const [a, b, lost] = [keyFromHex(hexA), keyFromHex(hexB), keyFromHex(hexLost)];

/** A store of `values` (ids in order), paged as a real one is. */
function storeOf(name: string, values: string[]): Pick<EncryptedStore, "name" | "description" | "scan"> {
  const fields: StoredField[] = values.map((stored, i) => {
    const id = `r${String(i).padStart(5, "0")}`;
    return { id, ref: { table: name, id, field: "secret" }, stored };
  });
  return {
    name,
    description: `${name} secrets`,
    async scan(after, limit) {
      return fields.filter((f) => after === null || f.id > after).slice(0, limit);
    },
  };
}

const sealedWith = (key: typeof a, n: number) =>
  Array.from({ length: n }, (_, i) =>
    sealText(ringOf([key], "t"), `secret-${i}`, { table: "t", id: `${i}`, field: "secret" }),
  );

describe("buildKeysReport", () => {
  test("counts per key id and in plaintext across pages; every key configured: ok", async () => {
    const ring = ringOf([b, a], "B,A");
    const many = [...sealedWith(a, 1500), ...sealedWith(b, 700), "PLAINTEXTSECRET"];
    const report = await buildKeysReport(ring, [storeOf("big", many), storeOf("empty", [])]);
    expect(report).toMatchObject({
      configured: true,
      active_key_id: b.id,
      key_ids: [b.id, a.id],
      ok: true,
      problems: [],
    });
    expect(report.stores[0]).toEqual({
      name: "big",
      description: "big secrets",
      records: 2201,
      plaintext: 1,
      malformed: 0,
      by_key: [
        { key_id: a.id, records: 1500, configured: true, active: false },
        { key_id: b.id, records: 700, configured: true, active: true },
      ],
    });
    expect(report.stores[1]).toMatchObject({ name: "empty", records: 0, by_key: [] });
    const text = keysReportText(report);
    expect(text).toContain(`active key ${b.id}`);
    expect(text).toContain("ok: every record can be read");
  });

  test("a record on a key that is not configured, or malformed, makes it not ok, named; no key material anywhere", async () => {
    const ring = ringOf([b], "B");
    const report = await buildKeysReport(ring, [
      storeOf("s", [...sealedWith(lost, 2), ...sealedWith(b, 1), '{"_encrypted":true,"v":1}']),
    ]);
    expect(report.ok).toBe(false);
    expect(report.stores[0]?.malformed).toBe(1);
    expect(report.stores[0]?.by_key.find((k) => k.key_id === lost.id)).toEqual({
      key_id: lost.id,
      records: 2,
      configured: false,
      active: false,
    });
    expect(report.problems).toHaveLength(2);
    expect(report.problems[0]).toContain(lost.id);
    const text = keysReportText(report);
    expect(text).toContain("NOT CONFIGURED");
    expect(text).toContain(`PROBLEM: s: 2 records encrypted with key ${lost.id}`);
    for (const out of [text, JSON.stringify(report)]) {
      for (const hex of [hexA, hexB, hexLost]) expect(out.toLowerCase()).not.toContain(hex.toLowerCase());
    }
  });

  test("no key configured: says so; plaintext is not a problem", async () => {
    const report = await buildKeysReport(undefined, [storeOf("s", ["PLAIN1", "PLAIN2"])]);
    expect(report).toMatchObject({ configured: false, active_key_id: null, key_ids: [], ok: true });
    expect(report.stores[0]?.plaintext).toBe(2);
    expect(keysReportText(report)).toContain("NOT configured");
  });
});
