/**
 * The second factor on a real SQLite store with a clock the test moves: each use that must happen
 * once is one conditional statement (a time step, a recovery code, a challenge), enrolments and
 * challenges expire, and no secret reaches the audit log.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Writable } from "node:stream";
import { sql } from "drizzle-orm";
import { Secret, TOTP } from "otpauth";
import type { AuditEvent } from "../runtime/audit.ts";
import { loadConfig } from "../runtime/config.ts";
import { HttpError } from "../runtime/http/errors.ts";
import { createLogger } from "../runtime/log.ts";
import { generateKeyHex, type KeyRing, keyFromHex, ringOf } from "../runtime/security/encryption-keys.ts";
import { fieldSealer } from "../runtime/security/field-sealer.ts";
import { createTokenSigner } from "../runtime/security/jwt.ts";
import { createLoginBackoff } from "../runtime/security/login-backoff.ts";
import { hashRecoveryCode } from "../runtime/security/totp.ts";
import { openStore, type Store } from "../runtime/store/index.ts";
import { type TempDir, tempDataDir } from "../tests/support/services.ts";
import { type AccessStore, openAccessStore, type UserRow } from "./access-store.ts";
import { type CallContext, CHALLENGE_TTL_SECONDS, ENROLMENT_TTL_SECONDS, SecondFactor } from "./mfa.ts";
import { type MfaStore, mfaTables, openMfaStore, totpSecretsStore } from "./mfa-store.ts";
import { Sessions } from "./sessions.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const CALL: CallContext = { ip: "192.0.2.1", requestId: "r-1", orgId: null };

let dir: TempDir;
let store: Store;
let access: AccessStore;
let mfaStore: MfaStore;
let orgId: string;
let workspaceId: string;
/** The keys of the moment: a test may rotate them. */
let ring: KeyRing | undefined = ringOf([keyFromHex(generateKeyHex())], "test");

beforeAll(async () => {
  dir = tempDataDir();
  store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), quiet);
  access = await openAccessStore(store);
  mfaStore = await openMfaStore(
    store,
    fieldSealer(() => ring),
  );
  ({ orgId, workspaceId } = await access.ensureFirstOrganisation(new Date()));
});
afterAll(async () => {
  await mfaStore.close();
  await access.close();
  await store.close();
  dir.remove();
});

function newUser(): Promise<UserRow> {
  return access.createUser(
    { email: `${crypto.randomUUID()}@example.com`, name: "T", passwordHash: null },
    orgId,
    "member",
    new Date(),
  );
}

/** The service with a clock the test moves, and what it recorded in the audit log. */
function harness() {
  const clock = { now: Date.now() };
  const recorded: AuditEvent[] = [];
  const signer = createTokenSigner({
    secret: "m".repeat(40),
    issuer: "aragora",
    audience: "aragora-api",
    accessTtlSeconds: 3600,
    clock: () => clock.now,
  });
  const sessions = new Sessions({ store: access, signer, refreshTtlSeconds: 86_400, clock: () => clock.now });
  const mfa = new SecondFactor({
    store: mfaStore,
    accounts: access,
    sessions,
    backoff: createLoginBackoff(),
    audit: { record: async (e) => void recorded.push(e) },
    log: quiet,
    clock: () => clock.now,
  });
  const code = (secret: string, steps = 0) =>
    new TOTP({ secret: Secret.fromBase32(secret), algorithm: "SHA1", digits: 6, period: 30 }).generate({
      timestamp: clock.now + steps * 30_000,
    });
  return { clock, mfa, recorded, signer, code };
}

