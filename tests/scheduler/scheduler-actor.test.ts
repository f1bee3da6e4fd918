/**
 * SchedulerActor on a simulated clock with its state in a real `schedules` table, on SQLite and on
 * a temporary PostgreSQL database: runs when due, never overlaps, persists the next run, and
 * applies the missed-run policy after downtime. The stores' receipt deletion runs on both too.
 */
import { Database } from "bun:sqlite";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pino from "pino";
import postgres from "postgres";
import { openDebateStore } from "../../actors/debate/debate-store.ts";
import { maintenanceSchedules } from "../../actors/scheduler/maintenance.ts";
import { receiptRetentionSchedule } from "../../actors/scheduler/receipt-retention.ts";
import { openScheduleStore, type ScheduleStore } from "../../actors/scheduler/schedule-store.ts";
import {
  type JobRun,
  type RunNowReply,
  type ScheduleDefinition,
  type ScheduleStatus,
  STORE_ATTEMPTS,
  STORE_RETRY_LATER_MS,
  schedulerActor,
} from "../../actors/scheduler/scheduler-actor.ts";
import { ActorSystem, type ActorTreeNode, SimulatedClock, settle } from "../../runtime/actor/index.ts";
import { type Config, loadConfig } from "../../runtime/config.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import {
  createTempPostgresDatabase,
  postgresAvailable,
  type TempDatabase,
  type TempDir,
  tempDataDir,
} from "../support/services.ts";

const BASE = Date.parse("2026-11-28T10:15:00Z");
const HOUR = 3_600_000;
const log = pino({ level: "silent" });
const pg = await postgresAvailable();

let clock: SimulatedClock;
let system: ActorSystem;
const now = () => new Date(BASE + clock.now());

/** Busy, or crashed and waiting for its supervisor's restart (which sends it its load again). */
function busy(node: ActorTreeNode | undefined): boolean {
  return (
    node !== undefined &&
    (node.status === "busy" || node.status === "suspended" || node.mailboxDepth > 0 || node.children.some(busy))
  );
}

/**
 * settle() until no actor is even awaiting an async handler: `system.idle` only counts actors
 * waiting to run, and a PostgreSQL store keeps a handler awaiting network I/O across event-loop
 * turns. Bounded by time, not by turns: on a loaded machine a PostgreSQL round trip (a fresh pool's
 * connection first) outlasts any fixed number of turns, and spinning through turns meanwhile takes
 * the CPU the database needs to answer. The simulated clock does not move while this waits.
 */
async function quiesce(): Promise<void> {
  const until = performance.now() + 20_000;
  for (;;) {
    await settle(system);
    if (!busy(system.tree())) return;
    if (performance.now() > until) throw new Error("actors still busy after 20 s");
    await Bun.sleep(1);
  }
}

/** advance() from the actor testing kit, quiescing (see above) at each due timer. */
async function advanceQuiet(ms: number): Promise<void> {
  const target = clock.now() + ms;
  await quiesce();
  for (let due = clock.nextDue(); due !== undefined && due <= target; due = clock.nextDue()) {
    clock.set(due);
    await quiesce();
  }
  clock.set(target);
  await quiesce();
}

/** A job whose runs the test finishes by hand. */
function manualJob() {
  const runs: { run: JobRun; finish: (items?: number) => void; fail: (m: string) => void }[] = [];
  let active = 0;
  let maxActive = 0;
  const job = (run: JobRun) =>
    new Promise<{ items?: number }>((resolve, reject) => {
      active++;
      maxActive = Math.max(maxActive, active);
      runs.push({
        run,
        finish: (items) => {
          active--;
          resolve({ items });
        },
        fail: (m) => {
          active--;
          reject(new Error(m));
        },
      });
    });
  return { runs, job, maxActive: () => maxActive };
}

/**
 * The SchedulerActor suite against one store backend. `open` migrates a fresh database once (the
 * way the server does at start) and returns its config; each test starts from an empty table.
 */
