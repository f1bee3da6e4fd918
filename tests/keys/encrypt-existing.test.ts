/**
 * `aragora encrypt-existing` as a real process beside a live server, on SQLite and on PostgreSQL:
 * a dry run changes nothing; `--execute` leaves every record on the active key and TOTP sign-in
 * still works (for a secret that was on the old key and one stored before encryption); a node still
 * on the old key rewriting secrets while it runs loses nothing (each write it made between the
 * migration's read and write is read again; the newest secret stands); a damaged record
 * is named and skipped while the others are migrated; killed with SIGKILL part-way, a second run
 * resumes from the journal and every record ends on the active key exactly once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openText } from "../../runtime/security/field-cipher.ts";
import { enrolMfa, signInWithMfa, totpCode } from "../access/mfa-support.ts";
import { call, PASSWORD, type Session, userWithRole } from "../access/support.ts";
import type { TestServer } from "../support/server.ts";
import { postgresAvailable } from "../support/services.ts";
import {
  type Deployment,
  deployment,
  HEX_A,
  HEX_B,
  keyCounts,
  keysCli,
  outputs,
  ringA,
  ringB,
  sealedFor,
  seededIds,
  spawnCli,
  startKeyServer,
  type TotpTable,
  totpRef,
  totpTable,
} from "./support.ts";

const pgAvailable = await postgresAvailable();
const A = ringA.active.id;
const B = ringB.active.id;
const BA = `${HEX_B},${HEX_A}`;

/** The journal's lines of the run in progress (a new run rewrites the file). */
function journalLines(dataDir: string): { t: string; run?: string }[] {
  const path = join(dataDir, "encrypt-existing.journal");
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.startsWith("{") && l.endsWith("}"))
    .map((l) => JSON.parse(l) as { t: string; run?: string });
}

/** Waits until `ok()` holds, polling; throws after `withinMs`. */
async function until(ok: () => boolean, withinMs: number, what: string): Promise<void> {
  const end = performance.now() + withinMs;
  while (!ok()) {
    if (performance.now() > end) throw new Error(`${what}: not within ${withinMs} ms`);
    await Bun.sleep(5);
  }
}

/** Every row opens with key B alone, to its secret in `secrets` (encrypted once: not an envelope). */
function expectAllOnB(rows: Map<string, string>, secrets: Map<string, string>): void {
  const wrong: string[] = [];
  for (const [id, secret] of secrets) {
    const stored = rows.get(id);
    if (stored === undefined || openText(ringB, stored, totpRef(id)) !== secret) wrong.push(id);
  }
  expect(wrong).toEqual([]);
}

