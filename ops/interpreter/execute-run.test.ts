import { describe, expect, test } from "bun:test";
import { SimulatedClock } from "../../runtime/actor/clock.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { MemoryJournal, newRunId, type RunEvent, type RunRecord } from "../journal.ts";
import { loadPlaybook } from "../playbook.ts";
import { executeRun } from "./index.ts";

function start(yaml: string, clock: SimulatedClock) {
  const loaded = loadPlaybook(yaml, "clocked.yml");
  if (!loaded.playbook) throw new Error(JSON.stringify(loaded.diagnostics));
  const now = Date.now();
  const run: RunRecord = {
    id: newRunId(),
    playbook: loaded.playbook.name,
    file: "clocked.yml",
    source: yaml,
    params: {},
    status: "running",
    dryRun: false,
    startedBy: "test",
    executor: { pid: process.pid, host: "test" },
    createdAt: now,
    heartbeatAt: now,
    finishedAt: null,
    currentStep: null,
    error: null,
    cancelRequested: false,
    decision: null,
  };
  const events: RunEvent[] = [];
  const journal = new MemoryJournal();
  const outcome = executeRun({
    playbook: loaded.playbook,
    params: {},
    env: {},
    journal,
    run,
    mode: "start",
    config: loadConfig({}),
    dataDir: "/nonexistent",
    log: createLogger("ERROR"),
    signal: new AbortController().signal,
    emit: (e) => events.push(e),
    clock,
  });
  return { outcome, events, journal, run };
}

describe("playbook timeouts and retry delays run on the actor system's clock", () => {
  test("a step's timeout fires when the simulated clock passes it, not before", async () => {
    const clock = new SimulatedClock();
    const { outcome, events } = start(
      "name: clocked\nsteps:\n  - id: long\n    action: sleep\n    with: { duration: 10m }\n    timeout: 1m\n",
      clock,
    );
    let settled = false;
    void outcome.then(() => (settled = true));
    await Bun.sleep(20);
    clock.advance(59_999);
    await Bun.sleep(5);
    expect(settled).toBe(false);
    clock.advance(1);
    expect(await outcome).toEqual({ status: "failed", error: 'step "long" failed: timed out after 60000 ms' });
    expect(events.filter((e) => e.kind === "attempt_failed").map((e) => e.data.error)).toEqual([
      "timed out after 60000 ms",
    ]);
  });

  test("a retry waits its backoff on the simulated clock", async () => {
    const clock = new SimulatedClock();
    const { outcome, events } = start(
      "name: clocked\nsteps:\n  - id: check\n    action: assert\n    with: { that: false, message: not yet }\n    timeout: 1s\n    retry: { max: 1, backoff: fixed, initial: 2m, jitter: 0 }\n",
      clock,
    );
    await Bun.sleep(20);
    const attempts = () => events.filter((e) => e.kind === "attempt_started").length;
    expect(attempts()).toBe(1);
    expect(events.find((e) => e.kind === "attempt_failed")?.data.retry_in_ms).toBe(120_000);
    clock.advance(119_999);
    await Bun.sleep(5);
    expect(attempts()).toBe(1);
    clock.advance(1);
    expect((await outcome).status).toBe("failed");
    expect(attempts()).toBe(2);
  });
});

describe("approval gates", () => {
  test("every gate of a run says it is waiting, the second as the first", async () => {
    const clock = new SimulatedClock();
    const gate = (id: string) =>
      `  - id: ${id}\n    action: approve\n    with: { approvers: [alice] }\n    timeout: 1h\n`;
    const { outcome, events, journal, run } = start(`name: gates\nsteps:\n${gate("first")}${gate("second")}`, clock);
    const waitingAt = async (step: string) => {
      for (let i = 0; i < 200 && !events.some((e) => e.kind === "approval_waiting" && e.stepId === step); i++) {
        clock.advance(200);
        await Bun.sleep(2);
      }
      return events.some((e) => e.kind === "approval_waiting" && e.stepId === step);
    };
    expect(await waitingAt("first")).toBe(true);
    await journal.addApproval(run.id, "first", { approver: "alice", roles: [], at: Date.now() });
    expect(await waitingAt("second")).toBe(true);
    expect((await journal.getRun(run.id))?.status).toBe("waiting_approval");
    await journal.addApproval(run.id, "second", { approver: "alice", roles: [], at: Date.now() });
    clock.advance(200);
    expect((await outcome).status).toBe("succeeded");
  });
});
