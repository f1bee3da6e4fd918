/**
 * Crash and resume for real: an `ops run` process is SIGKILLed mid-step, then a new process
 * inspects (`ops show`) and continues (`ops resume`) the run from its journal. An idempotent
 * in-flight step re-runs; a non-idempotent one pauses the run (exit 3) until --retry or --skip.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { tempDir } from "../support/server.ts";
import { events, fixture, ops, showRun, spawnOps } from "./support.ts";

// Every test drives `ops` (and servers) as subprocesses: room for a loaded 2-core machine.
setDefaultTimeout(30_000);

const dir = tempDir("aragora-ops-resume-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Start resume.yml, SIGKILL it once `step` has started its attempt; returns the run id. */
async function crashDuring(step: string, lengths: { nap: string; exec: string }): Promise<string> {
  const run = spawnOps(["run", fixture("resume.yml"), "--json"], {
    ARAGORA_DATA_DIR: dir,
    OPS_TEST_NAP: lengths.nap,
    OPS_TEST_EXEC: lengths.exec,
  });
  const started = await run.waitFor((e) => e.kind === "attempt_started" && e.step === step);
  run.proc.kill("SIGKILL");
  await run.exited;
  expect(run.proc.signalCode).toBe("SIGKILL");
  expect(run.events.some((e) => e.kind === "run_finished")).toBe(false);
  return started.run_id;
}

const quick = { ARAGORA_DATA_DIR: dir, OPS_TEST_NAP: "1ms", OPS_TEST_EXEC: "0" };

describe("after a SIGKILL", () => {
  test("an idempotent step that was in flight re-runs; finished steps do not", async () => {
    const runId = await crashDuring("nap", { nap: "1m", exec: "0" });
    const crashed = await showRun(runId, quick);
    expect(crashed.run.status).toBe("running");
    expect(crashed.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["first", "succeeded"],
      ["nap", "running"],
    ]);
    const r = await ops(["resume", runId, "--json"], quick);
    expect(r.code).toBe(0);
    const list = events(r.stdout);
    expect(list[0]).toMatchObject({ kind: "step_resumed", step: "nap", reason: "idempotent" });
    // nap starts again (a fresh attempt); first, which had finished, does not.
    expect(list.filter((e) => e.kind === "step_started").map((e) => e.step)).toEqual(["nap", "exec", "last"]);
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "succeeded" });
    // The journal continues where it stopped: one sequence, no gaps, no duplicates.
    const shown = await showRun(runId, quick);
    expect(shown.journal.map((e) => e.seq)).toEqual(shown.journal.map((_, i) => i + 1));
    expect(shown.steps.map((s) => [s.stepId, s.status, s.attempts])).toEqual([
      ["first", "succeeded", 1],
      ["nap", "succeeded", 2],
      ["exec", "succeeded", 1],
      ["last", "succeeded", 1],
    ]);
  });

  test("a non-idempotent step pauses the run (exit 3) until --skip", async () => {
    const runId = await crashDuring("exec", { nap: "1ms", exec: "20" });
    const paused = await ops(["resume", runId, "--json"], quick);
    expect(paused.code).toBe(3);
    expect(events(paused.stdout).at(-1)).toMatchObject({ kind: "run_paused", step: "exec" });
    expect(String(events(paused.stdout).at(-1)?.reason)).toContain("resume with --retry or --skip");
    const shown = await showRun(runId, quick);
    expect(shown.run.status).toBe("paused");
    expect(shown.steps.find((s) => s.stepId === "exec")?.status).toBe("running");

    const skipped = await ops(["resume", runId, "--skip", "--json"], quick);
    expect(skipped.code).toBe(0);
    const list = events(skipped.stdout);
    expect(list[0]).toMatchObject({ kind: "step_skipped", step: "exec", next: "last" });
    expect(list.filter((e) => e.kind === "step_started").map((e) => e.step)).toEqual(["last"]);
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "succeeded" });
    const after = await showRun(runId, quick);
    expect(after.steps.find((s) => s.stepId === "exec")?.status).toBe("skipped");
  });

  test("--retry re-runs the non-idempotent step; meanwhile a second resume is refused and a cancel stops it", async () => {
    const runId = await crashDuring("exec", { nap: "1ms", exec: "20" });
    const retried = spawnOps(["resume", runId, "--retry", "--json"], { ...quick, OPS_TEST_EXEC: "30" });
    const attempt = await retried.waitFor((e) => e.kind === "attempt_started" && e.step === "exec");
    expect(attempt.attempt).toBe(2);
    expect(retried.events[0]).toMatchObject({ kind: "step_resumed", step: "exec", reason: "operator chose retry" });
    const twice = await ops(["resume", runId], quick);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("is still executing");
    expect((await ops(["cancel", runId], quick)).code).toBe(0);
    expect(await retried.exited).toBe(1);
    expect(retried.events.at(-1)).toMatchObject({ kind: "run_finished", status: "cancelled" });
    const shown = await showRun(runId, quick);
    expect(shown.run.status).toBe("cancelled");
    expect(shown.steps.find((s) => s.stepId === "exec")).toMatchObject({ status: "failed", attempts: 2 });
  });

  test("a paused run can be cancelled; it ends without an executor", async () => {
    const runId = await crashDuring("exec", { nap: "1ms", exec: "20" });
    expect((await ops(["resume", runId], quick)).code).toBe(3);
    const cancel = await ops(["cancel", runId], quick);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toBe(`cancelled ${runId}\n`);
    const shown = await showRun(runId, quick);
    expect(shown.run.status).toBe("cancelled");
    const resumed = await ops(["resume", runId, "--retry"], quick);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toContain("already cancelled");
  });
});