describe("MfaStore: what must happen once is one conditional statement", () => {
  test("a time step is accepted once, and never one at or before the last accepted", async () => {
    const user = await newUser();
    expect(await mfaStore.startTotp(user.id, "JBSWY3DPEHPK3PXP", new Date())).toBe(true);
    const { createdAt } = (await mfaStore.totpOf(user.id)) as { createdAt: Date };
    // Pending: no step is accepted until the enrolment is confirmed.
    expect(await mfaStore.acceptStep(user.id, 100)).toBe(false);
    expect(await mfaStore.enableTotp(user.id, createdAt, 100, new Date())).toBe(true);
    expect(await mfaStore.enableTotp(user.id, createdAt, 101, new Date())).toBe(false);
    expect(await mfaStore.acceptStep(user.id, 100)).toBe(false);
    expect(await mfaStore.acceptStep(user.id, 99)).toBe(false);
    expect(await mfaStore.acceptStep(user.id, 101)).toBe(true);
    expect(await mfaStore.acceptStep(user.id, 101)).toBe(false);
    // An enabled authenticator is not replaced by a new enrolment.
    expect(await mfaStore.startTotp(user.id, "KRSXG5CTMVRXEZLU", new Date())).toBe(false);
    expect((await mfaStore.totpOf(user.id))?.secret).toBe("JBSWY3DPEHPK3PXP");
  });

  test("the TOTP secret is stored sealed, bound to its user; one stored before encryption still reads", async () => {
    const [alice, bob] = [await newUser(), await newUser()];
    await mfaStore.startTotp(alice.id, "JBSWY3DPEHPK3PXP", new Date());
    const raw = await store.openRepo(mfaTables, { name: "raw" });
    try {
      const { mfaTotp } = raw.tables;
      const rowOf = async (id: string) =>
        (await raw.read((db) => db.select().from(mfaTotp))).find((r) => r.userId === id) as { secret: string };
      const sealed = (await rowOf(alice.id)).secret;
      expect(sealed).toStartWith('{"_encrypted":true');
      expect(sealed).not.toContain("JBSWY3DPEHPK3PXP");
      expect((await mfaStore.totpOf(alice.id))?.secret).toBe("JBSWY3DPEHPK3PXP");
      // Alice's sealed secret copied to Bob's row does not open as Bob's.
      await raw.write((db) =>
        db
          .insert(mfaTotp)
          .values({ userId: bob.id, secret: sealed, createdAt: new Date(), enabledAt: null, lastStep: null }),
      );
      await expect(mfaStore.totpOf(bob.id)).rejects.toThrow("does not authenticate");
      // A secret written before encryption was turned on reads as it is.
      await raw.write((db) =>
        db.update(mfaTotp).set({ secret: "KRSXG5CTMVRXEZLU" }).where(sql`${mfaTotp.userId} = ${bob.id}`),
      );
      expect((await mfaStore.totpOf(bob.id))?.secret).toBe("KRSXG5CTMVRXEZLU");
    } finally {
      await raw.close();
    }
  });

  test("as an encrypted store: scanned in user order, replaced only where the value is still the one read", async () => {
    const users = [await newUser(), await newUser(), await newUser()];
    for (const u of users) await mfaStore.startTotp(u.id, "JBSWY3DPEHPK3PXP", new Date());
    const secrets = await totpSecretsStore(store);
    try {
      const all = [];
      for (let after: string | null = null; ; ) {
        const page = await secrets.scan(after, 2);
        if (page.length === 0) break;
        expect(page.length).toBeLessThanOrEqual(2);
        all.push(...page);
        after = page[page.length - 1]?.id as string;
      }
      const ids = all.map((f) => f.id);
      expect(ids).toEqual([...ids].sort());
      expect(ids).toEqual(expect.arrayContaining(users.map((u) => u.id)));
      const [first, second] = all.filter((f) => users.some((u) => u.id === f.id));
      if (first === undefined || second === undefined) throw new Error("scan missed the users");
      // The first is re-enrolled meanwhile: its replacement must not land.
      await mfaStore.startTotp(first.id, "KRSXG5CTMVRXEZLU", new Date());
      const rotated = ringOf([keyFromHex(generateKeyHex()), ...(ring as KeyRing).byId.values()], "test");
      const sealer = fieldSealer(() => rotated);
      const next = (f: typeof first) => sealer.seal("mfa_totp", sealer.open("mfa_totp", f.stored, f.ref), f.ref);
      expect(
        await secrets.replace([
          { ref: first.ref, previous: first.stored, next: next(first) },
          { ref: second.ref, previous: second.stored, next: next(second) },
        ]),
      ).toEqual([false, true]);
      ring = rotated;
      expect((await mfaStore.totpOf(first.id))?.secret).toBe("KRSXG5CTMVRXEZLU");
      expect((await mfaStore.totpOf(second.id))?.secret).toBe("JBSWY3DPEHPK3PXP");
      const [again] = await secrets.scan(null, 1000).then((fs) => fs.filter((f) => f.id === second.id));
      expect(again?.stored).toContain(`"kid":"${rotated.active.id}"`);
    } finally {
      await secrets.close();
    }
  });

  test("a recovery code is used once; a challenge is taken once", async () => {
    const user = await newUser();
    const hash = hashRecoveryCode("AAAA-BBBB-CCCC-DDDD");
    await mfaStore.replaceRecoveryCodes(user.id, [hash, hashRecoveryCode("EEEE-FFFF-GGGG-HHHH")], new Date());
    expect(await mfaStore.useRecoveryCode(user.id, hash, new Date())).toBe(true);
    expect(await mfaStore.useRecoveryCode(user.id, hash, new Date())).toBe(false);
    expect(await mfaStore.unusedRecoveryCodes(user.id)).toEqual([hashRecoveryCode("EEEE-FFFF-GGGG-HHHH")]);
    // Another user's code is not this user's.
    const other = await newUser();
    expect(await mfaStore.useRecoveryCode(other.id, hashRecoveryCode("EEEE-FFFF-GGGG-HHHH"), new Date())).toBe(false);

    const now = new Date();
    await mfaStore.insertChallenge(
      { tokenHash: "h1", userId: user.id, orgId, expiresAt: new Date(now.getTime() + 60_000) },
      now,
    );
    expect(await mfaStore.takeChallenge("h1", now)).toMatchObject({ userId: user.id, orgId });
    expect(await mfaStore.takeChallenge("h1", now)).toBeUndefined();
  });
});

