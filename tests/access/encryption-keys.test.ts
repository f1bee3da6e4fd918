/**
 * Where the encryption keys come from and what happens when they are missing, through real server
 * processes and TOTP secrets (the first sealed field): the start refuses what it cannot use (exit
 * 2, never echoing a key), a development server makes and warns about a key of its own, production
 * refuses sealed data it has no key for, a key file is re-read on SIGHUP and on the operator's
 * request (a broken file keeps the keys in use), and a record whose key was removed or whose
 * ciphertext was altered answers 503 / 500 with a code that says so, never a bare 500.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyHex, keyFromHex, parseKeyFile } from "../../runtime/security/encryption-keys.ts";
import { runCli, type TestServer, tempDir } from "../support/server.ts";
import { audited, enrolMfa, metricValue, passwordStep, signInWithMfa, totpCode } from "./mfa-support.ts";
import {
  call,
  claimOwner,
  JWT_SECRET,
  noSecretsLogged,
  PASSWORD,
  type Session,
  seenSecrets,
  startAccessServer,
  userWithRole,
} from "./support.ts";

/** The stored TOTP secret of `userId`, read through SQLite as another process would. */
function storedSecret(dataDir: string, userId: string): string {
  const db = new Database(join(dataDir, "core.db"), { readonly: true });
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    const row = db.query("SELECT secret FROM mfa_totp WHERE user_id = ?").get(userId) as { secret: string } | null;
    if (row === null) throw new Error(`no TOTP secret stored for ${userId}`);
    return row.secret;
  } finally {
    db.close();
  }
}

/** Replaces the stored TOTP secret of `userId` (what someone with write access to the database could do). */
function overwriteSecret(dataDir: string, userId: string, stored: string): void {
  const db = new Database(join(dataDir, "core.db"));
  try {
    db.exec("PRAGMA busy_timeout = 5000");
    db.query("UPDATE mfa_totp SET secret = ? WHERE user_id = ?").run(stored, userId);
  } finally {
    db.close();
  }
}

/** The key id a stored value is sealed with (null: plaintext). */
function kidOf(stored: string): string | null {
  return stored.startsWith('{"_encrypted":true') ? (JSON.parse(stored) as { kid: string }).kid : null;
}

/** Writes a key file with `lines` and `mode`. */
function writeKeyFile(path: string, lines: string[], mode = 0o600): void {
  writeFileSync(path, `${lines.join("\n")}\n`, { mode });
  chmodSync(path, mode);
}

const serveEnv = (dataDir: string, env: Record<string, string>) => ({
  ARAGORA_DATA_DIR: dataDir,
  ARAGORA_API_PORT: "0",
  ARAGORA_WS_PORT: "0",
  ...env,
});

describe("a start that cannot use its keys stops with exit 2, never showing a key", () => {
  const good = generateKeyHex();
  const bad = `${generateKeyHex().slice(0, 63)}g`;

  test("a malformed ARAGORA_ENCRYPTION_KEY list", async () => {
    const { code, stderr, stdout } = await runCli(
      ["serve"],
      serveEnv(tempDir(), { ARAGORA_ENCRYPTION_KEY: `${good},${bad}` }),
    );
    expect(code).toBe(2);
    expect(stderr).toContain("ARAGORA_ENCRYPTION_KEY: entry 2 of 2 of ARAGORA_ENCRYPTION_KEY is not a key");
    expect(stderr).toContain("expected exactly 64 hex characters");
    expect(stderr + stdout).not.toContain(good.slice(0, 16));
    expect(stderr + stdout).not.toContain(bad.slice(0, 16));
  });

  test("a malformed key file: the variable, file:line and the expected form", async () => {
    const dir = tempDir();
    const path = join(dir, "keys");
    writeKeyFile(path, ["# the keys, newest first", good, bad]);
    const { code, stderr, stdout } = await runCli(["serve"], serveEnv(dir, { ARAGORA_ENCRYPTION_KEY_FILE: path }));
    expect(code).toBe(2);
    expect(stderr).toContain(`ARAGORA_ENCRYPTION_KEY_FILE: ${path}:3: is not a key: expected 64 hex characters`);
    expect(stderr).toContain("one key a line");
    expect(stdout).not.toContain("aragora listening");
    expect(stderr + stdout).not.toContain(good.slice(0, 16));
    expect(stderr + stdout).not.toContain(bad.slice(0, 16));
  });

  test("both variables set", async () => {
    const dir = tempDir();
    const path = join(dir, "keys");
    writeKeyFile(path, [good]);
    const { code, stderr, stdout } = await runCli(
      ["serve"],
      serveEnv(dir, { ARAGORA_ENCRYPTION_KEY: good, ARAGORA_ENCRYPTION_KEY_FILE: path }),
    );
    expect(code).toBe(2);
    expect(stderr).toContain("ARAGORA_ENCRYPTION_KEY and ARAGORA_ENCRYPTION_KEY_FILE: are both set");
    expect(stderr + stdout).not.toContain(good.slice(0, 16));
  });

  test("a key file other users can read (mode 0644)", async () => {
    const dir = tempDir();
    const path = join(dir, "keys");
    writeKeyFile(path, [good], 0o644);
    const { code, stderr, stdout } = await runCli(["serve"], serveEnv(dir, { ARAGORA_ENCRYPTION_KEY_FILE: path }));
    expect(code).toBe(2);
    expect(stderr).toContain(`ARAGORA_ENCRYPTION_KEY_FILE: ${path} is readable by other users (mode 0644)`);
    expect(stderr).toContain(`chmod 600 ${path}`);
    expect(stderr + stdout).not.toContain(good.slice(0, 16));
  });
});

