/**
 * `ops run rotate-keys.yml`, the runbook's key rotation, through real processes:
 *
 * - SQLite, one server, keys in a key file: the dry run writes nothing; `--yes --param grace=0`
 *   runs unattended (handed to the server) while an organisation's debates keep calling their
 *   provider with the organisation's own key, decrypted at every turn: none fails; afterwards the
 *   key file holds the new key alone, every record and the backup are on it, the server reports it;
 * - the emergency variant revokes the API keys and sessions issued since the compromise (those
 *   from before keep working) and writes the incident review;
 * - kill -9 of the `ops` process (a run in process) and of the server (a run it executes), each
 *   stopped at the grace gate: `ops resume` (or the restarted server itself) finishes the run;
 * - keys from ARAGORA_ENCRYPTION_KEY: the playbook writes the key list to deploy (mode 0600, new
 *   key first) and waits at a gate naming it, then re-encrypts with the list it deployed;
 * - PostgreSQL, two servers sharing the key file: the rotation waits for both to take the new key,
 *   and neither fails a request meanwhile.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { verifyArchiveInMemory } from "../../ops/backup/archive.ts";
import { backupKeyIds } from "../../ops/backup/backup-keys.ts";
import { parseKeyFile } from "../../runtime/security/encryption-keys.ts";
import { becomes, call, claimOwner, type Session, startAccessServer } from "../access/support.ts";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { events, ops, showRun, spawnOps } from "../ops/support.ts";
import { type TestServer, tempDir } from "../support/server.ts";
import { postgresAvailable } from "../support/services.ts";
import {
  cliEnv,
  type Deployment,
  deployment,
  HEX_A,
  keyCounts,
  keysCli,
  ringA,
  sealedFor,
  seededIds,
  type TotpTable,
  totpTable,
} from "./support.ts";

setDefaultTimeout(120_000);

const ORG_MISTRAL_KEY = "acme-own-mistral-key-R0T8";
const SEAT = "mistral:mistral-large-latest";

/** A key file holding `hex` (mode 0600) in a folder of its own; its path. */
function keyFileWith(hex: string): string {
  const path = join(tempDir("aragora-keyfile-"), "keys");
  writeFileSync(path, `# the deployment's keys\n${hex}\n`);
  chmodSync(path, 0o600);
  return path;
}

/** The key ids in a key file, the active one first. */
const keyIdsIn = (path: string) => [...parseKeyFile(readFileSync(path, "utf8"), path).ids];

