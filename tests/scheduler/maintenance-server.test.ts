/**
 * Maintenance schedules through the real server process, on SQLite and on PostgreSQL: a schedule
 * triggered now runs its shipped playbook through the server's runbook interpreter (the run is in
 * GET /api/ops/runs with the playbook's steps, the schedule shows its last run, outcome and next
 * run, the run counter moves), and across a real restart a run that fell due while the server was
 * down is handled by the schedule's policy: `run_once` runs it once at start, `skip` records a miss.
 *
 * Downtime is simulated by moving the persisted next run into the past while the server is
 * stopped: that row is exactly what a longer outage would leave behind, without a test sleeping.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";

const TOKEN = "scheduler-maintenance-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };
const HOUR = 3_600_000;
/** Midnight on January 1st for every maintenance schedule, so none fires by itself during the test. */
const YEARLY = "0 0 1 1 *";
const QUIET_CRON = ["wal-checkpoint", "backup", "analyze", "cleanup"].map((n) => `${n}=${YEARLY}`).join(";");

interface Schedule {
  name: string;
  schedule: string;
  running: boolean;
  missed_policy: string;
  next_run_at: string | null;
  last_run: { started_at: string | null; finished_at: string | null; outcome: string | null; error: string | null };
  stats: { runs: number; failures: number; items: number };
}
interface RunSummary {
  id: string;
  playbook: string;
  status: string;
  started_by: string;
  dry_run: boolean;
}

/** What differs between the backends: which schedules exist, and how to move a next run into the past. */
interface Backend {
  label: string;
  /** Schedules the server lists, in order. */
  schedules: string[];
  /** A schedule to trigger by hand, with its playbook and that playbook's steps. */
  manual: { schedule: string; playbook: string; steps: { step_id: string; action: string }[] };
  /** A `run_once` schedule that catches up after the restart, and its playbook. */
  catchUp: { schedule: string; playbook: string };
  /** A `skip` schedule that records the miss (absent when the backend has none). */
  skipped?: string;
  setup(): Promise<{ env: Record<string, string>; dataDir: string; teardown(): Promise<void> }>;
  /** Set `schedules.next_run_at` of `names` to `at` while no server runs. */
  backdate(dataDir: string, names: string[], at: Date): Promise<void>;
}

const sqlite: Backend = {
  label: "SQLite",
  schedules: ["receipt-retention", "wal-checkpoint", "backup", "analyze", "cleanup"],
  manual: {
    schedule: "wal-checkpoint",
    playbook: "maintenance-daily",
    steps: [{ step_id: "checkpoint", action: "db.checkpoint" }],
  },
  catchUp: { schedule: "analyze", playbook: "maintenance-weekly" },
  skipped: "wal-checkpoint",
  async setup() {
    return { env: {}, dataDir: tempDir(), teardown: async () => {} };
  },
  async backdate(dataDir, names, at) {
    const db = new Database(join(dataDir, "core.db"));
    try {
      db.run("PRAGMA busy_timeout = 5000");
      const update = db.prepare("UPDATE schedules SET next_run_at = ? WHERE name = ?");
      for (const name of names) expect(update.run(at.getTime(), name).changes).toBe(1);
    } finally {
      db.close();
    }
  },
};

let pgUrl = "";
const postgresBackend: Backend = {
  label: "PostgreSQL",
  // The SQLite upkeep schedules are left out: PostgreSQL checkpoints, analyzes and is backed up on its own.
  schedules: ["receipt-retention", "cleanup"],
  manual: { schedule: "cleanup", playbook: "cleanup", steps: [{ step_id: "prune", action: "cleanup.prune" }] },
  catchUp: { schedule: "cleanup", playbook: "cleanup" },
  async setup() {
    const db: TempDatabase = await createTempPostgresDatabase();
    pgUrl = db.url;
    return { env: { DATABASE_URL: db.url }, dataDir: tempDir(), teardown: () => db.drop() };
  },
  async backdate(_dataDir, names, at) {
    const sql = postgres(pgUrl, { max: 1, onnotice: () => {} });
    try {
      for (const name of names) {
        const result = await sql`UPDATE schedules SET next_run_at = ${at} WHERE name = ${name}`;
        expect(result.count).toBe(1);
      }
    } finally {
      await sql.end({ timeout: 1 });
    }
  },
};

const pg = await postgresAvailable();

async function getJson<T>(server: TestServer, path: string): Promise<T> {
  const res = await server.fetch(`${path}`, { headers: auth });
  expect(res.status).toBe(200);
  return (await res.json()) as T;
}

async function schedulesOf(server: TestServer): Promise<Record<string, Schedule>> {
  const body = await getJson<{ schedulers: Schedule[] }>(server, "/api/admin/schedulers");
  return Object.fromEntries(body.schedulers.map((s) => [s.name, s]));
}

/** The scheduler's log line for the end of a run of `schedule` (finished or failed). */
function runEnded(server: TestServer, schedule: string, after = 0) {
  let seen = 0;
  return server.waitForLog((l) => {
    if (l.schedule !== schedule || (l.msg !== "scheduled run finished" && l.msg !== "scheduled run failed")) {
      return false;
    }
    return seen++ >= after;
  }, 30_000);
}