describe("SecondFactor", () => {
  test("an enrolment not confirmed within 15 minutes is gone; a new one can start", async () => {
    const h = harness();
    const user = await newUser();
    const { secret } = await h.mfa.startEnrolment(user, CALL);
    h.clock.now += ENROLMENT_TTL_SECONDS * 1000;
    const late = await h.mfa.confirm(user.id, h.code(secret), CALL).catch((e: unknown) => e);
    expect((late as HttpError).code).toBe("no_pending_enrolment");
    expect((await h.mfa.status(user.id)).pending).toBe(false);
    const again = await h.mfa.startEnrolment(user, CALL);
    expect(again.secret).not.toBe(secret);
    expect(await h.mfa.confirm(user.id, h.code(again.secret), CALL)).toHaveLength(10);
    expect(await h.mfa.status(user.id)).toMatchObject({ enabled: true, recoveryCodesLeft: 10 });
  });

  test("a challenge expires after 5 minutes; within them a code makes a session whose tokens say pwd+otp", async () => {
    const h = harness();
    const user = await newUser();
    const { secret } = await h.mfa.startEnrolment(user, CALL);
    await h.mfa.confirm(user.id, h.code(secret), CALL);
    const membership = { orgId, role: "member" as const, workspaceId };

    const stale = await h.mfa.challengeFor(user, membership);
    h.clock.now += CHALLENGE_TTL_SECONDS * 1000;
    const late = await h.mfa
      .finish(stale?.challenge_token as string, { code: h.code(secret) }, CALL)
      .catch((e: unknown) => e);
    expect(late).toBeInstanceOf(HttpError);
    expect((late as HttpError).code).toBe("invalid_mfa_challenge");

    const fresh = await h.mfa.challengeFor(user, membership);
    const session = await h.mfa.finish(fresh?.challenge_token as string, { code: h.code(secret) }, CALL);
    const verified = await h.signer.verifyAccess(session.accessToken);
    expect(verified.ok && verified.claims.amr).toEqual(["pwd", "otp"]);
  });

  test("a user without MFA gets no challenge; the audit log never holds the secret or a code", async () => {
    const h = harness();
    const user = await newUser();
    expect(await h.mfa.challengeFor(user, { orgId, role: "member", workspaceId })).toBeUndefined();
    const { secret } = await h.mfa.startEnrolment(user, CALL);
    const codes = await h.mfa.confirm(user.id, h.code(secret), CALL);
    await h.mfa.disable(user.id, { recoveryCode: codes[0] as string }, CALL);
    expect(h.recorded.map((e) => `${e.action}/${e.outcome}`)).toEqual([
      "mfa.enrolment_started/success",
      "mfa.enabled/success",
      "mfa.recovery_code_used/success",
      "mfa.disabled/success",
    ]);
    const text = JSON.stringify(h.recorded);
    expect(text).not.toContain(secret);
    for (const c of codes) expect(text).not.toContain(c);
    expect(await mfaStore.totpOf(user.id)).toBeUndefined();
    expect(await mfaStore.unusedRecoveryCodes(user.id)).toEqual([]);
  });
});