function describeStore(
  label: string,
  enabled: boolean,
  open: () => Promise<{ config: Config; done(): Promise<void> }>,
) {
  describe.skipIf(!enabled)(`SchedulerActor on ${label}`, () => {
    let dir: TempDir;
    let config: Config;
    let done: () => Promise<void>;
    let store: ScheduleStore;
    let core: Store;

    beforeAll(async () => {
      dir = tempDataDir();
      ({ config, done } = await open());
      core = await openStore({ ...config, dataDir: dir.path }, log);
    });
    afterAll(async () => {
      await core?.close();
      await done?.();
      dir?.remove();
    });
    beforeEach(async () => {
      await clearSchedules(config, dir.path);
      store = await openScheduleStore(core);
      clock = new SimulatedClock();
      system = new ActorSystem({ clock, metricsIntervalMs: 0 });
    });
    afterEach(async () => {
      await system.shutdown();
      await store.close();
    });

    function spawn(definition: ScheduleDefinition) {
      return system.spawn(schedulerActor({ definition, store, log, now }), { name: definition.name });
    }

    test("runs at each cron slot, persists next and last run, and never overlaps", async () => {
      const m = manualJob();
      const ref = spawn({
        name: "hourly",
        description: "d",
        timing: { cron: "0 * * * *" },
        missed: "skip",
        job: m.job,
      });
      await quiesce();
      expect((await store.load("hourly"))?.nextRunAt.toISOString()).toBe("2026-11-28T11:00:00.000Z");

      await advanceQuiet(45 * 60_000); // 11:00
      expect(m.runs).toHaveLength(1);
      expect(m.runs[0]?.run.trigger).toBe("schedule");
      expect(m.runs[0]?.run.scheduledFor.toISOString()).toBe("2026-11-28T11:00:00.000Z");
      const running = await ref.ask<ScheduleStatus>({ type: "status" });
      expect(running).toMatchObject({ running: true, next_run_at: "2026-11-28T12:00:00.000Z" });

      // Still running at 12:00: that slot is skipped, not started twice.
      await advanceQuiet(HOUR);
      expect(m.runs).toHaveLength(1);
      expect((await store.load("hourly"))?.lastOutcome).toBe("skipped");

      m.runs[0]?.finish(3);
      await quiesce();
      const row = await store.load("hourly");
      expect(row).toMatchObject({ lastOutcome: "succeeded", runs: 1, failures: 0, items: 3 });
      expect(row?.lastDurationMs).toBe(HOUR);

      await advanceQuiet(HOUR); // 13:00
      m.runs[1]?.fail("disk full");
      await quiesce();
      const status = await ref.ask<ScheduleStatus>({ type: "status" });
      expect(status).toMatchObject({
        running: false,
        next_run_at: "2026-11-28T14:00:00.000Z",
        last_run: { outcome: "failed", error: "disk full" },
        stats: { runs: 2, failures: 1, items: 3 },
      });
      expect(m.maxActive()).toBe(1);
    });

    test("a run missed while down: run_once runs it once on start, skip records it", async () => {
      const due = new Date(BASE - 5 * HOUR);
      const blank = {
        lastStartedAt: null,
        lastFinishedAt: null,
        lastOutcome: null,
        lastError: null,
        lastDurationMs: null,
      };
      await store.save({ name: "catch-up", nextRunAt: due, ...blank, runs: 4, failures: 0, items: 0 });
      await store.save({ name: "skipper", nextRunAt: due, ...blank, runs: 4, failures: 0, items: 0 });
      const a = manualJob();
      const b = manualJob();
      spawn({ name: "catch-up", description: "d", timing: { cron: "0 * * * *" }, missed: "run_once", job: a.job });
      spawn({ name: "skipper", description: "d", timing: { cron: "0 * * * *" }, missed: "skip", job: b.job });
      await quiesce();
      expect(a.runs.map((r) => [r.run.trigger, r.run.scheduledFor.getTime()])).toEqual([["missed", due.getTime()]]);
      expect(b.runs).toHaveLength(0);
      const skipped = await store.load("skipper");
      expect(skipped?.lastOutcome).toBe("missed");
      expect(skipped?.nextRunAt.toISOString()).toBe("2026-11-28T11:00:00.000Z");
      a.runs[0]?.finish();
      await quiesce();
      expect((await store.load("catch-up"))?.runs).toBe(5);
    });

    test("a store that fails for a while: the missed run runs once, its state is logged, kept and saved later", async () => {
      const due = new Date(BASE - 5 * HOUR);
      await store.save({
        name: "flaky",
        nextRunAt: due,
        lastStartedAt: null,
        lastFinishedAt: null,
        lastOutcome: null,
        lastError: null,
        lastDurationMs: null,
        runs: 4,
        failures: 0,
        items: 0,
      });
      // Two failed loads (retried in the handler), then every save fails until the test lets it
      // through: more than one handler's attempts, so the write waits for the retry timer.
      let loadFailures = 2;
      let savesFail = true;
      let failedSaves = 0;
      const refused = () => new Error("sorry, too many clients already");
      const flaky: ScheduleStore = {
        close: () => Promise.resolve(),
        load: (name) => (loadFailures-- > 0 ? Promise.reject(refused()) : store.load(name)),
        save: (row) => {
          if (!savesFail) return store.save(row);
          failedSaves++;
          return Promise.reject(refused());
        },
      };
      const lines: { level: number; msg: string; err?: { message: string } }[] = [];
      const captured = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line)) });
      const a = manualJob();
      const definition: ScheduleDefinition = {
        name: "flaky",
        description: "d",
        timing: { cron: "0 * * * *" },
        missed: "run_once",
        job: a.job,
      };
      system.spawn(schedulerActor({ definition, store: flaky, log: captured, now }), { name: "flaky" });
      await quiesce();
      expect(a.runs).toHaveLength(1);
      expect(failedSaves).toBe(STORE_ATTEMPTS);
      expect(lines.filter((l) => l.msg === "schedule load failed; retrying")).toHaveLength(2);
      const gaveUp = lines.find((l) => l.msg.startsWith("schedule save failed; the schedule keeps its state"));
      expect(gaveUp?.err?.message).toBe("sorry, too many clients already");
      expect((await store.load("flaky"))?.nextRunAt.getTime()).toBe(due.getTime());

      // The run finishes while the store still refuses: its counts wait in memory.
      a.runs[0]?.finish(2);
      await quiesce();
      expect((await store.load("flaky"))?.runs).toBe(4);
      savesFail = false;
      await advanceQuiet(STORE_RETRY_LATER_MS);
      expect(a.runs).toHaveLength(1);
      const row = await store.load("flaky");
      expect(row).toMatchObject({ runs: 5, items: 2, lastOutcome: "succeeded" });
      expect(row?.nextRunAt.toISOString()).toBe("2026-11-28T11:00:00.000Z");
    }, 30_000);

    test("run_now starts a run at once (and waits for it when asked); a second one is refused", async () => {
      const m = manualJob();
      const ref = spawn({
        name: "manual",
        description: "d",
        timing: { everyMs: 24 * HOUR },
        missed: "skip",
        job: m.job,
      });
      await quiesce();
      const waiting = ref.ask<RunNowReply>({ type: "run_now", wait: true }, { timeoutMs: 60_000 });
      await quiesce();
      expect(await ref.ask<RunNowReply>({ type: "run_now" })).toEqual({
        started: false,
        reason: "a run is already in progress",
      });
      m.runs[0]?.finish(7);
      expect(await waiting).toEqual({ started: true, outcome: "succeeded", error: null, result: { items: 7 } });
      expect((await store.load("manual"))?.nextRunAt.getTime()).toBe(BASE + 24 * HOUR);
    });

    test("save replaces a row; the debate store's deleteReceiptsBefore removes only the receipts older than the cutoff", async () => {
      const row = {
        name: "round-trip",
        nextRunAt: new Date("2026-11-28T11:00:00.123Z"),
        lastStartedAt: new Date("2026-11-28T10:00:00.000Z"),
        lastFinishedAt: new Date("2026-11-28T10:00:01.500Z"),
        lastOutcome: "failed" as const,
        lastError: "disk full",
        lastDurationMs: 1500,
        runs: 3,
        failures: 1,
        items: 9_000_000_000,
      };
      await store.save({ ...row, runs: 2 });
      await store.save(row);
      expect(await store.load("round-trip")).toEqual(row);
      expect(await store.load("absent")).toBeUndefined();

      const cutoff = new Date(BASE - 30 * 24 * HOUR);
      await insertReceipts(config, dir.path, [
        { id: "d-old", createdAt: new Date(cutoff.getTime() - 1) },
        { id: "d-edge", createdAt: cutoff },
        { id: "d-new", createdAt: new Date(BASE) },
      ]);
      const debates = await openDebateStore(core, { ...config, dataDir: dir.path });
      try {
        expect(await debates.deleteReceiptsBefore(cutoff)).toBe(1);
        expect(await debates.deleteReceiptsBefore(cutoff)).toBe(0);
      } finally {
        await debates.close();
      }
      expect(await receiptIds(config, dir.path)).toEqual(["d-edge", "d-new"]);
    });
  });
}