/** One sample of aragora_scheduler_runs_total, 0 when the series does not exist yet. */
async function runsMetric(server: TestServer, schedule: string, outcome: string): Promise<number> {
  const text = await (await server.fetch(`/api/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`aragora_scheduler_runs_total{schedule="${schedule}",outcome="${outcome}"} `));
  return line === undefined ? 0 : Number(line.split(" ")[1]);
}

function describeBackend(backend: Backend, enabled: boolean) {
  describe.skipIf(!enabled)(`maintenance schedules on ${backend.label}`, () => {
    let server: TestServer;
    let env: Record<string, string>;
    let dataDir: string;
    let teardown: () => Promise<void>;
    const start = () =>
      startTestServer({ dataDir, env: { ARAGORA_API_TOKEN: TOKEN, ARAGORA_MAINTENANCE_CRON: QUIET_CRON, ...env } });

    beforeAll(async () => {
      ({ env, dataDir, teardown } = await backend.setup());
      server = await start();
    });
    afterAll(async () => {
      await server?.stop();
      await teardown?.();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    test("a schedule run now executes its shipped playbook through the server's runbook interpreter", async () => {
      const { schedule, playbook, steps } = backend.manual;
      const listed = await getJson<{ schedulers: Schedule[] }>(server, "/api/admin/schedulers");
      expect(listed.schedulers.map((s) => s.name)).toEqual(backend.schedules);
      expect(listed.schedulers.find((s) => s.name === schedule)?.schedule).toBe(`cron ${YEARLY} (UTC)`);
      expect(await runsMetric(server, schedule, "succeeded")).toBe(0);

      const ended = runEnded(server, schedule);
      const res = await fetch(`${server.api}/api/admin/schedulers/${schedule}/run`, { method: "POST", headers: auth });
      expect(res.status).toBe(202);
      expect(await res.json()).toEqual({ started: true });
      expect((await ended).msg).toBe("scheduled run finished");

      const { runs } = await getJson<{ runs: RunSummary[] }>(server, "/api/ops/runs");
      const run = runs.find((r) => r.playbook === playbook);
      expect(run).toMatchObject({ status: "succeeded", started_by: "scheduler", dry_run: false });
      const detail = await getJson<{ steps: { step_id: string; action: string; status: string }[] }>(
        server,
        `/api/ops/runs/${run?.id}`,
      );
      expect(detail.steps).toEqual(steps.map((s) => expect.objectContaining({ ...s, status: "succeeded" })));

      const status = (await schedulesOf(server))[schedule];
      expect(status).toMatchObject({
        running: false,
        last_run: { outcome: "succeeded", error: null },
        stats: { runs: 1, failures: 0 },
      });
      const finished = Date.parse(String(status?.last_run.finished_at));
      expect(finished).toBeGreaterThanOrEqual(Date.parse(String(status?.last_run.started_at)));
      // A manual run leaves the next scheduled slot where it was: still ahead.
      expect(Date.parse(String(status?.next_run_at))).toBeGreaterThan(Date.now());
      expect(await runsMetric(server, schedule, "succeeded")).toBe(1);
    });

    test("a run missed while the server was down: run_once catches up at start, skip records it", async () => {
      expect(await server.stop()).toBe(0);
      const missed = backend.skipped ? [backend.catchUp.schedule, backend.skipped] : [backend.catchUp.schedule];
      const dueAt = new Date(Date.now() - 2 * HOUR);
      await backend.backdate(dataDir, missed, dueAt);
      server = await start();
      const ended = await runEnded(server, backend.catchUp.schedule);
      expect(ended.msg).toBe("scheduled run finished");
      const started = server.logs().find((l) => l.schedule === backend.catchUp.schedule && l.trigger === "missed");
      expect(started?.scheduled_for).toBe(dueAt.toISOString());

      const schedules = await schedulesOf(server);
      const catchUp = schedules[backend.catchUp.schedule];
      // Once, however long the outage; on top of the manual run when it is the same schedule.
      const expectedRuns = backend.catchUp.schedule === backend.manual.schedule ? 2 : 1;
      expect(catchUp).toMatchObject({ last_run: { outcome: "succeeded" }, stats: { runs: expectedRuns } });
      expect(Date.parse(String(catchUp?.next_run_at))).toBeGreaterThan(Date.now());
      expect(await runsMetric(server, backend.catchUp.schedule, "succeeded")).toBe(1);
      const { runs } = await getJson<{ runs: RunSummary[] }>(server, "/api/ops/runs");
      const catchUpRuns = runs.filter((r) => r.playbook === backend.catchUp.playbook);
      expect(catchUpRuns).toHaveLength(expectedRuns);
      expect(catchUpRuns[0]).toMatchObject({ status: "succeeded", started_by: "scheduler" });

      if (backend.skipped) {
        const skipped = schedules[backend.skipped];
        expect(skipped?.last_run.outcome).toBe("missed");
        expect(skipped?.last_run.error).toContain(dueAt.toISOString());
        expect(Date.parse(String(skipped?.next_run_at))).toBeGreaterThan(Date.now());
        // The totals of the run before the restart were persisted; the miss is not a run.
        expect(skipped?.stats.runs).toBe(1);
        expect(await runsMetric(server, backend.skipped, "missed")).toBe(1);
        expect(await runsMetric(server, backend.skipped, "succeeded")).toBe(0);
        expect(runs.filter((r) => r.playbook === backend.manual.playbook)).toHaveLength(1);
      }
    });
  });
}

describeBackend(sqlite, true);
describeBackend(postgresBackend, pg);
