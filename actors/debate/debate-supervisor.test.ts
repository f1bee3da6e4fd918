import { expect, test } from "bun:test";
import { ActorSystem } from "../../runtime/actor/index.ts";
import { createLogger } from "../../runtime/log.ts";
import { inProcessAgents } from "../../tests/debate/in-process-agents.ts";
import { MAX_DEBATE_CRASHES } from "./debate-actor.ts";
import type { DebateFinish, DebateStore } from "./debate-store.ts";
import { DebateSupervisor } from "./debate-supervisor.ts";
import type { EventWriter } from "./event-log.ts";
import type { ReceiptKey } from "./receipt.ts";

test("a debate whose actor crashes every time is restarted from its log, then recorded failed after the cap", async () => {
  const system = new ActorSystem({ metricsIntervalMs: 0 });
  let reads = 0;
  const finished: Array<{ id: string; outcome: DebateFinish }> = [];
  const failed: string[] = [];
  // Reading the log fails every time: each incarnation crashes before it runs a turn.
  const store = {
    unfinished: async () => [{ id: "d-crashy" }],
    events: async () => {
      reads++;
      throw new Error("disk I/O error");
    },
    finish: async (id: string, outcome: DebateFinish) => {
      finished.push({ id, outcome });
      return true;
    },
  } as unknown as DebateStore;
  const debates = new DebateSupervisor({
    system,
    store,
    writer: { flush: async () => {} } as unknown as EventWriter,
    agents: inProcessAgents(),
    key: {} as ReceiptKey,
    log: createLogger("ERROR"),
    defaults: { rounds: 1, turnMs: 1000, roundMs: 1000, debateMs: 1000 },
    onFinished: (id, status) => failed.push(`${id} ${status}`),
  });
  debates.start();
  expect(await debates.resumeUnfinished()).toBe(1);
  await debates.whenStopped("d-crashy");
  // One start and two restarts, each reading the log; then no more.
  expect(reads).toBe(MAX_DEBATE_CRASHES);
  expect(finished).toHaveLength(1);
  expect(finished[0]?.outcome).toMatchObject({
    status: "failed",
    stopReason: "crashed",
    error: "the debate crashed 3 times: disk I/O error",
  });
  expect(failed).toEqual(["d-crashy failed"]);
  expect(debates.isRunning("d-crashy")).toBe(false);
  await Bun.sleep(200);
  expect(reads).toBe(MAX_DEBATE_CRASHES);
  await system.shutdown();
});
