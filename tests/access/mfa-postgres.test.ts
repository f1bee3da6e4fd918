/**
 * MFA on PostgreSQL across two nodes: a challenge made on one is finished on the other, and a
 * code or recovery code accepted by one node is refused by the other (each works once, cluster-wide).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { claimsOf, enrolMfa, passwordStep, totpCode, verifyStep } from "./mfa-support.ts";
import { claimOwner, type Session, startAccessServer } from "./support.ts";

const pg = await postgresAvailable();

describe.skipIf(!pg)("MFA on PostgreSQL, across two nodes", () => {
  let db: TempDatabase;
  let a: TestServer;
  let b: TestServer;
  let owner: Session;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    a = await startAccessServer({ env: { DATABASE_URL: db.url } });
    b = await startAccessServer({ env: { DATABASE_URL: db.url } });
    const maker = [a, b].find((s) => existsSync(join(s.dataDir, "setup-token"))) as TestServer;
    await maker.waitForStderr("ara_setup_");
    owner = await claimOwner(maker);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.drop();
  });

  test("enrolled on one node, a sign-in started there is finished on the other; its code then works nowhere", async () => {
    const { secret, recoveryCodes } = await enrolMfa(a, owner);
    const code = totpCode(secret, 1);
    const done = await verifyStep(b, await passwordStep(a, owner.user.email), { code });
    expect(done.status).toBe(200);
    expect(claimsOf(done.body.access_token as string).amr).toEqual(["pwd", "otp"]);
    const replayed = await verifyStep(a, await passwordStep(a, owner.user.email), { code });
    expect(replayed.status).toBe(401);
    expect(replayed.body.message).toContain("already used");

    const recovery = recoveryCodes[0] as string;
    expect((await verifyStep(a, await passwordStep(b, owner.user.email), { recovery_code: recovery })).status).toBe(
      200,
    );
    const again = await verifyStep(b, await passwordStep(b, owner.user.email), { recovery_code: recovery });
    expect(again.status).toBe(401);
  });
});
