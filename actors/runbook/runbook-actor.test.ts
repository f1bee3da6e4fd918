import { describe, expect, test } from "bun:test";
import type { JournalEntry, RunEvent, RunPatch, StepRecord } from "../../ops/journal.ts";
import { MemoryJournal, newRunId } from "../../ops/journal.ts";
import { loadPlaybook } from "../../ops/playbook.ts";
import { ActorSystem } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { RunbookService } from "./service.ts";

/** A journal whose step writes fail: the interpreter crashes at the first step, every time. */
class BrokenJournal extends MemoryJournal {
  writes = 0;
  override async record(runId: string, entry: JournalEntry, step?: StepRecord, run?: RunPatch): Promise<void> {
    if (entry.kind === "step_started") {
      this.writes++;
      throw new Error("disk I/O error");
    }
    return super.record(runId, entry, step, run);
  }
}

const playbook = () => {
  const loaded = loadPlaybook(
    "name: one\nsteps:\n  - id: wait\n    action: sleep\n    with: { duration: 1ms }\n    timeout: 1s\n",
    "one.yml",
  );
  if (!loaded.playbook) throw new Error(JSON.stringify(loaded.diagnostics));
  return loaded.playbook;
};

/** A service over `journal` on its own actor system; `published` gets every event it publishes. */
function serviceOver(journal: MemoryJournal, published: RunEvent[]) {
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  const service = new RunbookService({
    system,
    journal,
    config: loadConfig({}),
    dataDir: "/nonexistent",
    log: createLogger("ERROR"),
    publish: (e) => published.push(e),
  });
  return { system, service };
}

describe("RunbookActor", () => {
  test("a run whose journal cannot be written resumes after each crash, then is recorded failed after the fourth", async () => {
    const journal = new BrokenJournal();
    const events: RunEvent[] = [];
    const { system, service } = serviceOver(journal, events);
    const { runId, done } = await service.start({ playbook: playbook(), params: {}, env: {}, startedBy: "test" });
    const outcome = await done;
    expect(outcome).toEqual({
      status: "failed",
      error: "the interpreter crashed 4 times: disk I/O error",
    });
    // The first incarnation started the run; the three restarts resumed it from the journal.
    expect(journal.writes).toBe(4);
    expect(events.filter((e) => e.kind === "run_resumed")).toHaveLength(3);
    expect((await journal.getRun(runId))?.status).toBe("failed");
    await system.shutdown();
  });

  test("cancelling a run nobody executes tells its followers it finished (they would wait for an end that never came)", async () => {
    const journal = new MemoryJournal();
    const published: RunEvent[] = [];
    const { system, service } = serviceOver(journal, published);
    const source = "name: one\nsteps:\n  - id: wait\n    action: sleep\n    with: { duration: 1ms }\n    timeout: 1s\n";
    const runId = newRunId();
    // Executed by a process on another host whose heartbeat stopped a minute ago: its executor is gone.
    await journal.createRun({
      id: runId,
      playbook: "one",
      file: "one.yml",
      source,
      params: {},
      status: "running",
      dryRun: false,
      startedBy: "test",
      executor: { pid: 1, host: "elsewhere.invalid" },
      createdAt: Date.now() - 120_000,
      heartbeatAt: Date.now() - 60_000,
      finishedAt: null,
      currentStep: "wait",
      error: null,
      cancelRequested: false,
      decision: null,
    });
    const heard: RunEvent[] = [];
    const unsubscribe = service.subscribe(runId, (e) => heard.push(e));
    expect(await service.cancel(runId)).toBe("cancelled");
    unsubscribe();
    for (const events of [heard, published]) {
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ runId, kind: "run_finished", data: { status: "cancelled" } });
    }
    expect((await journal.entries(runId)).at(-1)).toMatchObject({ kind: "run_finished", seq: heard[0]?.seq });
    await system.shutdown();
  });
});
