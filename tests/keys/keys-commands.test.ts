/**
 * `aragora keys generate|verify|status` and `GET /api/admin/keys` beside a live server, on SQLite
 * and on PostgreSQL: TOTP enrolled under key A, then under B (with A kept to decrypt), and a secret
 * stored before encryption (written as it is, straight into the table). The counts per key id and
 * in plaintext, the exit codes (1 when a record's key is not configured, 2 on bad usage or
 * configuration), who may read the route, and no key material in any output.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ArkErrors } from "arktype";
import type { EncryptionKey } from "../../runtime/security/encryption-keys.ts";
import { sealStream } from "../../runtime/security/sealed-stream.ts";
import { KeysStatus } from "../../schemas/keys.ts";
import { enrolMfa, signInWithMfa, totpCode } from "../access/mfa-support.ts";
import { call, type Session, userWithRole } from "../access/support.ts";
import type { TestServer } from "../support/server.ts";
import { postgresAvailable } from "../support/services.ts";
import {
  type Deployment,
  deployment,
  HEX_A,
  HEX_B,
  keysCli,
  outputs,
  ringA,
  ringB,
  startKeyServer,
  type TotpTable,
  totpTable,
} from "./support.ts";

const pgAvailable = await postgresAvailable();
const A = ringA.active.id;
const B = ringB.active.id;

/** The report line of `label` in a store's table: its count and note. */
function row(stdout: string, label: string): string | undefined {
  return stdout
    .split("\n")
    .find((l) => l.trimStart().startsWith(`${label} `))
    ?.trim()
    .replace(/\s+/g, " ");
}

