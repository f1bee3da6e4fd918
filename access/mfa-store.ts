/**
 * Where the second factor lives: each user's TOTP authenticator (pending until confirmed), their
 * recovery codes (hashes only) and the challenges of sign-ins waiting for a code. One repository
 * for both dialects, like access-store.ts, on its own Repo.
 *
 * Every use that must happen once is one conditional statement: a time step is accepted only if
 * it is later than the last one (`... WHERE last_step < step RETURNING`), a recovery code only while
 * unused, a challenge taken by deleting it; so two requests racing with the same code see one winner.
 *
 * The TOTP secret must be read back to check codes, so it cannot be hashed: it is sealed with the
 * server's encryption key (runtime/security/field-sealer.ts) by {@link MfaStore.startTotp}, the one
 * place that writes it, and opened by {@link MfaStore.totpOf}, the one place that reads it. A secret
 * stored before encryption was turned on reads as it is, until `aragora encrypt-existing` seals it
 * ({@link totpSecretsStore}).
 *
 * @example
 * const mfa = await openMfaStore(ctx.store, ctx.sealer);
 * await mfa.startTotp(user.id, secret, new Date());
 * const totp = await mfa.totpOf(user.id); // { secret, enabledAt: null, ... }
 */
import { and, eq, gt, isNotNull, isNull, lt, lte, or, sql } from "drizzle-orm";
import type { EncryptedStore } from "../runtime/security/encrypted-store.ts";
import type { FieldRef } from "../runtime/security/field-cipher.ts";
import type { FieldSealer } from "../runtime/security/field-sealer.ts";
import { dialectTables, type Repo } from "../runtime/store/repo.ts";
import { sealedColumnStore } from "../runtime/store/sealed-column-store.ts";
import type { Store } from "../runtime/store/store.ts";
import { isUniqueViolation } from "./access-store.ts";
import * as pg from "./schema-postgres.ts";
import * as lite from "./schema-sqlite.ts";

export const mfaTables = dialectTables({
  sqlite: { mfaTotp: lite.mfaTotp, mfaRecoveryCodes: lite.mfaRecoveryCodes, mfaChallenges: lite.mfaChallenges },
  postgres: { mfaTotp: pg.mfaTotp, mfaRecoveryCodes: pg.mfaRecoveryCodes, mfaChallenges: pg.mfaChallenges },
});

type Tables = typeof mfaTables.postgres;
/** A user's authenticator: `enabledAt` null while the enrolment waits for its first code. */
export type TotpRow = Tables["mfaTotp"]["$inferSelect"];
export type ChallengeRow = Tables["mfaChallenges"]["$inferSelect"];

/** The name of the TOTP secrets in the encryption metrics and the key commands. */
export const TOTP_SECRETS_STORE = "mfa_totp";
/** Where a user's TOTP secret lives: what its ciphertext is bound to. */
const secretRef = (userId: string): FieldRef => ({ table: "mfa_totp", id: userId, field: "secret" });

export class MfaStore {
  constructor(
    private readonly repo: Repo<Tables>,
    private readonly sealer: FieldSealer,
  ) {}

  // --- the authenticator ---