describe("without a key", () => {
  const dataDir = tempDir();
  const devKeyPath = join(dataDir, "encryption.key");
  let devKeyId: string;
  let owner: Session;
  let secret: string;

  test("development on SQLite: a key of the server's own, 0600, warned about in the runbook's words", async () => {
    const server = await startAccessServer({ dataDir });
    try {
      expect(statSync(devKeyPath).mode & 0o777).toBe(0o600);
      devKeyId = parseKeyFile(readFileSync(devKeyPath, "utf8"), devKeyPath).active.id;
      const warning = await server.waitForLog((l) => String(l.msg).startsWith("Data will not be recoverable"));
      expect(warning.level).toBe("WARNING");
      expect(String(warning.msg)).toContain(devKeyPath);
      expect(String(warning.msg)).toContain("set ARAGORA_ENCRYPTION_KEY");
      expect(warning.key_source).toBe("dev_file");

      owner = await claimOwner(server);
      ({ secret } = await enrolMfa(server, owner));
      expect(kidOf(storedSecret(dataDir, owner.user.id))).toBe(devKeyId);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test("the development key is kept across restarts, with the warning at every start", async () => {
    const server = await startAccessServer({ dataDir });
    try {
      await server.waitForLog((l) => String(l.msg).startsWith(`Data will not be recoverable if ${devKeyPath} is lost`));
      const session = await signInWithMfa(server, owner.user.email, { code: totpCode(secret, 1) });
      expect(session.user.id).toBe(owner.user.id);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  test("production with sealed data and no key refuses to start, naming the variable and the key id", async () => {
    const { code, stderr, stdout } = await runCli(
      ["serve"],
      serveEnv(dataDir, { ARAGORA_ENV: "production", ARAGORA_JWT_SECRET: JWT_SECRET }),
    );
    expect(code).toBe(2);
    expect(stderr).toContain("ARAGORA_ENCRYPTION_KEY: is required: stored secrets are encrypted");
    expect(stderr).toContain(`mfa_totp: 1 record encrypted with key ${devKeyId}, which is not configured`);
    expect(stderr).toContain(`key ${devKeyId} is the development key in ${devKeyPath}`);
    expect(stdout).not.toContain("aragora listening");
  });

  test("production given that key as its key file starts and reads the secret", async () => {
    const server = await startAccessServer({
      dataDir,
      env: { ARAGORA_ENV: "production", ARAGORA_ENCRYPTION_KEY_FILE: devKeyPath },
    });
    try {
      // The password step reads the stored secret: a challenge, not a 503.
      expect((await passwordStep(server, owner.user.email)).mfa_required).toBe(true);
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test("production with nothing sealed starts, warns that secrets are stored unencrypted, and stores them so", async () => {
    const server = await startAccessServer({ env: { ARAGORA_ENV: "production" } });
    try {
      const warning = await server.waitForLog((l) => String(l.msg).startsWith("secrets are stored UNENCRYPTED"));
      expect(String(warning.msg)).toContain("ARAGORA_ENCRYPTION_KEY");
      expect(await metricValue(server, "aragora_encryption_unencrypted")).toBe(1);
      const first = await claimOwner(server);
      const enrolled = await enrolMfa(server, first);
      expect(storedSecret(server.dataDir, first.user.id)).toBe(enrolled.secret);
      expect(() => statSync(join(server.dataDir, "encryption.key"))).toThrow();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe("a key file, reloaded while the server runs", () => {
  const dir = tempDir();
  const dataDir = tempDir();
  const keyPath = join(dir, "keys");
  const [k1, k2] = [generateKeyHex(), generateKeyHex()];
  const [id1, id2] = [keyFromHex(k1).id, keyFromHex(k2).id];
  let server: TestServer;
  let owner: Session;
  let ownerSecret: string;
  let member: Session;
  let memberSecret: string;
  let viewer: Session;

  beforeAll(async () => {
    writeKeyFile(keyPath, ["# Aragora keys, newest first", k1]);
    server = await startAccessServer({ dataDir, env: { ARAGORA_ENCRYPTION_KEY_FILE: keyPath } });
    owner = await claimOwner(server);
    ({ secret: ownerSecret } = await enrolMfa(server, owner));
  });

  afterAll(async () => {
    const text = server
      .logs()
      .map((l) => JSON.stringify(l))
      .join("\n");
    const leaked = noSecretsLogged(server, [...seenSecrets, PASSWORD]);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
    expect(leaked).toEqual([]);
    for (const key of [k1, k2]) {
      expect(text).not.toContain(key.slice(0, 16));
      expect(server.stderr()).not.toContain(key.slice(0, 16));
    }
  });

  test("the first key seals; after SIGHUP with a new key first, new secrets use it and old ones still read", async () => {
    expect(kidOf(storedSecret(server.dataDir, owner.user.id))).toBe(id1);
    expect(existsQuietly(join(server.dataDir, "encryption.key"))).toBe(false);

    writeKeyFile(keyPath, ["# Aragora keys, newest first", k2, k1]);
    server.signal("SIGHUP");
    const reloaded = await server.waitForLog(
      (l) => l.msg === `encryption keys reloaded: key ${id2} now encrypts (was ${id1})`,
    );
    expect(reloaded.added_key_ids).toEqual([id2]);

    member = await userWithRole(server, "member");
    ({ secret: memberSecret } = await enrolMfa(server, member));
    expect(kidOf(storedSecret(server.dataDir, member.user.id))).toBe(id2);
    expect(kidOf(storedSecret(server.dataDir, owner.user.id))).toBe(id1);

    expect((await signInWithMfa(server, owner.user.email, { code: totpCode(ownerSecret, 1) })).user.id).toBe(
      owner.user.id,
    );
    expect((await signInWithMfa(server, member.user.email, { code: totpCode(memberSecret, 1) })).user.id).toBe(
      member.user.id,
    );
    await audited(server, (e) => e.action === "keys.reloaded" && e.actor.kind === "system" && e.outcome === "success");
  });

  test("POST /api/admin/keys/reload: the operator's (audited), refused to a member", async () => {
    const refused = await call(server, "POST", "/api/admin/keys/reload", { token: member.access_token });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe("forbidden");

    const res = await server.fetch("/api/admin/keys/reload", { method: "POST" });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      reloaded: true,
      active_key_id: id2,
      active_changed: false,
      added_key_ids: [],
      removed_key_ids: [],
      source: {
        kind: "file",
        path: keyPath,
        variable: "ARAGORA_ENCRYPTION_KEY_FILE",
        reloadable: true,
        active_key_id: id2,
        key_ids: [id2, id1],
        last_reload: { trigger: "request", ok: true, error: null },
      },
    });
    const entry = await audited(
      server,
      (e) => e.action === "keys.reloaded" && e.actor.kind === "operator" && e.outcome === "success",
    );
    expect(entry.detail).toMatchObject({ source: "file", active_key_id: id2, key_count: 2 });
  });

  test("a broken file at reload keeps the keys in use and says file:line, by request and by SIGHUP", async () => {
    const bad = k1.slice(0, 60);
    writeKeyFile(keyPath, [k2, bad]);
    const res = await server.fetch("/api/admin/keys/reload", { method: "POST" });
    expect(res.status).toBe(422);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe("key_file_invalid");
    expect(String(body.message)).toContain(`${keyPath}:2: is not a key: expected 64 hex characters, got 60 characters`);
    expect(String(body.message)).toContain(`active key ${id2}`);
    expect(JSON.stringify(body)).not.toContain(bad.slice(0, 16));
    await audited(server, (e) => e.action === "keys.reloaded" && e.outcome === "failure");

    writeKeyFile(keyPath, [k2, k1], 0o644);
    server.signal("SIGHUP");
    const failed = await server.waitForLog(
      (l) => String(l.msg).startsWith("encryption key reload failed") && String(l.error).includes("mode 0644"),
    );
    expect(failed.trigger).toBe("sighup");

    // Still serving, with both keys: the owner's secret (key 1) reads, a new one is sealed with key 2.
    expect((await server.fetch("/api/health")).status).toBe(200);
    expect((await passwordStep(server, owner.user.email)).mfa_required).toBe(true);
    viewer = await userWithRole(server, "viewer");
    await enrolMfa(server, viewer);
    expect(kidOf(storedSecret(server.dataDir, viewer.user.id))).toBe(id2);
    expect(await metricValue(server, 'aragora_encryption_key_reloads_total{trigger="sighup",result="failed"}')).toBe(1);
  });

  test("a record whose key was removed: 503 encryption_key_missing naming the key id, logged with the record", async () => {
    writeKeyFile(keyPath, [k2]);
    const res = await server.fetch("/api/admin/keys/reload", { method: "POST" });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { removed_key_ids: string[] }).removed_key_ids).toEqual([id1]);
    // The check after a reload names what the stored data now misses.
    const warned = await server.waitForLog((l) =>
      String(l.msg).startsWith(`Key not found: stored secrets need key ${id1}`),
    );
    expect(warned.missing_key_ids).toEqual([id1]);

    const signIn = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: owner.user.email, password: PASSWORD },
    });
    expect(signIn.status).toBe(503);
    expect(signIn.body.error).toBe("encryption_key_missing");
    expect(signIn.body.key_id).toBe(id1);
    expect(String(signIn.body.message)).toContain(
      `Key not found: a stored secret this request needs was encrypted with key ${id1}`,
    );
    expect(String(signIn.body.message)).toContain("add that key");
    const line = await server.waitForLog((l) => l.error_code === "encryption_key_missing");
    expect(line).toMatchObject({ table: "mfa_totp", field: "secret", record_id: owner.user.id, key_id: id1 });

    // The member's secret (key 2) still reads.
    expect((await passwordStep(server, member.user.email)).mfa_required).toBe(true);
  });

  test("a secret altered in the database: 500 stored_secret_tampered; a broken envelope: stored_secret_malformed", async () => {
    const sealed = JSON.parse(storedSecret(server.dataDir, member.user.id)) as { ct: string };
    const flipped = `${sealed.ct[0] === "A" ? "B" : "A"}${sealed.ct.slice(1)}`;
    overwriteSecret(server.dataDir, member.user.id, JSON.stringify({ ...sealed, ct: flipped }));
    const tampered = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: member.user.email, password: PASSWORD },
    });
    expect(tampered.status).toBe(500);
    expect(tampered.body.error).toBe("stored_secret_tampered");
    expect(String(tampered.body.message)).toContain("does not authenticate");
    const line = await server.waitForLog((l) => l.error_code === "stored_secret_tampered");
    expect(line).toMatchObject({ table: "mfa_totp", field: "secret", record_id: member.user.id });

    // Copied whole from another record (same key): bound to its own record, so it does not authenticate either.
    overwriteSecret(server.dataDir, member.user.id, storedSecret(server.dataDir, viewer.user.id));
    const moved = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: member.user.email, password: PASSWORD },
    });
    expect(moved.status).toBe(500);
    expect(moved.body.error).toBe("stored_secret_tampered");

    overwriteSecret(server.dataDir, member.user.id, '{"_encrypted":true,"v":1,"kid":"k000000000000"}');
    const malformed = await call(server, "POST", "/api/auth/sign-in", {
      body: { email: member.user.email, password: PASSWORD },
    });
    expect(malformed.status).toBe(500);
    expect(malformed.body.error).toBe("stored_secret_malformed");
    const recent = (await (await server.fetch("/api/system/errors")).json()) as { errors?: { code: string }[] };
    expect(JSON.stringify(recent)).toContain("stored_secret_tampered");
  });

  test("a restart whose keys miss a key id the data uses starts, and warns naming it (counted)", async () => {
    expect(await server.stop()).toBe(0);
    server = await startAccessServer({ dataDir, env: { ARAGORA_ENCRYPTION_KEY_FILE: keyPath } });
    // The owner's secret needs key 1; the member's broken envelope names a key id nobody has.
    const warned = await server.waitForLog((l) => String(l.msg).startsWith("Key not found: stored secrets need keys"));
    expect([...(warned.missing_key_ids as string[])].sort()).toEqual([id1, "k000000000000"].sort());
    expect(String(warned.msg)).toContain(`mfa_totp: 1 record encrypted with key ${id1}, which is not configured`);
    expect(await metricValue(server, "aragora_encryption_missing_key_ids")).toBe(2);
    expect(await metricValue(server, "aragora_encryption_missing_key_checks_total")).toBe(1);
  });
});

function existsQuietly(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}