/** Runs debates one after another as `who` until `stop()`; each must finish with every seat answered. */
function debateLoop(server: TestServer, who: Session) {
  let running = true;
  const results: { id: string; status: string; failedSeats: number }[] = [];
  const done = (async () => {
    while (running) {
      const created = await call<{ debate_id: string }>(server, "POST", "/api/debates", {
        token: who.access_token,
        body: { question: "Does the rotation stop this debate?", agents: [SEAT, "demo:alice"], rounds: 1 },
      });
      if (created.status !== 201) throw new Error(`debate refused: ${created.status} ${JSON.stringify(created.body)}`);
      const id = created.body.debate_id;
      for (let i = 0; ; i++) {
        const record = await call<{ status: string; summary: { failed_seats: Record<string, string> } | null }>(
          server,
          "GET",
          `/api/debates/${id}`,
          { token: who.access_token },
        );
        if (record.status !== 200) throw new Error(`GET /api/debates/${id}: ${record.status}`);
        if (record.body.status !== "running") {
          results.push({
            id,
            status: record.body.status,
            failedSeats: Object.keys(record.body.summary?.failed_seats ?? {}).length,
          });
          break;
        }
        if (i > 1200) throw new Error(`debate ${id} did not finish`);
        await Bun.sleep(25);
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return results;
    },
  };
}

describe("rotate-keys.yml on SQLite, one server, keys in a key file", () => {
  let dep: Deployment;
  let keyFile: string;
  let fake: FakeProvider;
  let server: TestServer;
  let owner: Session;
  let table: TotpTable;
  let serverEnv: Record<string, string>;
  let env: Record<string, string>;

  beforeAll(async () => {
    dep = await deployment("sqlite");
    keyFile = keyFileWith(HEX_A);
    fake = await startFakeProvider();
    serverEnv = {
      ARAGORA_ENCRYPTION_KEY_FILE: keyFile,
      // No server key for Mistral: the organisation's own is the only way its seats run.
      MISTRAL_BASE_URL: fake.baseUrl("mistral"),
      ARAGORA_DEMO_TOKEN_DELAY_MS: "0",
      ARAGORA_AGENT_MAX_ATTEMPTS: "1",
    };
    server = await startAccessServer({ dataDir: dep.dataDir, keepDataDir: true, env: serverEnv });
    owner = await claimOwner(server);
    const set = await call(server, "PUT", "/api/org/provider-keys/mistral", {
      token: owner.access_token,
      body: { key: ORG_MISTRAL_KEY },
    });
    expect(set.status).toBe(201);
    table = await totpTable(dep);
    await table.seed(seededIds("0000", 300), sealedFor(ringA));
    await table.seed(seededIds("ffff", 20), (_id, secret) => secret);
    env = { ...cliEnv(dep), ARAGORA_ENCRYPTION_KEY_FILE: keyFile };
  }, 60_000);
  afterAll(async () => {
    await table?.close();
    await server?.stop();
    await fake?.stop();
    await dep?.remove();
  });

  test("the dry run plans every step and writes nothing", async () => {
    const keysBefore = readFileSync(keyFile, "utf8");
    const rowsBefore = await table.all();
    const r = await ops(["run", "rotate-keys", "--dry-run"], env);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    expect(r.stdout).toContain(`would put a new key in front of ${ringA.active.id} in ${keyFile}`);
    expect(r.stdout).toContain("nodes: would keys.await_nodes with inputs known only at run time");
    expect(r.stdout).toContain("grace: would wait 7d from the step's start");
    expect(readFileSync(keyFile, "utf8")).toBe(keysBefore);
    expect(await table.all()).toEqual(rowsBefore);
    expect(existsSync(join(dep.dataDir, "backups"))).toBe(false);
  });

  test("unattended (--yes, grace 0): debates on the organisation's own key keep running; everything ends on the new key", async () => {
    const loop = debateLoop(server, owner);
    await Bun.sleep(300);
    const r = await ops(["run", "rotate-keys", "--yes", "--json", "--param", "grace=0"], env);
    const debates = await loop.stop();
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const seen = events(r.stdout);
    const added = seen.find((e) => e.kind === "step_output" && e.step === "add")?.outputs as {
      key_id: string;
      previous_key_ids: string[];
      deploy: string;
    };
    expect(added).toMatchObject({ previous_key_ids: [ringA.active.id], deploy: "file" });
    const newKey = added.key_id;

    // The server kept serving: every debate finished with both seats answered on the org's key.
    expect(debates.length).toBeGreaterThan(0);
    expect(debates.filter((d) => d.status !== "completed" || d.failedSeats > 0)).toEqual([]);
    const auth = new Set(fake.requests.filter((q) => q.provider === "mistral").map((q) => q.headers.authorization));
    expect(auth).toEqual(new Set([`Bearer ${ORG_MISTRAL_KEY}`]));

    // The key file holds the new key alone (its comments kept); every record and the backup are on it.
    expect(keyIdsIn(keyFile)).toEqual([newKey]);
    expect(readFileSync(keyFile, "utf8")).toContain("# the deployment's keys");
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(keyCounts(await table.all())).toEqual({ [newKey]: 320 });
    const backups = backupKeyIds(join(dep.dataDir, "backups"));
    expect(backups.map((b) => b.keyId)).toEqual([newKey]);
    const ring = parseKeyFile(readFileSync(keyFile, "utf8"), keyFile);
    const verified = await verifyArchiveInMemory((backups[0] as { path: string }).path, ring);
    expect(verified.problems).toEqual([]);
    expect(verified.keyId).toBe(newKey);
    expect(verified.manifest.databases.map((d) => d.name)).toContain("core.db");
    const verify = await keysCli(dep, ["keys", "status"], undefined);
    expect(verify.code).toBe(1); // without the key file: the records' key is not configured
    const withFile = await ops(["run", "rotate-keys", "--dry-run"], env);
    expect(withFile.stdout).toContain(`would put a new key in front of ${newKey}`);

    // The server re-read the file: it reports the new key alone.
    const status = await server.fetch("/api/admin/keys");
    expect(((await status.json()) as { active_key_id: string; key_ids: string[] }).key_ids).toEqual([newKey]);
    const steps = (await showRun(String(seen[0]?.run_id), env)).steps;
    expect(steps.filter((s) => s.status !== "succeeded" && s.status !== "skipped")).toEqual([]);
  });

  test("emergency: the credentials issued since the compromise are revoked, older ones work, the incident is recorded", async () => {
    const makeKey = (name: string) =>
      call<{ key: string; id: string }>(server, "POST", "/api/auth/api-key", {
        token: owner.access_token,
        body: { name },
      });
    const before = await makeKey("before the compromise");
    expect(before.status).toBe(201);
    await Bun.sleep(20);
    const since = new Date().toISOString();
    await Bun.sleep(20);
    const after = await makeKey("minted after the compromise");
    expect(after.status).toBe(201);
    const asKey = (key: string) => server.fetch("/api/debates", { headers: { authorization: `Bearer ${key}` } });
    expect((await asKey(after.body.key)).status).toBe(200);

    const r = await ops(
      [
        "run",
        "rotate-keys",
        "--yes",
        "--json",
        "--param",
        "emergency=true",
        "--param",
        `compromised_since=${since}`,
        "--param",
        "title=key-leak",
      ],
      env,
    );
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const seen = events(r.stdout);
    const revoked = seen.find((e) => e.kind === "step_output" && e.step === "revoke")?.outputs;
    // The owner's session from claimOwner is older than `since`; the key minted after it is revoked.
    expect(revoked).toMatchObject({ api_keys: 1, sessions: 0 });
    expect(seen.some((e) => e.kind === "step_skipped" && e.step === "grace")).toBe(true);
    // A revoked key stops working within a second (polled, not slept: the wait ends when it does).
    await becomes(401, () => asKey(after.body.key), 1500);
    expect((await asKey(before.body.key)).status).toBe(200);

    const incidents = readdirSync(join(dep.dataDir, "incidents"));
    const review = readFileSync(
      join(dep.dataDir, "incidents", incidents.find((f) => f.includes("key-leak")) ?? ""),
      "utf8",
    );
    expect(review).toContain("# Incident: ");
    expect(review).toContain("1 API keys and 0 sessions issued since");
    expect(review).toContain("## Timeline");
    expect(review).toContain("revoke: step output (outputs: api_keys=1, sessions=0");
    const audit = await server.fetch("/api/admin/audit?action=credentials.revoked");
    expect(JSON.stringify(await audit.json())).toContain("credentials.revoked");
  });

  test("kill -9 of the ops process at the grace gate: ops resume finishes the rotation", async () => {
    const run = spawnOps(["run", "rotate-keys", "--yes", "--json", "--local", "--param", "grace_approval=true"], env);
    const waiting = await run.waitFor((e) => e.kind === "approval_waiting" && e.step === "grace_gate", 60_000);
    const runId = String(waiting.run_id);
    const newKey = keyIdsIn(keyFile)[0] as string;
    expect(keyIdsIn(keyFile)).toHaveLength(2);
    run.proc.kill(9);
    await run.exited;
    expect((await ops(["approve", runId, "grace_gate", "--role", "operator"], env)).code).toBe(0);
    const resumed = await ops(["resume", runId, "--json"], env);
    expect({ code: resumed.code, stderr: resumed.stderr, out: resumed.stdout.slice(-3000) }).toMatchObject({ code: 0 });
    expect((await showRun(runId, env)).run.status).toBe("succeeded");
    expect(keyIdsIn(keyFile)).toEqual([newKey]);
    expect(keyCounts(await table.all())).toEqual({ [newKey]: 320 });
  });

  test("kill -9 of the server executing the run: the restarted server resumes it, the gate approved after", async () => {
    const run = spawnOps(["run", "rotate-keys", "--yes", "--json", "--param", "grace_approval=true"], env);
    const waiting = await run.waitFor((e) => e.kind === "approval_waiting" && e.step === "grace_gate", 60_000);
    const runId = String(waiting.run_id);
    const newKey = keyIdsIn(keyFile)[0] as string;
    server.proc.kill(9);
    await server.exited;
    await run.exited;
    server = await startAccessServer({ dataDir: dep.dataDir, keepDataDir: true, env: serverEnv });
    expect((await ops(["approve", runId, "grace_gate", "--role", "operator"], env)).code).toBe(0);
    for (let i = 0; ; i++) {
      const shown = await showRun(runId, env);
      if (shown.run.status === "succeeded") break;
      if (!["running", "waiting_approval"].includes(shown.run.status) || i > 600) {
        throw new Error(`run ${runId}: ${shown.run.status} ${shown.run.error}`);
      }
      await Bun.sleep(100);
    }
    expect(keyIdsIn(keyFile)).toEqual([newKey]);
    expect(keyCounts(await table.all())).toEqual({ [newKey]: 320 });
  });
});

describe("rotate-keys.yml with keys from ARAGORA_ENCRYPTION_KEY (nothing to write but a value to deploy)", () => {
  let dep: Deployment;
  let table: TotpTable;

  beforeAll(async () => {
    dep = await deployment("sqlite");
    // The server makes the store, then stops: the rotation runs in the ops process alone.
    const server = await startAccessServer({
      dataDir: dep.dataDir,
      keepDataDir: true,
      env: { ARAGORA_ENCRYPTION_KEY: HEX_A },
    });
    await server.stop();
    table = await totpTable(dep);
    await table.seed(seededIds("0000", 50), sealedFor(ringA));
  }, 60_000);
  afterAll(async () => {
    await table?.close();
    await dep?.remove();
  });

  test("the gates name the files to deploy (0600, new key first); the records end on the deployed key", async () => {
    const env = cliEnv(dep, HEX_A);
    const run = spawnOps(["run", "rotate-keys", "--yes", "--json", "--param", "grace=0"], env);
    const gate = await run
      .waitFor((e) => e.kind === "approval_waiting" && e.step === "deploy", 60_000)
      .catch((err: Error) => {
        throw new Error(
          `${err.message} exit=${run.proc.exitCode} pid=${run.proc.pid} env=${JSON.stringify(env)}\n${run.events.map((e) => JSON.stringify(e)).join("\n")}`,
        );
      });
    const runId = String(gate.run_id);
    const added = run.events.find((e) => e.kind === "step_output" && e.step === "add")?.outputs as {
      key_id: string;
      deploy: string;
      deploy_file: string;
    };
    expect(added.deploy).toBe("manual");
    expect(statSync(added.deploy_file).mode & 0o777).toBe(0o600);
    const deployed = readFileSync(added.deploy_file, "utf8");
    const value = deployed.split("\n").find((l) => l.startsWith("ARAGORA_ENCRYPTION_KEY=")) ?? "";
    expect(value.split("=")[1]?.split(",")).toHaveLength(2);
    expect(value.endsWith(`,${HEX_A}`)).toBe(true);
    // The gate's message names the file; the key material is in no event.
    expect(JSON.stringify(run.events)).toContain(added.deploy_file);
    expect(JSON.stringify(run.events)).not.toContain(HEX_A);

    expect((await ops(["approve", runId, "deploy", "--role", "operator"], env)).code).toBe(0);
    const undeploy = await run
      .waitFor((e) => e.kind === "approval_waiting" && e.step === "undeploy", 60_000)
      .catch((err: Error) => {
        throw new Error(`${err.message}\n${run.events.map((e) => JSON.stringify(e)).join("\n")}`);
      });
    expect(keyCounts(await table.all())).toEqual({ [added.key_id]: 50 });
    const retired = run.events.find((e) => e.kind === "step_output" && e.step === "retire")?.outputs as {
      deploy_file: string;
    };
    const last = readFileSync(retired.deploy_file, "utf8");
    expect(last).not.toContain(HEX_A);
    // The list with the old key is gone once the list without it is written.
    expect(existsSync(added.deploy_file)).toBe(false);
    expect((await ops(["approve", String(undeploy.run_id), "undeploy", "--role", "operator"], env)).code).toBe(0);
    expect(await run.exited).toBe(0);
  });
});

const pg = await postgresAvailable();

describe.skipIf(!pg)("rotate-keys.yml on PostgreSQL, two servers sharing the key file", () => {
  let dep: Deployment;
  let keyFile: string;
  let servers: TestServer[];
  let owner: Session;
  let table: TotpTable;

  beforeAll(async () => {
    dep = await deployment("postgres");
    keyFile = keyFileWith(HEX_A);
    const env = { ...dep.env, ARAGORA_ENCRYPTION_KEY_FILE: keyFile, ARAGORA_DEMO_TOKEN_DELAY_MS: "0" };
    const first = await startAccessServer({ dataDir: dep.dataDir, keepDataDir: true, env });
    const second = await startAccessServer({ env });
    servers = [first, second];
    owner = await claimOwner(first);
    table = await totpTable(dep);
    await table.seed(seededIds("0000", 200), sealedFor(ringA));
  }, 60_000);
  afterAll(async () => {
    await table?.close();
    for (const s of servers ?? []) await s.stop();
    await dep?.remove();
  });

  test("the rotation waits for both nodes; neither fails a request meanwhile; both end on the new key alone", async () => {
    let running = true;
    const failures: string[] = [];
    let requests = 0;
    const load = (async () => {
      while (running) {
        for (const s of servers) {
          const res = await call(s, "GET", "/api/debates", { token: owner.access_token });
          requests++;
          if (res.status !== 200) failures.push(`${s.api}: ${res.status}`);
        }
        // Paced under the per-caller rate limit: a refusal here would be the limiter, not the rotation.
        await Bun.sleep(100);
      }
    })();
    const env = { ...cliEnv(dep), ARAGORA_ENCRYPTION_KEY_FILE: keyFile };
    const r = await ops(["run", "rotate-keys", "--yes", "--json", "--param", "grace=0"], env);
    running = false;
    await load;
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 });
    const seen = events(r.stdout);
    expect(seen.some((e) => e.kind === "step_skipped" && e.step === "backup")).toBe(true);
    const nodes = seen.find((e) => e.kind === "step_output" && e.step === "nodes")?.outputs;
    expect(nodes).toMatchObject({ nodes: 2 });
    const newKey = keyIdsIn(keyFile)[0] as string;
    expect(keyIdsIn(keyFile)).toEqual([newKey]);
    expect(keyCounts(await table.all())).toEqual({ [newKey]: 200 });
    for (const s of servers) {
      const status = (await (await s.fetch("/api/admin/keys")).json()) as { key_ids: string[] };
      expect(status.key_ids).toEqual([newKey]);
    }
    expect(requests).toBeGreaterThan(10);
    expect(failures).toEqual([]);
  });
});
