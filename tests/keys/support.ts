/**
 * Helpers for the key command suites: a deployment (a data dir, and a PostgreSQL database when the
 * suite runs on PostgreSQL) that servers and CLI runs share, servers started with a key list, the
 * CLI run with a key list (to completion, or as a process the test can kill), and a direct
 * connection to the TOTP table to seed records, write one as it was before encryption, damage one
 * or read them all back.
 *
 * @example
 * const dep = await deployment("sqlite");
 * const server = await startKeyServer(dep, `${HEX_B},${HEX_A}`);
 * const { code, stdout } = await keysCli(dep, ["keys", "verify"], `${HEX_B},${HEX_A}`);
 */
import { Writable } from "node:stream";
import { asc, eq, inArray } from "drizzle-orm";
import * as pg from "../../access/schema-postgres.ts";
import * as lite from "../../access/schema-sqlite.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { generateKeyHex, type KeyRing, parseKeyList } from "../../runtime/security/encryption-keys.ts";
import { sealText } from "../../runtime/security/field-cipher.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import { startAccessServer } from "../access/support.ts";
import { BUN, CLI, childEnv, ROOT, runCli, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, type TempDatabase } from "../support/services.ts";

/** The keys of the suites, as an operator holds them (hex), and their rings. */
export const HEX_A = generateKeyHex();
export const HEX_B = generateKeyHex();
export const ringA: KeyRing = parseKeyList(HEX_A, "A");
export const ringB: KeyRing = parseKeyList(HEX_B, "B");
export const ringBA: KeyRing = parseKeyList(`${HEX_B},${HEX_A}`, "B,A");

export type Dialect = "sqlite" | "postgres";

export interface Deployment {
  dialect: Dialect;
  dataDir: string;
  /** What every process of the deployment is given: DATABASE_URL on PostgreSQL. */
  env: Record<string, string>;
  remove(): Promise<void>;
}

