/**
 * The run events' outbox on a real SQLite store: exactly the journal lines that are webhook events
 * get a row, written with their line or not at all, read back with the line and the run's
 * playbook, removed once acted on; and a commit that wrote one tells the listeners.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { openStore, SQLITE_FILE } from "../runtime/store/index.ts";
import type { Store } from "../runtime/store/store.ts";
import { opsEventData, opsEventTypeOf } from "./event-outbox.ts";
import { newRunId, type RunRecord } from "./journal.ts";
import { openOpsJournal, type SqlOpsJournal } from "./journal-sql.ts";

let dir: string;
let store: Store;
let journal: SqlOpsJournal;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "aragora-ops-outbox-"));
  store = await openStore(loadConfig({ ARAGORA_DATA_DIR: dir }), createLogger("ERROR"));
  journal = await openOpsJournal(store);
});
afterAll(async () => {
  await journal.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function runRecord(playbook: string): RunRecord {
  const now = Date.now();
  return {
    id: newRunId(),
    playbook,
    file: `${playbook}.yml`,
    source: "",
    params: {},
    status: "running",
    dryRun: false,
    startedBy: "operator",
    executor: { pid: process.pid, host: "test" },
    createdAt: now,
    heartbeatAt: now,
    finishedAt: null,
    currentStep: null,
    error: null,
    cancelRequested: false,
    decision: null,
  };
}

describe("the ops event outbox", () => {
  test("each journal kind is the event it names, or none", () => {
    const cases: [string, Record<string, unknown>, string | undefined][] = [
      ["run_started", {}, "ops_run_started"],
      ["step_started", {}, undefined],
      ["attempt_failed", { error: "x" }, undefined],
      ["step_finished", { status: "succeeded" }, undefined],
      ["step_finished", { status: "failed", error: "x" }, "ops_step_failed"],
      ["approval_waiting", {}, "ops_approval_waiting"],
      ["approval_granted", {}, undefined],
      ["run_paused", { reason: "r" }, "ops_run_paused"],
      ["run_finished", { status: "cancelled" }, "ops_run_finished"],
      ["step_progress", {}, undefined],
    ];
    expect(cases.map(([kind, data]) => [kind, data, opsEventTypeOf({ kind, data })])).toEqual(cases);
  });

  test("only the event lines are in it, with their line and playbook; removed, they are gone", async () => {
    const run = runRecord("nightly");
    await journal.createRun(run);
    let told = 0;
    const unsubscribe = journal.outbox.onCommitted(() => told++);
    const at = Date.now();
    const lines = [
      { kind: "run_started", stepId: null, data: { playbook: "nightly" } },
      { kind: "step_started", stepId: "a", data: {} },
      { kind: "step_finished", stepId: "a", data: { status: "succeeded", next: "b" } },
      { kind: "step_finished", stepId: "b", data: { status: "failed", next: null, error: "boom" } },
      { kind: "run_paused", stepId: "b", data: { reason: "operator asked" } },
    ];
    for (const [i, line] of lines.entries()) await journal.record(run.id, { seq: i + 1, at: at + i, ...line });
    unsubscribe();
    await journal.record(run.id, { seq: 6, at, stepId: null, kind: "run_finished", data: { status: "failed" } });
    expect(told).toBe(3);

    const rows = (await journal.outbox.take(100)).filter((r) => r.runId === run.id);
    expect(rows.map((r) => [r.seq, r.type])).toEqual([
      [1, "ops_run_started"],
      [4, "ops_step_failed"],
      [5, "ops_run_paused"],
      [6, "ops_run_finished"],
    ]);
    expect(opsEventData(rows[1] as (typeof rows)[number])).toEqual({
      run_id: run.id,
      playbook: "nightly",
      seq: 4,
      step: "b",
      started_by: "operator",
      status: "failed",
      next: null,
      error: "boom",
    });
    await journal.outbox.remove(rows.slice(0, 2));
    await journal.outbox.remove(rows.slice(0, 2));
    expect((await journal.outbox.take(100)).filter((r) => r.runId === run.id).map((r) => r.seq)).toEqual([5, 6]);
    await journal.outbox.remove(rows);
    expect((await journal.outbox.take(100)).filter((r) => r.runId === run.id)).toEqual([]);
  });

  test("a line and its event are written together or not at all (one transaction)", async () => {
    const run = runRecord("together");
    await journal.createRun(run);
    // An event row already at seq 2 (as no code writes it): the next event's row cannot be added...
    const db = new Database(join(dir, SQLITE_FILE));
    try {
      db.run("INSERT INTO ops_event_outbox (run_id, seq, type) VALUES (?, 2, 'ops_run_started')", [run.id]);
    } finally {
      db.close();
    }
    await journal.record(run.id, { seq: 1, at: Date.now(), stepId: null, kind: "step_progress", data: {} });
    const finished = journal.record(run.id, {
      seq: 2,
      at: Date.now(),
      stepId: null,
      kind: "run_finished",
      data: { status: "succeeded" },
    });
    await expect(finished).rejects.toThrow();
    // ...so its line is not in the journal either: no line is journaled whose event could be lost.
    expect((await journal.entries(run.id)).map((e) => e.seq)).toEqual([1]);
  });
});
