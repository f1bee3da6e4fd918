/**
 * The ops journal on PostgreSQL (DATABASE_URL): a run with a secret is journaled without it, and a
 * run killed mid-step resumes from the PostgreSQL journal in a new process.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import postgres from "postgres";
import { tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { events, fixture, ops, showRun, spawnOps } from "./support.ts";

// Every test drives `ops` (and servers) as subprocesses: room for a loaded 2-core machine.
setDefaultTimeout(30_000);

const pg = await postgresAvailable();

describe.skipIf(!pg)("ops on PostgreSQL", () => {
  let db: TempDatabase;
  let env: Record<string, string>;
  const dir = tempDir("aragora-ops-pg-");
  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    env = { ARAGORA_DATA_DIR: dir, DATABASE_URL: db.url };
  });
  afterAll(async () => {
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a run is journaled in PostgreSQL, secrets redacted", async () => {
    const r = await ops(["run", fixture("smoke.yml"), "-p", "token=pg-s3cr3t-value", "--json"], env);
    expect(r.code).toBe(0);
    const list = events(r.stdout);
    const runId = list[0]?.run_id as string;
    const shown = await showRun(runId, env);
    expect(shown.run.status).toBe("succeeded");
    expect(shown.run.params.token).toBe("***");
    expect(shown.journal.map((e) => e.seq)).toEqual(list.map((e) => e.seq));
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const [counts] = await sql`SELECT
        (SELECT count(*)::int FROM ops_runs WHERE id = ${runId}) AS runs,
        (SELECT count(*)::int FROM ops_journal WHERE run_id = ${runId}) AS lines`;
      expect(counts).toEqual({ runs: 1, lines: list.length });
      const leaks = await sql`SELECT 1 FROM ops_runs r JOIN ops_journal j ON j.run_id = r.id
        LEFT JOIN ops_steps s ON s.run_id = r.id
        WHERE r.id = ${runId} AND (r.params LIKE '%pg-s3cr3t%' OR j.data LIKE '%pg-s3cr3t%' OR s.outputs LIKE '%pg-s3cr3t%')`;
      expect(leaks).toHaveLength(0);
    } finally {
      await sql.end({ timeout: 1 });
    }
    // Nothing went to a SQLite file: the data dir holds no database.
    expect(await Bun.file(`${dir}/core.db`).exists()).toBe(false);
  });

  test("a run killed mid-step resumes from the PostgreSQL journal", async () => {
    const run = spawnOps(["run", fixture("resume.yml"), "--json"], { ...env, OPS_TEST_NAP: "1m", OPS_TEST_EXEC: "0" });
    const runId = (await run.waitFor((e) => e.kind === "attempt_started" && e.step === "nap")).run_id;
    run.proc.kill("SIGKILL");
    await run.exited;
    const r = await ops(["resume", runId, "--json"], { ...env, OPS_TEST_NAP: "1ms", OPS_TEST_EXEC: "0" });
    expect(r.code).toBe(0);
    expect(events(r.stdout)[0]).toMatchObject({ kind: "step_resumed", step: "nap" });
    const shown = await showRun(runId, env);
    expect(shown.run.status).toBe("succeeded");
    expect(shown.journal.map((e) => e.seq)).toEqual(shown.journal.map((_, i) => i + 1));
  });
});