/** Raw SQL on the test's database, `$1`-style parameters on both backends (the debates feature owns these tables). */
async function rawSql<T>(config: Config, dataDir: string, text: string, params: (string | number | Date)[] = []) {
  if (config.databaseUrl !== undefined) {
    const sql = postgres(config.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      return (await sql.unsafe(
        text,
        params.map((p) => (p instanceof Date ? p.toISOString() : p)),
      )) as unknown as T[];
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  const db = new Database(join(dataDir, "core.db"));
  try {
    db.run("PRAGMA busy_timeout = 5000");
    const values = params.map((p) => (p instanceof Date ? p.getTime() : p));
    return db.query(text.replace(/\$(\d+)/g, "?$1")).all(...values) as T[];
  } finally {
    db.close();
  }
}

async function clearSchedules(config: Config, dataDir: string): Promise<void> {
  await rawSql(config, dataDir, "DELETE FROM schedules");
}

/** A finished debate and its receipt per row, created at the given instants. */
async function insertReceipts(config: Config, dataDir: string, rows: { id: string; createdAt: Date }[]) {
  for (const { id, createdAt } of rows) {
    await rawSql(
      config,
      dataDir,
      "INSERT INTO debates (id, user_id, org_id, workspace_id, question, config, metadata, status, created_at, updated_at) " +
        "VALUES ($1, 'u-1', 'o-1', 'w-1', 'q', '{}', '{}', 'completed', $2, $2)",
      [id, createdAt],
    );
    await rawSql(
      config,
      dataDir,
      "INSERT INTO debate_receipts (debate_id, receipt, created_at) VALUES ($1, '{}', $2)",
      [id, createdAt],
    );
  }
}

async function receiptIds(config: Config, dataDir: string): Promise<string[]> {
  const rows = await rawSql<{ debate_id: string }>(config, dataDir, "SELECT debate_id FROM debate_receipts ORDER BY 1");
  return rows.map((r) => r.debate_id);
}

describeStore("SQLite", true, async () => ({ config: loadConfig({}), done: async () => {} }));
describeStore("PostgreSQL", pg, async () => {
  const db: TempDatabase = await createTempPostgresDatabase();
  return { config: loadConfig({ DATABASE_URL: db.url }), done: () => db.drop() };
});

describe("receipt retention schedule", () => {
  test("deletes receipts older than the retention and reports them as items", async () => {
    const calls: Date[] = [];
    const def = receiptRetentionSchedule({
      receipts: {
        deleteReceiptsBefore: async (cutoff) => {
          calls.push(cutoff);
          return 2;
        },
      },
      retentionDays: 30,
      intervalHours: 24,
      now,
    });
    expect(def.timing).toEqual({ everyMs: 24 * HOUR });
    const result = await def.job({ signal: new AbortController().signal, trigger: "manual", scheduledFor: now() });
    expect(result.items).toBe(2);
    expect(calls[0]?.getTime()).toBe(BASE - 30 * 24 * HOUR);
  });
});

describe("maintenance schedules", () => {
  test("the SQLite upkeep schedules exist only when the store is SQLite", () => {
    const run = async () => ({ runId: "r-1", status: "succeeded", error: null });
    const sqlite = maintenanceSchedules(run, { store: "sqlite" });
    expect(sqlite.map((d) => [d.name, d.missed])).toEqual([
      ["wal-checkpoint", "skip"],
      ["backup", "run_once"],
      ["analyze", "run_once"],
      ["cleanup", "run_once"],
    ]);
    expect(maintenanceSchedules(run, { store: "postgres" }).map((d) => d.name)).toEqual(["cleanup"]);
  });

  test("ARAGORA_MAINTENANCE_CRON replaces the times it names; a bad pattern or an unknown name is refused", () => {
    const run = async () => ({ runId: "r-1", status: "succeeded", error: null });
    const config = loadConfig({ ARAGORA_MAINTENANCE_CRON: " backup=0 4 * * * ; cleanup=*/30 * * * * * " });
    expect(config.maintenanceCron).toEqual({ backup: "0 4 * * *", cleanup: "*/30 * * * * *" });
    const timings = maintenanceSchedules(run, { store: "sqlite", cron: config.maintenanceCron }).map((d) => [
      d.name,
      d.timing,
    ]);
    expect(timings).toEqual([
      ["wal-checkpoint", { cron: "0 * * * *" }],
      ["backup", { cron: "0 4 * * *" }],
      ["analyze", { cron: "0 3 * * 0" }],
      ["cleanup", { cron: "*/30 * * * * *" }],
    ]);
    expect(loadConfig({}).maintenanceCron).toEqual({});
    expect(() => loadConfig({ ARAGORA_MAINTENANCE_CRON: "backup=at four" })).toThrow(/ARAGORA_MAINTENANCE_CRON=/);
    expect(() => loadConfig({ ARAGORA_MAINTENANCE_CRON: "0 4 * * *" })).toThrow(/name=pattern pairs/);
    expect(() => maintenanceSchedules(run, { store: "sqlite", cron: { backups: "0 4 * * *" } })).toThrow(
      "ARAGORA_MAINTENANCE_CRON names no maintenance schedule: backups",
    );
  });
});
