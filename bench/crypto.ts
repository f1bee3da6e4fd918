/**
 * The cost of field encryption (`bun bench/crypto.ts`, `--json` for one object): encrypting and
 * decrypting a 200-byte field with runtime/security/field-cipher.ts (envelope, AAD binding, key
 * lookup, base64url) timed call by call as p99, beside bare node:crypto AES-256-GCM over the same
 * bytes with the same key in the same run. Goal: p99 at most 20 microseconds each.
 *
 * Benchmarks are measurements, not tests: nothing here fails CI.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { generateKeyHex, parseKeyList } from "../runtime/security/encryption-keys.ts";
import { decryptField, encryptField, type FieldRef } from "../runtime/security/field-cipher.ts";
import { p99Micros } from "./call-timing.ts";
import { type BenchResult, printResults } from "./result.ts";

const ring = parseKeyList(`${generateKeyHex()},${generateKeyHex()}`, "bench");
const key = ring.active.key;
const field = randomBytes(150).toString("base64").slice(0, 200);
const ref: FieldRef = { table: "provider_keys", id: "pk_0123456789", field: "secret" };
const results: BenchResult[] = [];

{
  const bare = p99Micros(() => {
    const iv = randomBytes(12);
    const c = createCipheriv("aes-256-gcm", key, iv);
    return Buffer.concat([c.update(field, "utf8"), c.final(), c.getAuthTag()]);
  });
  const value = p99Micros(() => encryptField(ring, field, ref));
  results.push({
    name: "field_encrypt_200B_p99",
    value,
    unit: "us",
    floor: bare,
    ratio: value / bare,
    goal: "<= 20 us",
    pass: value <= 20,
  });
}

{
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  const body = Buffer.concat([c.update(field, "utf8"), c.final()]);
  const tag = c.getAuthTag();
  const bare = p99Micros(() => {
    const d = createDecipheriv("aes-256-gcm", key, iv);
    d.setAuthTag(tag);
    return Buffer.concat([d.update(body), d.final()]).toString("utf8");
  });
  const sealed = encryptField(ring, field, ref);
  const value = p99Micros(() => decryptField(ring, sealed, ref));
  if (decryptField(ring, sealed, ref) !== field) throw new Error("the bench field did not round-trip");
  results.push({
    name: "field_decrypt_200B_p99",
    value,
    unit: "us",
    floor: bare,
    ratio: value / bare,
    goal: "<= 20 us",
    pass: value <= 20,
  });
}

printResults(results, process.argv.includes("--json"));
