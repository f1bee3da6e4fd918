/**
 * The cost of field encryption (`bun bench/crypto.ts`, `--json` for one object): encrypting and
 * decrypting a 200-byte field with runtime/security/field-cipher.ts (envelope, AAD binding, key
 * lookup, base64url) timed call by call as p99, beside bare node:crypto AES-256-GCM over the same
 * bytes with the same key in the same run. Goal: p99 at most 20 microseconds each.
 *
 * Then `aragora encrypt-existing --all --execute` (the CLI, as an operator runs it) over 100,000
 * TOTP secrets on SQLite (users and their authenticators seeded, 90% on the old key, 10% stored
 * before encryption), as records per second of its own run (its summary's figure: process start and
 * store opening left out), beside a bare loop over a copy of the same rows: bun:sqlite prepared
 * statements reading 500 rows, decrypting and encrypting each with the field cipher, and writing
 * them in one transaction per batch (no store contract, compare-and-set, metrics or journal). Goal:
 * at least 20,000 records/s. `--quick` skips it.
 *
 * Benchmarks are measurements, not tests: nothing here fails CI.
 */
import { Database } from "bun:sqlite";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { loadConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { generateKeyHex, parseKeyList } from "../runtime/security/encryption-keys.ts";
import { decryptField, encryptField, type FieldRef, openText, sealText } from "../runtime/security/field-cipher.ts";
import { openStore } from "../runtime/store/index.ts";
import { p99Micros } from "./call-timing.ts";
import { type BenchResult, printResults } from "./result.ts";

const ring = parseKeyList(`${generateKeyHex()},${generateKeyHex()}`, "bench");
const key = ring.active.key;
const field = randomBytes(150).toString("base64").slice(0, 200);
const ref: FieldRef = { table: "provider_keys", id: "pk_0123456789", field: "secret" };
const results: BenchResult[] = [];
const quietLog = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

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

if (!process.argv.includes("--quick")) results.push(...(await migrationRows()));

printResults(results, process.argv.includes("--json"));

/** The migration's figures: the utility's records/s beside the bare loop's, and its wall time. */
async function migrationRows(): Promise<BenchResult[]> {
  const N = 100_000;
  const BATCH = 500;
  const hexOld = generateKeyHex();
  const hexNew = generateKeyHex();
  const oldRing = parseKeyList(hexOld, "old");
  const bothRings = parseKeyList(`${hexNew},${hexOld}`, "new,old");
  const newRing = parseKeyList(hexNew, "new");
  const dir = mkdtempSync(join(tmpdir(), "aragora-bench-crypto-"));
  const bareDir = join(dir, "bare");
  mkdirSync(bareDir);
  try {
    // The schema as a server makes it, then the rows straight into it.
    const store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir }), quietLog);
    await store.close();
    const db = new Database(join(dir, "core.db"));
    const now = Date.now();
    const addUser = db.prepare(
      "INSERT INTO users (id, email, name, password_hash, is_operator, created_at) VALUES (?, ?, 'Seeded', NULL, 0, ?)",
    );
    const addTotp = db.prepare(
      "INSERT INTO mfa_totp (user_id, secret, created_at, enabled_at, last_step) VALUES (?, ?, ?, ?, NULL)",
    );
    db.transaction(() => {
      for (let i = 0; i < N; i++) {
        const id = `u-${Bun.randomUUIDv7()}`;
        const secret = randomBytes(20).toString("base64").slice(0, 32);
        const stored = i % 10 === 0 ? secret : sealText(oldRing, secret, { table: "mfa_totp", id, field: "secret" });
        addUser.run(id, `${id}@example.com`, now);
        addTotp.run(id, stored, now, now);
      }
    })();
    db.run(`VACUUM INTO '${join(bareDir, "core.db")}'`);
    db.close();

    // The utility, as the operator runs it.
    const started = performance.now();
    const cli = Bun.spawnSync(
      [process.execPath, join(import.meta.dir, "../app/cli.ts"), "encrypt-existing", "--all", "--execute", "--json"],
      {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          ARAGORA_DATA_DIR: dir,
          ARAGORA_ENCRYPTION_KEY: `${hexNew},${hexOld}`,
          ARAGORA_LOG_LEVEL: "WARNING",
        },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    const wallSeconds = (performance.now() - started) / 1000;
    if (cli.exitCode !== 0) throw new Error(`encrypt-existing failed (${cli.exitCode}): ${cli.stderr.toString()}`);
    const summary = JSON.parse(cli.stdout.toString()) as { records: number; records_per_second: number };
    if (summary.records !== N) throw new Error(`encrypt-existing went over ${summary.records} records, not ${N}`);
    checkAllOn(join(dir, "core.db"), newRing, N);

    // The floor: the same rows, read, re-encrypted and written by a bare loop.
    const bare = new Database(join(bareDir, "core.db"));
    bare.run("PRAGMA journal_mode = WAL");
    bare.run("PRAGMA synchronous = NORMAL");
    const page = bare.prepare<{ user_id: string; secret: string }, [string]>(
      `SELECT user_id, secret FROM mfa_totp WHERE user_id > ? ORDER BY user_id LIMIT ${BATCH}`,
    );
    const update = bare.prepare("UPDATE mfa_totp SET secret = ? WHERE user_id = ?");
    const bareStart = performance.now();
    let done = 0;
    for (let after = ""; ; ) {
      const rows = page.all(after);
      if (rows.length === 0) break;
      const next = rows.map((r) => {
        const ref = { table: "mfa_totp", id: r.user_id, field: "secret" };
        return [sealText(bothRings, openText(bothRings, r.secret, ref), ref), r.user_id] as const;
      });
      bare.transaction(() => {
        for (const [secret, id] of next) update.run(secret, id);
      })();
      done += rows.length;
      after = (rows[rows.length - 1] as { user_id: string }).user_id;
    }
    const bareRate = done / ((performance.now() - bareStart) / 1000);
    bare.close();
    checkAllOn(join(bareDir, "core.db"), newRing, N);

    return [
      {
        name: "encrypt_existing_100k",
        value: summary.records_per_second,
        unit: "records/s",
        floor: bareRate,
        ratio: summary.records_per_second / bareRate,
        goal: ">= 20,000/s",
        pass: summary.records_per_second >= 20_000,
      },
      { name: "encrypt_existing_100k_wall", value: wallSeconds, unit: "s" },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every row of `path` opens with `ring` alone (the migration did its work, once). */
function checkAllOn(path: string, ring: ReturnType<typeof parseKeyList>, expected: number): void {
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.query<{ user_id: string; secret: string }, []>("SELECT user_id, secret FROM mfa_totp").all();
    if (rows.length !== expected) throw new Error(`${path}: ${rows.length} rows, not ${expected}`);
    for (const r of rows) {
      const plain = openText(ring, r.secret, { table: "mfa_totp", id: r.user_id, field: "secret" });
      if (plain.startsWith("{")) throw new Error(`${path}: ${r.user_id} was encrypted twice`);
    }
  } finally {
    db.close();
  }
}
