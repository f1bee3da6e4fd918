/**
 * The pieces the admin run page follows a run with, without a browser: NDJSON lines cut anywhere
 * across chunks (inside a line, inside a UTF-8 character, keep-alive blank lines), and the fold
 * of journal lines into the run, where a replayed journal (every reconnection) changes nothing.
 */
import { describe, expect, test } from "bun:test";
import { LineSplitter } from "../../web/client/ndjson.ts";
import { applyRunEvent, emptyRun, type RunEvent } from "../../web/client/pages/admin/run-model.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("LineSplitter", () => {
  test("a line split across chunks, even inside a character, comes out whole once", () => {
    const lines = new LineSplitter();
    const all = bytes('{"a":1}\n\n{"message":"café ✓"}\n{"b"');
    const cut = all.indexOf(0xc3) + 1; // inside the two bytes of "é"
    expect(lines.push(all.slice(0, 5))).toEqual([]);
    expect(lines.push(all.slice(5, cut))).toEqual(['{"a":1}']);
    expect(lines.push(all.slice(cut))).toEqual(['{"message":"café ✓"}']);
    expect(lines.push(bytes(":2}\n"))).toEqual(['{"b":2}']);
    expect(lines.rest()).toBe("");
  });

  test("keep-alive blank lines are skipped; a last line without a newline is the rest", () => {
    const lines = new LineSplitter();
    expect(lines.push(bytes("\n\n  \n"))).toEqual([]);
    expect(lines.push(bytes('{"c":3}'))).toEqual([]);
    expect(lines.rest()).toBe('{"c":3}');
  });
});

const runId = "r-20261205-00000001";
let seq = 0;
const at = Date.UTC(2026, 11, 5, 4, 0, 0);
const line = (kind: string, stepId: string | null, data: Record<string, unknown> = {}): RunEvent => ({
  seq: ++seq,
  at: at + seq * 1000,
  stepId,
  kind,
  data,
  runId,
});

describe("the run folded from its journal", () => {
  seq = 0;
  const journal = [
    line("run_started", null, {
      playbook: "p",
      file: "p.yml",
      started_by: "api",
      dry_run: false,
      steps: [
        { id: "a", action: "sleep" },
        { id: "gate", action: "approve" },
        { id: "b", action: "shell" },
      ],
    }),
    line("step_started", "a", { action: "sleep" }),
    line("attempt_started", "a", { attempt: 1 }),
    line("step_progress", "a", { message: "half", fraction: 0.5 }),
    line("step_finished", "a", { status: "succeeded", next: "gate" }),
    line("step_started", "gate", { action: "approve" }),
    line("approval_waiting", "gate", { min_approvals: 1 }),
  ];

  test("steps, progress lines and the gate as the lines say", () => {
    const run = emptyRun(runId);
    for (const e of journal) expect(applyRunEvent(run, e)).toBe(true);
    expect(run).toMatchObject({ playbook: "p", status: "waiting_approval", gate: "gate", lastSeq: 7 });
    expect(run.steps.map((s) => [s.id, s.status])).toEqual([
      ["a", "succeeded"],
      ["gate", "waiting_approval"],
      ["b", "pending"],
    ]);
    expect(run.steps[0]?.lines.map((l) => l.text)).toEqual(["half (50%)"]);
  });

  test("a replayed journal (a reconnection) adds nothing; new lines after it do", () => {
    const run = emptyRun(runId);
    for (const e of journal.slice(0, 5)) applyRunEvent(run, e);
    const applied = journal.map((e) => applyRunEvent(run, e));
    expect(applied).toEqual([false, false, false, false, false, true, true]);
    expect(run.journal.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(run.steps[0]?.lines).toHaveLength(1);
  });

  test("a pause holds the step in flight; a retry and the end clear it", () => {
    const run = emptyRun(runId);
    for (const e of journal) applyRunEvent(run, e);
    applyRunEvent(run, line("approval_granted", "gate", { approvers: ["ops@example.com"] }));
    applyRunEvent(run, line("step_finished", "gate", { status: "succeeded", next: "b" }));
    applyRunEvent(run, line("step_started", "b", { action: "shell" }));
    applyRunEvent(run, line("run_paused", "b", { reason: "b was in flight" }));
    expect(run).toMatchObject({ status: "paused", error: "b was in flight", gate: null });
    expect(run.steps[2]?.status).toBe("paused");
    applyRunEvent(run, line("step_resumed", "b", { reason: "operator chose retry" }));
    expect(run).toMatchObject({ status: "running", error: null });
    applyRunEvent(run, line("step_finished", "b", { status: "succeeded", next: null }));
    applyRunEvent(run, line("run_finished", null, { status: "succeeded", error: null }));
    expect(run).toMatchObject({ status: "succeeded", finishedAt: at + seq * 1000 });
    expect(run.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
  });
});
