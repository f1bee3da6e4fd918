/**
 * SchedulerActor on a simulated clock with its state in a real SQLite `schedules` table: runs when
 * due, never overlaps, persists the next run, and applies the missed-run policy after downtime.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import pino from "pino";
import { receiptRetentionSchedule } from "../../actors/scheduler/receipt-retention.ts";
import { type ScheduleStore, SqliteScheduleStore } from "../../actors/scheduler/schedule-store.ts";
import {
  type JobRun,
  type RunNowReply,
  type ScheduleDefinition,
  type ScheduleStatus,
  schedulerActor,
} from "../../actors/scheduler/scheduler-actor.ts";
import { ActorSystem, advance, SimulatedClock, settle } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { openStore } from "../../runtime/store/index.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";

const BASE = Date.parse("2026-11-28T10:15:00Z");
const HOUR = 3_600_000;
const log = pino({ level: "silent" });

let dir: TempDir;
let store: ScheduleStore;
let clock: SimulatedClock;
let system: ActorSystem;
const now = () => new Date(BASE + clock.now());

beforeEach(async () => {
  dir = tempDataDir();
  const migrated = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir.path }), log);
  await migrated.close();
  store = new SqliteScheduleStore(join(dir.path, "core.db"), 5000);
  clock = new SimulatedClock();
  system = new ActorSystem({ clock, metricsIntervalMs: 0 });
});
afterEach(async () => {
  await system.shutdown();
  await store.close();
  dir.remove();
});

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

function spawn(definition: ScheduleDefinition) {
  return system.spawn(schedulerActor({ definition, store, log, now }), { name: definition.name });
}

describe("SchedulerActor", () => {
  test("runs at each cron slot, persists next and last run, and never overlaps", async () => {
    const m = manualJob();
    const ref = spawn({ name: "hourly", description: "d", timing: { cron: "0 * * * *" }, missed: "skip", job: m.job });
    await settle(system);
    expect((await store.load("hourly"))?.nextRunAt.toISOString()).toBe("2026-11-28T11:00:00.000Z");

    await advance(system, clock, 45 * 60_000); // 11:00
    expect(m.runs).toHaveLength(1);
    expect(m.runs[0]?.run.trigger).toBe("schedule");
    expect(m.runs[0]?.run.scheduledFor.toISOString()).toBe("2026-11-28T11:00:00.000Z");
    const running = await ref.ask<ScheduleStatus>({ type: "status" });
    expect(running).toMatchObject({ running: true, next_run_at: "2026-11-28T12:00:00.000Z" });

    // Still running at 12:00: that slot is skipped, not started twice.
    await advance(system, clock, HOUR);
    expect(m.runs).toHaveLength(1);
    expect((await store.load("hourly"))?.lastOutcome).toBe("skipped");

    m.runs[0]?.finish(3);
    await settle(system);
    const row = await store.load("hourly");
    expect(row).toMatchObject({ lastOutcome: "succeeded", runs: 1, failures: 0, items: 3 });
    expect(row?.lastDurationMs).toBe(HOUR);

    await advance(system, clock, HOUR); // 13:00
    m.runs[1]?.fail("disk full");
    await settle(system);
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
    await settle(system);
    expect(a.runs.map((r) => [r.run.trigger, r.run.scheduledFor.getTime()])).toEqual([["missed", due.getTime()]]);
    expect(b.runs).toHaveLength(0);
    const skipped = await store.load("skipper");
    expect(skipped?.lastOutcome).toBe("missed");
    expect(skipped?.nextRunAt.toISOString()).toBe("2026-11-28T11:00:00.000Z");
    a.runs[0]?.finish();
    await settle(system);
    expect((await store.load("catch-up"))?.runs).toBe(5);
  });

  test("run_now starts a run at once (and waits for it when asked); a second one is refused", async () => {
    const m = manualJob();
    const ref = spawn({ name: "manual", description: "d", timing: { everyMs: 24 * HOUR }, missed: "skip", job: m.job });
    await settle(system);
    const waiting = ref.ask<RunNowReply>({ type: "run_now", wait: true }, { timeoutMs: 60_000 });
    await settle(system);
    expect(await ref.ask<RunNowReply>({ type: "run_now" })).toEqual({
      started: false,
      reason: "a run is already in progress",
    });
    m.runs[0]?.finish(7);
    expect(await waiting).toEqual({ started: true, outcome: "succeeded", error: null, result: { items: 7 } });
    expect((await store.load("manual"))?.nextRunAt.getTime()).toBe(BASE + 24 * HOUR);
  });
});

describe("receipt retention schedule", () => {
  test("deletes receipts older than the retention and reports them as items", async () => {
    const calls: Date[] = [];
    const def = receiptRetentionSchedule({
      store: {
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