/** A data dir, and on PostgreSQL a database of its own. */
export async function deployment(dialect: Dialect): Promise<Deployment> {
  const dataDir = tempDir("aragora-keys-");
  const db: TempDatabase | undefined = dialect === "postgres" ? await createTempPostgresDatabase() : undefined;
  return {
    dialect,
    dataDir,
    env: db === undefined ? {} : { DATABASE_URL: db.url },
    async remove() {
      await db?.drop();
      const { rmSync } = await import("node:fs");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A server of the deployment with `keys` as ARAGORA_ENCRYPTION_KEY (kept data dir). */
export function startKeyServer(dep: Deployment, keys: string): Promise<TestServer> {
  return startAccessServer({ dataDir: dep.dataDir, env: { ...dep.env, ARAGORA_ENCRYPTION_KEY: keys } });
}

/** The environment of a CLI run on the deployment with `keys` (none: unset). */
export function cliEnv(dep: Deployment, keys?: string): Record<string, string> {
  return {
    ARAGORA_DATA_DIR: dep.dataDir,
    ARAGORA_LOG_LEVEL: "WARNING",
    ...dep.env,
    ...(keys === undefined ? {} : { ARAGORA_ENCRYPTION_KEY: keys }),
  };
}

/** Every output a suite saw, to look for key material in at its end. */
export const outputs: string[] = [];

/** `aragora <args>` on the deployment with `keys`, to completion. */
export async function keysCli(dep: Deployment, args: string[], keys?: string, timeoutMs = 60_000) {
  const result = await runCli(args, cliEnv(dep, keys), timeoutMs);
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** `aragora <args>` as a process the test can watch and kill. */
export function spawnCli(dep: Deployment, args: string[], keys?: string) {
  const proc = Bun.spawn([BUN, CLI, ...args], {
    cwd: ROOT,
    env: childEnv(cliEnv(dep, keys)),
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = new Response(proc.stdout).text();
  const stderr = new Response(proc.stderr).text();
  return {
    proc,
    async done() {
      const [out, err, code] = await Promise.all([stdout, stderr, proc.exited]);
      outputs.push(out, err);
      return { code, stdout: out, stderr: err };
    },
  };
}

const tables = dialectTables({
  sqlite: { users: lite.users, mfaTotp: lite.mfaTotp },
  postgres: { users: pg.users, mfaTotp: pg.mfaTotp },
});

/** The TOTP table of a deployment, straight. */
export interface TotpTable {
  /** Every row: user id to stored secret. */
  all(): Promise<Map<string, string>>;
  /** Sets a user's stored secret as given (a value written before encryption, a damaged one). */
  set(userId: string, stored: string): Promise<void>;
  /** Adds enabled authenticators for new users `ids`, each secret stored as `store(id, secret)` says. */
  seed(ids: string[], store: (id: string, secret: string) => string): Promise<Map<string, string>>;
  remove(userIds: string[]): Promise<void>;
  close(): Promise<void>;
}

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

/** A connection of the test's own to the deployment's TOTP table. */
export async function totpTable(dep: Deployment): Promise<TotpTable> {
  const store: Store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dep.dataDir, ...dep.env }), quiet, {
    migrate: false,
  });
  const repo: Repo<typeof tables.postgres> = await store.openRepo(tables, { name: "test-totp" });
  const { users, mfaTotp } = repo.tables;
  return {
    async all() {
      const rows = await repo.read((db) =>
        db.select({ userId: mfaTotp.userId, secret: mfaTotp.secret }).from(mfaTotp).orderBy(asc(mfaTotp.userId)),
      );
      return new Map(rows.map((r) => [r.userId, r.secret]));
    },
    async set(userId, stored) {
      await repo.write((db) => db.update(mfaTotp).set({ secret: stored }).where(eq(mfaTotp.userId, userId)));
    },
    async seed(ids, storeAs) {
      const secrets = new Map<string, string>();
      const now = new Date();
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        const rows = chunk.map((id) => {
          // A base32 secret as enrolment makes them (20 bytes, 32 characters).
          const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(20)))
            .toString("base64")
            .replace(/[^A-Z2-7]/g, "A")
            .slice(0, 32)
            .padEnd(32, "A");
          secrets.set(id, secret);
          return { id, secret };
        });
        await repo.transaction((tx) => [
          tx.insert(users).values(
            rows.map((r) => ({
              id: r.id,
              email: `${r.id}@example.com`,
              name: "Seeded",
              passwordHash: null,
              isOperator: false,
              createdAt: now,
              deletedAt: null,
            })),
          ),
          tx.insert(mfaTotp).values(
            rows.map((r) => ({
              userId: r.id,
              secret: storeAs(r.id, r.secret),
              createdAt: now,
              enabledAt: now,
              lastStep: null,
            })),
          ),
        ]);
      }
      return secrets;
    },
    async remove(userIds) {
      await repo.write((db) => db.delete(mfaTotp).where(inArray(mfaTotp.userId, userIds)));
      await repo.write((db) => db.delete(users).where(inArray(users.id, userIds)));
    },
    async close() {
      await repo.close();
      await store.close();
    },
  };
}

/** Where a user's TOTP secret lives: what its ciphertext is bound to. */
export const totpRef = (userId: string) => ({ table: "mfa_totp", id: userId, field: "secret" });

/** `secret` sealed for `userId`'s row with `ring`'s active key. */
export const sealedFor = (ring: KeyRing) => (userId: string, secret: string) => sealText(ring, secret, totpRef(userId));

/** Ids that sort before (`"0000"`) or after (`"ffff"`) the ids the server gives (`u-<uuidv7>`). */
export function seededIds(prefix: "0000" | "ffff", n: number): string[] {
  const run = crypto.randomUUID().slice(0, 8);
  return Array.from({ length: n }, (_, i) => `u-${prefix}-${run}-${String(i).padStart(6, "0")}`);
}

/** The key id of each stored value (null: plaintext), counted. */
export function keyCounts(rows: Map<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const stored of rows.values()) {
    const kid = stored.startsWith('{"_encrypted":true') ? (JSON.parse(stored) as { kid: string }).kid : "plaintext";
    counts[kid] = (counts[kid] ?? 0) + 1;
  }
  return counts;
}
