/**
 * Interpreter overhead per journaled no-op step on SQLite, beside a bare loop calling the same
 * action, in one run. Goal: at most 1 ms per step. `bun run bench:ops [--steps N] [--json]`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { RunbookService } from "../actors/runbook/service.ts";
import type { ActionContext } from "../ops/action.ts";
import { assertAction } from "../ops/actions/assert.ts";
import { openOpsJournal } from "../ops/journal-sql.ts";
import { loadPlaybook } from "../ops/playbook.ts";
import { ActorSystem } from "../runtime/actor/index.ts";
import { loadConfig } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { openStore } from "../runtime/store/index.ts";

const { values } = parseArgs({ options: { steps: { type: "string" }, json: { type: "boolean" } } });
const steps = Number(values.steps ?? 500);
const dir = mkdtempSync(join(tmpdir(), "aragora-bench-ops-"));
const config = loadConfig({ ARAGORA_DATA_DIR: dir });
const log = createLogger("ERROR");
const yaml = `name: bench\nsteps:\n${Array.from({ length: steps }, (_, i) => `  - id: s${i}\n    action: assert\n    with: { that: true }\n    timeout: 1s\n`).join("")}`;
const playbook = loadPlaybook(yaml, "bench.yml").playbook;
if (!playbook) throw new Error("bench playbook does not validate");

// Floor: the same action called in a bare loop.
const ctx = {} as ActionContext;
let t = performance.now();
for (let i = 0; i < steps; i++) await assertAction.run({ that: true }, ctx);
const bareMs = (performance.now() - t) / steps;

const store = await openStore(config, log);
const journal = await openOpsJournal(store);
const system = new ActorSystem({ metricsIntervalMs: 0 });
const service = new RunbookService({ system, journal, config, dataDir: dir, log });
t = performance.now();
const run = await service.start({ playbook, params: {}, env: {}, startedBy: "bench" });
const outcome = await run.done;
const perStepMs = (performance.now() - t) / steps;
if (outcome.status !== "succeeded") throw new Error(`bench run ${outcome.status}: ${outcome.error}`);
const entries = (await journal.entries(run.runId)).length;
await system.shutdown();
await journal.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

const result = {
  steps,
  journal_lines: entries,
  bare_loop_ms_per_step: Number(bareMs.toFixed(4)),
  interpreter_ms_per_step: Number(perStepMs.toFixed(4)),
  overhead_ms_per_step: Number((perStepMs - bareMs).toFixed(4)),
  goal_ms_per_step: 1,
  within_goal: perStepMs - bareMs <= 1,
};
if (values.json) console.log(JSON.stringify(result));
else {
  console.log(`ops interpreter on SQLite, ${steps} no-op (assert) steps, ${entries} journal lines`);
  console.log(`  bare loop            ${result.bare_loop_ms_per_step} ms/step`);
  console.log(`  journaled run        ${result.interpreter_ms_per_step} ms/step`);
  console.log(
    `  overhead             ${result.overhead_ms_per_step} ms/step (goal <= 1 ms: ${result.within_goal ? "met" : "MISSED"})`,
  );
}