for (const dialect of ["sqlite", "postgres"] as const) {
  describe.skipIf(dialect === "postgres" && !pgAvailable)(`aragora encrypt-existing on ${dialect}`, () => {
    let dep: Deployment;
    let server: TestServer;
    let table: TotpTable;
    let onA: { session: Session; secret: string };
    let plain: { session: Session; secret: string };

    beforeAll(async () => {
      dep = await deployment(dialect);
      const first = await startKeyServer(dep, HEX_A);
      try {
        const session = await userWithRole(first, "member", dep.env);
        onA = { session, secret: (await enrolMfa(first, session)).secret };
      } finally {
        await first.stop();
      }
      server = await startKeyServer(dep, BA);
      await enrolMfa(server, await userWithRole(server, "member", dep.env));
      const session = await userWithRole(server, "member", dep.env);
      plain = { session, secret: (await enrolMfa(server, session)).secret };
      table = await totpTable(dep);
      // Stored before encryption was turned on: the secret as it is.
      await table.set(session.user.id, plain.secret);
    }, 120_000);
    afterAll(async () => {
      await table?.close();
      await server?.stop();
      await dep?.remove();
    });

    test("refused with exit 2: no key (naming ARAGORA_ENCRYPTION_KEY), an unknown store (listing them), no store named", async () => {
      // Each refused before it reads a record: five processes side by side.
      const [noKey, unknown, noStore, both, noBatch] = await Promise.all([
        keysCli(dep, ["encrypt-existing", "--all"]),
        keysCli(dep, ["encrypt-existing", "--store", "nope"], BA),
        keysCli(dep, ["encrypt-existing"], BA),
        keysCli(dep, ["encrypt-existing", "--all", "--store", "mfa_totp"], BA),
        keysCli(dep, ["encrypt-existing", "--all", "--batch-size", "0"], BA),
      ]);
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain("ARAGORA_ENCRYPTION_KEY");
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('no store named "nope": the stores are mfa_totp');
      expect(noStore.code).toBe(2);
      expect(both.code).toBe(2);
      expect(noBatch.code).toBe(2);
    });

    test("a dry run reads with the old keys, counts what it would write, and changes nothing", async () => {
      const before = await table.all();
      const { code, stdout, stderr } = await keysCli(dep, ["encrypt-existing", "--store", "mfa_totp", "-v"], BA);
      expect(code).toBe(0);
      expect(stderr).toContain("DRY RUN");
      expect(stdout).toContain("dry run: nothing was written");
      expect(stdout).toContain(
        "mfa_totp: 3 records: 1 to encrypt (plaintext), 1 to re-encrypt, 1 already on the active key, 0 unreadable",
      );
      expect(stdout).toContain(`mfa_totp ${onA.session.user.id} secret: would re-encrypt (was key ${A})`);
      expect(stdout).toContain(`mfa_totp ${plain.session.user.id} secret: would encrypt (was plaintext)`);
      expect(await table.all()).toEqual(before);
      expect(existsSync(join(dep.dataDir, "encrypt-existing.journal"))).toBe(false);
    });

    test("--execute leaves every record on the active key, and TOTP sign-in still works", async () => {
      const { code, stdout } = await keysCli(dep, ["encrypt-existing", "--all", "--execute", "-v"], BA);
      expect(code).toBe(0);
      expect(stdout).toContain(
        "mfa_totp: 3 records: 1 encrypted (were plaintext), 1 re-encrypted, 1 skipped (already on the active key), 0 changed by a server meanwhile (its value stands), 0 failed",
      );
      expect(stdout).toContain(`mfa_totp ${onA.session.user.id} secret: re-encrypted (was key ${A})`);
      expect(stdout).toContain(`every record read is on key ${B}`);
      expect(keyCounts(await table.all())).toEqual({ [B]: 3 });
      // A is no longer needed by any record: verify passes with B alone.
      expect((await keysCli(dep, ["keys", "verify"], HEX_B)).code).toBe(0);
      for (const { session, secret } of [onA, plain]) {
        const signedIn = await signInWithMfa(server, session.user.email, { code: totpCode(secret, 1) });
        expect(signedIn.user.id).toBe(session.user.id);
      }
    }, 60_000);

    test("a node still on the old key rewrites secrets while it runs: read again, never overwritten with stale content", async () => {
      // A node not yet given the new key: it encrypts with A (and reads both).
      await server.stop();
      server = await startKeyServer(dep, `${HEX_A},${HEX_B}`);
      let seeded = new Map<string, string>();
      try {
        const users: { session: Session; secret: string }[] = [];
        for (let i = 0; i < 3; i++) users.push({ session: await userWithRole(server, "member", dep.env), secret: "" });
        const enrol = async (u: (typeof users)[number]) => {
          const started = await call<{ secret: string }>(server, "POST", "/api/auth/mfa/totp/enroll", {
            token: u.session.access_token,
            body: { password: PASSWORD },
          });
          expect(started.status).toBe(200);
          u.secret = started.body.secret;
        };
        for (const u of users) await enrol(u);
        // Many records on the old key read as one batch: a long time between its read and its write.
        seeded = new Map([
          ...(await table.seed(seededIds("0000", 2500), sealedFor(ringA))),
          ...(await table.seed(seededIds("ffff", 2500), sealedFor(ringA))),
        ]);
        // The node enrols the users again and again, with A, all the while.
        let running = true;
        let enrolments = 0;
        const loops = users.map(async (u) => {
          while (running) {
            await enrol(u);
            enrolments++;
          }
        });
        let result: Awaited<ReturnType<typeof keysCli>>;
        try {
          result = await keysCli(
            dep,
            ["encrypt-existing", "--all", "--execute", "--json", "--batch-size", "20000"],
            BA,
            120_000,
          );
        } finally {
          running = false;
          await Promise.all(loops);
        }
        expect({ code: result.code, stderr: result.stderr.slice(0, 2000) }).toMatchObject({ code: 0 });
        expect(enrolments).toBeGreaterThanOrEqual(3);
        const summary = JSON.parse(result.stdout) as { stores: { raced: number; counts: Record<string, number> }[] };
        // The node's writes came between the migration's read and its write: each was read again.
        expect(summary.stores[0]?.raced).toBeGreaterThanOrEqual(1);
        expect(summary.stores[0]?.counts.failed).toBe(0);
        // The secret each user's authenticator shows now is the one stored.
        for (const u of users) {
          const confirmed = await call(server, "POST", "/api/auth/mfa/totp/confirm", {
            token: u.session.access_token,
            body: { code: totpCode(u.secret) },
          });
          expect(confirmed.status).toBe(200);
        }
        expectAllOnB(await table.all(), seeded);
      } finally {
        await server.stop();
        server = await startKeyServer(dep, BA);
      }
      // Once the node has the new key, a second run brings what it wrote meanwhile onto it.
      const again = await keysCli(dep, ["encrypt-existing", "--all", "--execute"], BA);
      expect(again.code).toBe(0);
      const rows = await table.all();
      expect(keyCounts(rows)).toEqual({ [B]: rows.size });
    }, 180_000);

    test("a damaged record is named and skipped while the others are migrated (exit 1)", async () => {
      const fresh = seededIds("ffff", 4);
      const secrets = await table.seed(fresh, (id, secret) =>
        id === fresh[0] ? sealedFor(ringA)(id, secret) : secret,
      );
      const damaged = fresh[0] as string;
      const envelope = JSON.parse((await table.all()).get(damaged) as string) as { ct: string };
      const tampered = JSON.stringify({
        ...envelope,
        ct: `${envelope.ct[0] === "A" ? "B" : "A"}${envelope.ct.slice(1)}`,
      });
      await table.set(damaged, tampered);
      try {
        const { code, stdout, stderr } = await keysCli(dep, ["encrypt-existing", "--all", "--execute"], BA);
        expect(code).toBe(1);
        expect(stderr).toContain(`mfa_totp ${damaged} secret: FAILED (was key ${A}): tampered: `);
        expect(stdout).toMatch(/: 3 encrypted \(were plaintext\), 0 re-encrypted, [\d,]+ skipped/);
        expect(stdout).toContain(", 1 failed");
        expect(stdout).toContain("1 record could not be read (named above) and was left as it was");
        const rows = await table.all();
        expect(rows.get(damaged)).toBe(tampered);
        secrets.delete(damaged);
        expectAllOnB(rows, secrets);
      } finally {
        await table.remove([damaged]);
      }
    }, 60_000);

    test("killed with SIGKILL part-way, a second run resumes and every record ends on the active key once", async () => {
      const seeded = await table.seed(seededIds("0000", 3000), sealedFor(ringA));
      const previousRun = journalLines(dep.dataDir)[0]?.run;
      const cli = spawnCli(
        dep,
        ["encrypt-existing", "--all", "--execute", "--batch-size", "10", "--pause-ms", "5"],
        BA,
      );
      const done = cli.done();
      await until(
        () => {
          const lines = journalLines(dep.dataDir);
          return lines[0]?.run !== previousRun && lines.filter((l) => l.t === "batch").length >= 5;
        },
        30_000,
        "five batches",
      );
      cli.proc.kill("SIGKILL");
      await done;
      expect(cli.proc.signalCode).toBe("SIGKILL");
      const midway = keyCounts(await table.all());
      expect(midway[B]).toBeGreaterThan(0);
      expect(midway[A]).toBeGreaterThan(0);

      const again = await keysCli(dep, ["encrypt-existing", "--all", "--execute", "--json"], BA);
      expect(again.code).toBe(0);
      expect(again.stderr).toContain("resuming the run interrupted since");
      const summary = JSON.parse(again.stdout) as {
        resumed: boolean;
        records: number;
        stores: { resumed_after?: string; counts: Record<string, number>; this_run: Record<string, number> }[];
      };
      const rows = await table.all();
      const sum = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
      expect(summary.resumed).toBe(true);
      expect(typeof summary.stores[0]?.resumed_after).toBe("string");
      expect(summary.records).toBe(rows.size);
      // The second run went over only what the first had not committed.
      expect(sum(summary.stores[0]?.this_run ?? {})).toBeLessThan(rows.size);
      expect(summary.stores[0]?.counts.failed).toBe(0);
      expect(keyCounts(rows)).toEqual({ [B]: rows.size });
      expectAllOnB(rows, seeded);
    }, 120_000);

    test("no key material in any output", () => {
      const seen = [...outputs, server.stderr(), ...server.logs().map((l) => JSON.stringify(l))]
        .join("\n")
        .toLowerCase();
      for (const hex of [HEX_A, HEX_B]) expect(seen).not.toContain(hex.toLowerCase());
    });
  });
}
