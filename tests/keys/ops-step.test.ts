/**
 * `keys.encrypt_existing` as a playbook step: its plan is the dry run (nothing written); run by
 * `ops run`, handed to the server that holds the data dir, it re-encrypts every record there and
 * the server's `aragora_migration_records_total` counts them; with `--local` it runs in the ops
 * process itself, the same way.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { metricValue } from "../access/mfa-support.ts";
import { startAccessServer } from "../access/support.ts";
import { events, ops } from "../ops/support.ts";
import type { TestServer } from "../support/server.ts";
import {
  cliEnv,
  type Deployment,
  deployment,
  HEX_A,
  HEX_B,
  keyCounts,
  ringA,
  ringB,
  sealedFor,
  seededIds,
  startKeyServer,
  type TotpTable,
  totpTable,
} from "./support.ts";

const BA = `${HEX_B},${HEX_A}`;
const PLAYBOOK = `name: reencrypt
description: "Every stored secret on the active key"
steps:
  - id: reencrypt
    action: keys.encrypt_existing
    with: { batch_size: 50 }
    timeout: 5m
`;

describe("keys.encrypt_existing", () => {
  let dep: Deployment;
  let server: TestServer;
  let table: TotpTable;
  let playbook: string;

  beforeAll(async () => {
    dep = await deployment("sqlite");
    server = await startKeyServer(dep, BA);
    table = await totpTable(dep);
    await table.seed(seededIds("0000", 200), sealedFor(ringA));
    await table.seed(seededIds("ffff", 20), (_id, secret) => secret);
    playbook = join(dep.dataDir, "reencrypt.yml");
    writeFileSync(playbook, PLAYBOOK);
  }, 60_000);
  afterAll(async () => {
    await table?.close();
    await server?.stop();
    await dep?.remove();
  });

  test("the dry run plans what it would write and writes nothing", async () => {
    const before = await table.all();
    const r = await ops(["run", playbook, "--dry-run"], cliEnv(dep, BA));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `would encrypt with key ${ringB.active.id}: mfa_totp: 20 plaintext and 200 on older keys of 220 records`,
    );
    expect(r.stdout).toContain("20 to encrypt (plaintext), 200 to re-encrypt");
    expect(await table.all()).toEqual(before);
  });

  test("handed to the server: every record re-encrypted there, counted in the server's metrics", async () => {
    const r = await ops(["run", playbook, "--yes", "--json"], cliEnv(dep, BA));
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const outputs = events(r.stdout).find((e) => e.kind === "step_output" && e.step === "reencrypt")?.outputs;
    expect(outputs).toMatchObject({
      records: 220,
      encrypted: 20,
      reencrypted: 200,
      failed: 0,
      active_key_id: ringB.active.id,
    });
    expect(keyCounts(await table.all())).toEqual({ [ringB.active.id]: 220 });
    expect(await metricValue(server, 'aragora_migration_records_total{store="mfa_totp",status="reencrypted"}')).toBe(
      200,
    );
    expect(await metricValue(server, 'aragora_migration_records_total{store="mfa_totp",status="encrypted"}')).toBe(20);
  }, 60_000);

  test("run in the ops process (--local): the same", async () => {
    await table.seed(seededIds("0000", 30), sealedFor(ringA));
    const r = await ops(["run", playbook, "--yes", "--json", "--local"], cliEnv(dep, BA));
    expect(r.code).toBe(0);
    const outputs = events(r.stdout).find((e) => e.kind === "step_output" && e.step === "reencrypt")?.outputs;
    expect(outputs).toMatchObject({ records: 250, reencrypted: 30, skipped: 220, failed: 0 });
    expect(keyCounts(await table.all())).toEqual({ [ringB.active.id]: 250 });
    // The server did not run this one: its counters are as they were.
    expect(await metricValue(server, 'aragora_migration_records_total{store="mfa_totp",status="reencrypted"}')).toBe(
      200,
    );
  }, 60_000);
});

describe("keys.retire", () => {
  let dep: Deployment;
  let server: TestServer;
  let table: TotpTable;
  let keyFile: string;
  let playbook: string;
  let env: Record<string, string>;
  const onOldKey = seededIds("0000", 5);

  beforeAll(async () => {
    dep = await deployment("sqlite");
    keyFile = join(dep.dataDir, "..", `${dep.dataDir.split("/").pop()}.keys`);
    writeFileSync(keyFile, `${HEX_B}\n${HEX_A}\n`, { mode: 0o600 });
    env = { ...cliEnv(dep), ARAGORA_ENCRYPTION_KEY_FILE: keyFile };
    server = await startAccessServer({ dataDir: dep.dataDir, env: { ARAGORA_ENCRYPTION_KEY_FILE: keyFile } });
    table = await totpTable(dep);
    await table.seed(onOldKey, sealedFor(ringA));
    playbook = join(dep.dataDir, "retire.yml");
    writeFileSync(
      playbook,
      `name: retire\ndescription: "The old key out"\nsteps:\n  - id: retire\n    action: keys.retire\n    with: { key_ids: ["${ringA.active.id}"] }\n    timeout: 1m\n`,
    );
  }, 60_000);
  afterAll(async () => {
    await table?.close();
    await server?.stop();
    await dep?.remove();
    rmSync(keyFile, { force: true });
  });

  test("refused while a record needs the old key, naming the store; done once none does", async () => {
    const refused = await ops(["run", playbook, "--yes", "--local"], env);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toContain(
      `mfa_totp: 5 records still encrypted with the old key ${ringA.active.id}`,
    );
    expect(readFileSync(keyFile, "utf8")).toContain(HEX_A);

    await table.remove(onOldKey);
    const done = await ops(["run", playbook, "--yes", "--local"], env);
    expect({ code: done.code, stderr: done.stderr }).toMatchObject({ code: 0 });
    expect(readFileSync(keyFile, "utf8")).not.toContain(HEX_A);
    expect(readFileSync(keyFile, "utf8")).toContain(HEX_B);
  }, 60_000);
});