for (const dialect of ["sqlite", "postgres"] as const) {
  describe.skipIf(dialect === "postgres" && !pgAvailable)(`aragora keys on ${dialect}`, () => {
    let dep: Deployment;
    let server: TestServer;
    let table: TotpTable;

    beforeAll(async () => {
      dep = await deployment(dialect);
      // Two users enrol while A is the only key ...
      const first = await startKeyServer(dep, HEX_A);
      try {
        for (let i = 0; i < 2; i++) await enrolMfa(first, await userWithRole(first, "member", dep.env));
      } finally {
        await first.stop();
      }
      // ... then B is put in front (A kept to decrypt) and one more enrols, on B.
      server = await startKeyServer(dep, `${HEX_B},${HEX_A}`);
      await enrolMfa(server, await userWithRole(server, "member", dep.env));
      // And one whose secret was stored before encryption was turned on: plaintext in the table.
      const plain: Session = await userWithRole(server, "member", dep.env);
      const { secret } = await enrolMfa(server, plain);
      table = await totpTable(dep);
      await table.set(plain.user.id, secret);
    }, 120_000);
    afterAll(async () => {
      await table?.close();
      await server?.stop();
      await dep?.remove();
    });

    test("keys generate prints a new 64-hex key and a newline, nothing else", async () => {
      const [one, two] = await Promise.all([keysCli(dep, ["keys", "generate"]), keysCli(dep, ["keys", "generate"])]);
      for (const r of [one, two]) expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(one.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      expect(two.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      expect(one.stdout).not.toBe(two.stdout);
      // It reads no configuration: a malformed key list does not stop it.
      expect((await keysCli(dep, ["keys", "generate"], "not-a-key")).code).toBe(0);
    });

    test("keys verify: configured, the active key, the ids, and the records per key id and in plaintext", async () => {
      const { code, stdout, stderr } = await keysCli(dep, ["keys", "verify"], `${HEX_B},${HEX_A}`);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(stdout).toContain(`encryption: configured; active key ${B}`);
      expect(stdout).toContain(`configured keys: ${B} (active), ${A}`);
      expect(stdout).toContain("mfa_totp (TOTP secrets (second factor)): 4 records");
      expect(row(stdout, A)).toBe(`${A} 2`);
      expect(row(stdout, B)).toBe(`${B} 1 active`);
      expect(row(stdout, "plaintext")).toStartWith("plaintext 1 not encrypted");
      expect(stdout).toContain("ok: every record can be read with the configured keys");
    });

    test("keys status: the same as JSON", async () => {
      const { code, stdout } = await keysCli(dep, ["keys", "status"], `${HEX_B},${HEX_A}`);
      expect(code).toBe(0);
      const report = KeysStatus(JSON.parse(stdout));
      if (report instanceof ArkErrors) throw new Error(report.summary);
      expect(report).toEqual({
        configured: true,
        active_key_id: B,
        key_ids: [B, A],
        stores: [
          {
            name: "mfa_totp",
            description: "TOTP secrets (second factor)",
            records: 4,
            plaintext: 1,
            malformed: 0,
            by_key: [
              { key_id: A, records: 2, configured: true, active: false },
              { key_id: B, records: 1, configured: true, active: true },
            ],
          },
          {
            name: "provider_keys",
            description: expect.any(String),
            records: 0,
            plaintext: 0,
            malformed: 0,
            by_key: [],
          },
          {
            name: "oauth_pending",
            description: expect.any(String),
            records: 0,
            plaintext: 0,
            malformed: 0,
            by_key: [],
          },
          {
            name: "webhook_secrets",
            description: expect.any(String),
            records: 0,
            plaintext: 0,
            malformed: 0,
            by_key: [],
          },
          {
            name: "integrations",
            description: expect.any(String),
            records: 0,
            plaintext: 0,
            malformed: 0,
            by_key: [],
          },
        ],
        backups: [],
        ok: true,
        problems: [],
      });
    });

    test("a sealed value written in another field order is counted all the same (the store is scanned then)", async () => {
      const rows = await table.all();
      const [userId, stored] = [...rows].find(([, v]) => v.includes(`"kid":"${A}"`)) ?? [];
      if (userId === undefined || stored === undefined) throw new Error("no record on key A");
      const { _encrypted, v, kid, iv, ct } = JSON.parse(stored) as Record<string, unknown>;
      await table.set(userId, JSON.stringify({ _encrypted, kid, v, iv, ct }));
      try {
        const { code, stdout } = await keysCli(dep, ["keys", "verify"], `${HEX_B},${HEX_A}`);
        expect(code).toBe(0);
        expect(row(stdout, A)).toBe(`${A} 2`);
        expect(row(stdout, B)).toBe(`${B} 1 active`);
        expect(row(stdout, "plaintext")).toStartWith("plaintext 1 not encrypted");
      } finally {
        await table.set(userId, stored);
      }
    });

    test("backups: each archive with the key it needs; one on a key that is not configured is a problem", async () => {
      const dir = join(dep.dataDir, "backups");
      mkdirSync(dir, { recursive: true });
      const sealedWith = async (name: string, key: EncryptionKey) => {
        const chunks: Buffer[] = [];
        const sealer = sealStream(key);
        sealer.on("data", (c: Buffer) => chunks.push(c));
        const done = new Promise((resolve) => sealer.on("end", resolve));
        sealer.end(Buffer.from("not a tar, but sealed"));
        await done;
        writeFileSync(join(dir, name), Buffer.concat(chunks));
      };
      await sealedWith("aragora-backup-20261201T000000Z.tar.gz.enc", ringA.active);
      writeFileSync(join(dir, "aragora-backup-20261202T000000Z.tar.gz"), "plain");
      try {
        const both = await keysCli(dep, ["keys", "status"], `${HEX_B},${HEX_A}`);
        expect((JSON.parse(both.stdout) as KeysStatus).backups).toEqual([
          { name: "aragora-backup-20261201T000000Z.tar.gz.enc", key_id: A, configured: true },
          { name: "aragora-backup-20261202T000000Z.tar.gz", key_id: null, configured: true },
        ]);
        const onlyB = await keysCli(dep, ["keys", "verify"], HEX_B);
        expect(onlyB.code).toBe(1);
        expect(onlyB.stdout).toContain(
          `aragora-backup-20261201T000000Z.tar.gz.enc  ${A}  NOT CONFIGURED: cannot be restored`,
        );
        expect(onlyB.stdout).toContain(
          `PROBLEM: backup aragora-backup-20261201T000000Z.tar.gz.enc is encrypted with key ${A}, which is not configured`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test("exit 1 when a record is on a key that is not configured, naming the key", async () => {
      const verify = await keysCli(dep, ["keys", "verify"], HEX_B);
      expect(verify.code).toBe(1);
      expect(row(verify.stdout, A)).toBe(`${A} 2 NOT CONFIGURED: cannot be read`);
      expect(verify.stdout).toContain(`PROBLEM: mfa_totp: 2 records encrypted with key ${A}, which is not configured`);
      const status = await keysCli(dep, ["keys", "status"], HEX_B);
      expect(status.code).toBe(1);
      const report = JSON.parse(status.stdout) as KeysStatus;
      expect(report.ok).toBe(false);
      expect(report.stores[0]?.by_key.find((k) => k.key_id === A)?.configured).toBe(false);
      // No key at all: every encrypted record needs a key that is not there.
      const none = await keysCli(dep, ["keys", "verify"]);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain("encryption: NOT configured (ARAGORA_ENCRYPTION_KEY is unset)");
    });

    test("exit 2 on bad usage or configuration, never echoing a key", async () => {
      const malformed = HEX_B.slice(0, 63);
      // Each refused before it reads a record: the processes run side by side.
      const [bad, none, extra, empty] = await Promise.all([
        keysCli(dep, ["keys", "verify"], `${malformed}`),
        keysCli(dep, ["keys"]),
        keysCli(dep, ["keys", "verify", "extra"]),
        dialect === "sqlite"
          ? keysCli({ ...dep, dataDir: `${dep.dataDir}/nothing-here` }, ["keys", "verify"], HEX_B)
          : undefined,
      ]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain("ARAGORA_ENCRYPTION_KEY");
      expect(bad.stderr + bad.stdout).not.toContain(malformed);
      expect(none.code).toBe(2);
      expect(extra.code).toBe(2);
      if (empty !== undefined) {
        expect(empty.code).toBe(2);
        expect(empty.stderr).toContain("no database");
      }
    });

    test("GET /api/admin/keys: the same report, to the operator and an operator with MFA; refused to a member", async () => {
      const asOperator = await server.fetch("/api/admin/keys");
      expect(asOperator.status).toBe(200);
      const body = (await asOperator.json()) as KeysStatus;
      outputs.push(JSON.stringify(body));
      const cli = await keysCli(dep, ["keys", "status"], `${HEX_B},${HEX_A}`);
      expect(body).toEqual(JSON.parse(cli.stdout));

      const member = await userWithRole(server, "member", dep.env);
      const refused = await call(server, "GET", "/api/admin/keys", { token: member.access_token });
      expect(refused.status).toBe(403);
      expect(refused.body.error).toBe("forbidden");

      const operator = await userWithRole(server, "owner", dep.env, ["--operator"]);
      const noMfa = await call(server, "GET", "/api/admin/keys", { token: operator.access_token });
      expect(noMfa.status).toBe(403);
      expect(noMfa.body.error).toBe("mfa_required");
      const { secret } = await enrolMfa(server, operator);
      const withMfa = await signInWithMfa(server, operator.user.email, { code: totpCode(secret, 1) });
      const allowed = await call<KeysStatus>(server, "GET", "/api/admin/keys", { token: withMfa.access_token });
      expect(allowed.status).toBe(200);
      outputs.push(JSON.stringify(allowed.body));
      // The operator's enrolment is one more record, on B.
      expect(allowed.body.stores[0]?.by_key.find((k) => k.key_id === B)?.records).toBe(2);
      expect(allowed.body).toEqual(JSON.parse((await keysCli(dep, ["keys", "status"], `${HEX_B},${HEX_A}`)).stdout));
    }, 60_000);

    test("no key material in any output: the CLI's, the route's, the server's log", () => {
      const seen = [...outputs, server.stderr(), ...server.logs().map((l) => JSON.stringify(l))]
        .join("\n")
        .toLowerCase();
      expect(seen.length).toBeGreaterThan(1000);
      for (const hex of [HEX_A, HEX_B]) expect(seen).not.toContain(hex.toLowerCase());
    });

    test("a sealed value naming no key is reported at start-up as keys status reports it", async () => {
      const rows = await table.all();
      const [userId, stored] = [...rows].find(([, v]) => v.includes(`"kid":"${B}"`)) ?? [];
      if (userId === undefined || stored === undefined) throw new Error("no record on key B");
      const { kid: _kid, ...envelope } = JSON.parse(stored) as Record<string, unknown>;
      await server.stop();
      await table.set(userId, JSON.stringify(envelope));
      try {
        const status = await keysCli(dep, ["keys", "status"], `${HEX_B},${HEX_A}`);
        expect(status.code).toBe(1);
        const report = JSON.parse(status.stdout) as KeysStatus;
        expect(report.stores[0]).toMatchObject({ name: "mfa_totp", malformed: 1 });
        expect(report.problems).toEqual([
          "mfa_totp: 1 record marked encrypted but naming no key (a malformed envelope); aragora encrypt-existing names it",
        ]);

        server = await startKeyServer(dep, `${HEX_B},${HEX_A}`);
        const warned = await server.waitForLog((l) => String(l.msg).startsWith("Stored secrets that no key can read"));
        expect(warned.problems).toEqual(report.problems);
        expect(String(warned.msg)).toContain(report.problems[0] as string);
        // Nothing is missing a key, so nothing is counted as such.
        expect(warned.missing_key_ids).toBeUndefined();
      } finally {
        await table.set(userId, stored);
      }
    });
  });
}