  /** The user's authenticator, pending or enabled, secret included; undefined when there is none. */
  async totpOf(userId: string): Promise<TotpRow | undefined> {
    const { mfaTotp } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(mfaTotp).where(eq(mfaTotp.userId, userId)));
    if (row === undefined) return undefined;
    return { ...row, secret: this.sealer.open(TOTP_SECRETS_STORE, row.secret, secretRef(userId)) };
  }

  /**
   * A pending enrolment with `secret`, replacing a pending one; false when an enabled authenticator
   * is there (it must be disabled first).
   */
  async startTotp(userId: string, secret: string, now: Date): Promise<boolean> {
    const { mfaTotp } = this.repo.tables;
    try {
      await this.repo.transaction((tx) => [
        tx.delete(mfaTotp).where(and(eq(mfaTotp.userId, userId), isNull(mfaTotp.enabledAt))),
        tx.insert(mfaTotp).values({
          userId,
          secret: this.sealer.seal(TOTP_SECRETS_STORE, secret, secretRef(userId)),
          createdAt: now,
          enabledAt: null,
          lastStep: null,
        }),
      ]);
      return true;
    } catch (err) {
      // The row left is an enabled one (the delete spares those).
      if (isUniqueViolation(err)) return false;
      throw err;
    }
  }

  /**
   * Enables the pending authenticator made at `createdAt` (so a newer enrolment, started meanwhile,
   * is not the one enabled), recording the step of the code that confirmed it; false when there is
   * no such pending one.
   */
  async enableTotp(userId: string, createdAt: Date, step: number, now: Date): Promise<boolean> {
    const { mfaTotp } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(mfaTotp)
        .set({ enabledAt: now, lastStep: step })
        .where(and(eq(mfaTotp.userId, userId), isNull(mfaTotp.enabledAt), eq(mfaTotp.createdAt, createdAt)))
        .returning({ userId: mfaTotp.userId }),
    );
    return rows.length > 0;
  }

  /**
   * Accepts a code of time step `step` for the user's enabled authenticator: true only when no code
   * of this step or a later one was accepted before (RFC 6238 §5.2), so each code works once.
   */
  async acceptStep(userId: string, step: number): Promise<boolean> {
    const { mfaTotp } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(mfaTotp)
        .set({ lastStep: step })
        .where(
          and(
            eq(mfaTotp.userId, userId),
            isNotNull(mfaTotp.enabledAt),
            or(isNull(mfaTotp.lastStep), lt(mfaTotp.lastStep, step)),
          ),
        )
        .returning({ userId: mfaTotp.userId }),
    );
    return rows.length > 0;
  }

  /** Removes the authenticator, the recovery codes and pending sign-in challenges; false when there was no authenticator. */
  async disable(userId: string): Promise<boolean> {
    const { mfaTotp, mfaRecoveryCodes, mfaChallenges } = this.repo.tables;
    const [removed] = await this.repo.transaction((tx) => [
      tx.delete(mfaTotp).where(eq(mfaTotp.userId, userId)).returning({ userId: mfaTotp.userId }),
      tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId)),
      tx.delete(mfaChallenges).where(eq(mfaChallenges.userId, userId)),
    ]);
    return removed.length > 0;
  }

  // --- recovery codes ---

  /** Replaces every recovery code of the user with `hashes` (all unused). */
  async replaceRecoveryCodes(userId: string, hashes: readonly string[], now: Date): Promise<void> {
    const { mfaRecoveryCodes } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx.delete(mfaRecoveryCodes).where(eq(mfaRecoveryCodes.userId, userId)),
      tx.insert(mfaRecoveryCodes).values(hashes.map((codeHash) => ({ userId, codeHash, createdAt: now }))),
    ]);
  }

  /** The hashes of the user's unused recovery codes. */
  async unusedRecoveryCodes(userId: string): Promise<string[]> {
    const { mfaRecoveryCodes } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select({ codeHash: mfaRecoveryCodes.codeHash })
        .from(mfaRecoveryCodes)
        .where(and(eq(mfaRecoveryCodes.userId, userId), isNull(mfaRecoveryCodes.usedAt))),
    );
    return rows.map((r) => r.codeHash);
  }

  /** Uses the recovery code whose hash is `codeHash`, once: false when it was used already (or is not the user's). */
  async useRecoveryCode(userId: string, codeHash: string, now: Date): Promise<boolean> {
    const { mfaRecoveryCodes } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .update(mfaRecoveryCodes)
        .set({ usedAt: now })
        .where(
          and(
            eq(mfaRecoveryCodes.userId, userId),
            eq(mfaRecoveryCodes.codeHash, codeHash),
            isNull(mfaRecoveryCodes.usedAt),
          ),
        )
        .returning({ userId: mfaRecoveryCodes.userId }),
    );
    return rows.length > 0;
  }

  // --- sign-in challenges ---

  /** Stores a challenge, and drops expired ones (they are few and short-lived). */
  async insertChallenge(row: Omit<ChallengeRow, "failures">, now: Date): Promise<void> {
    const { mfaChallenges } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx.delete(mfaChallenges).where(lte(mfaChallenges.expiresAt, now)),
      tx.insert(mfaChallenges).values({ ...row, failures: 0 }),
    ]);
  }

  /** The live challenge whose hash is `tokenHash`, if any. */
  async challenge(tokenHash: string, now: Date): Promise<ChallengeRow | undefined> {
    const { mfaChallenges } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select()
        .from(mfaChallenges)
        .where(and(eq(mfaChallenges.tokenHash, tokenHash), gt(mfaChallenges.expiresAt, now))),
    );
    return row;
  }

  /** Counts a wrong code against a challenge; at `maxFailures` the challenge is gone (sign in again). */
  async failChallenge(tokenHash: string, maxFailures: number): Promise<void> {
    const { mfaChallenges } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx
        .update(mfaChallenges)
        .set({ failures: sql`${mfaChallenges.failures} + 1` })
        .where(eq(mfaChallenges.tokenHash, tokenHash)),
      tx
        .delete(mfaChallenges)
        .where(and(eq(mfaChallenges.tokenHash, tokenHash), sql`${mfaChallenges.failures} >= ${maxFailures}`)),
    ]);
  }

  /** Takes the live challenge, once: its row, or undefined when it expired or another request took it. */
  async takeChallenge(tokenHash: string, now: Date): Promise<ChallengeRow | undefined> {
    const { mfaChallenges } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .delete(mfaChallenges)
        .where(and(eq(mfaChallenges.tokenHash, tokenHash), gt(mfaChallenges.expiresAt, now)))
        .returning(),
    );
    return row;
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The MFA store on the server's database (its tables are made by the migrations the server ran).
 *
 * @example const mfa = await openMfaStore(ctx.store, ctx.sealer);
 */
export async function openMfaStore(store: Pick<Store, "openRepo">, sealer: FieldSealer): Promise<MfaStore> {
  return new MfaStore(await store.openRepo(mfaTables, { name: "mfa", maxConnections: 2 }), sealer);
}

/**
 * The TOTP secrets as an {@link EncryptedStore}, for `aragora keys verify` and `aragora
 * encrypt-existing`: one field a user, in user id order; a replacement lands only while the row
 * still holds the value the migration read (a user who enrolled again meanwhile keeps the new one).
 *
 * @example const totp = await totpSecretsStore(store); await totp.scan(null, 500);
 */
export async function totpSecretsStore(
  store: Pick<Store, "openRepo">,
): Promise<EncryptedStore & { close(): Promise<void> }> {
  const repo = await store.openRepo(mfaTables, { name: "mfa-secrets", maxConnections: 1 });
  const { mfaTotp } = repo.tables;
  return sealedColumnStore(repo, {
    name: TOTP_SECRETS_STORE,
    description: "TOTP secrets (second factor)",
    table: mfaTotp,
    id: mfaTotp.userId,
    column: mfaTotp.secret,
    columnKey: "secret",
    refOf: secretRef,
  });
}
