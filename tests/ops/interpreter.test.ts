/**
 * The runbook interpreter through `ops run` in process: retry with backoff, `when`,
 * `on_failure: continue | goto`, the goto-loop cap, compensation in reverse order on abort and
 * on cancel, dry runs that change nothing, and the three progress renderings.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { tempDir } from "../support/server.ts";
import { events, fingerprint, fixture, ops, showRun, spawnOps } from "./support.ts";

// Every test drives `ops` (and servers) as subprocesses: room for a loaded 2-core machine.
setDefaultTimeout(30_000);

const dir = tempDir("aragora-ops-");
const env = { ARAGORA_DATA_DIR: dir };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("step semantics", () => {
  test("retry backs off, when skips, continue and goto move on, abort compensates in reverse", async () => {
    const hits: { path: string; at: number }[] = [];
    let flaky = 0;
    const target = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const path = new URL(req.url).pathname;
        hits.push({ path, at: performance.now() });
        if (path === "/flaky" && ++flaky <= 2) return new Response("warming up", { status: 503 });
        return Response.json({ ok: true, path });
      },
    });
    try {
      const r = await ops(["run", fixture("flow.yml"), "-p", `url=http://127.0.0.1:${target.port}`, "--json"], env);
      expect(r.code).toBe(1);
      const list = events(r.stdout);
      const of = (kind: string, step?: string) => list.filter((e) => e.kind === kind && (!step || e.step === step));

      // flaky: two failures with exponential delays from `initial`, then success on the third attempt.
      expect(of("attempt_failed", "flaky").map((e) => [e.attempt, e.retry_in_ms])).toEqual([
        [1, 40],
        [2, 80],
      ]);
      const flakyHits = hits.filter((h) => h.path === "/flaky").map((h) => h.at);
      expect(flakyHits).toHaveLength(3);
      expect((flakyHits[1] as number) - (flakyHits[0] as number)).toBeGreaterThanOrEqual(39);
      expect((flakyHits[2] as number) - (flakyHits[1] as number)).toBeGreaterThanOrEqual(79);
      expect(of("step_output", "flaky")[0]?.outputs).toMatchObject({ status: 200 });

      // optional: retried once (fixed), then failed, and `continue` went on to the next step.
      expect(of("attempt_failed", "optional").map((e) => e.attempt)).toEqual([1, 2]);
      expect(of("step_finished", "optional")[0]).toMatchObject({ status: "failed", next: "never" });
      // never: its `when` is false because optional failed.
      expect(of("step_skipped", "never")[0]).toMatchObject({ reason: "when is false", next: "broken" });
      // broken's condition holds here, so it succeeds and bypassed runs (the next test makes it jump).
      expect(of("step_finished").map((e) => [e.step, e.status, e.next])).toEqual([
        ["prepare", "succeeded", "flaky"],
        ["flaky", "succeeded", "optional"],
        ["optional", "failed", "never"],
        ["broken", "succeeded", "bypassed"],
        ["bypassed", "succeeded", "recover"],
        ["recover", "succeeded", "final"],
        ["final", "failed", null],
      ]);
      // final aborts: compensations of the completed steps run newest first, for real.
      expect(of("run_aborting")[0]).toMatchObject({ status: "failed" });
      expect(of("compensation_finished").map((e) => [e.step, e.status])).toEqual([
        ["flaky", "succeeded"],
        ["prepare", "succeeded"],
      ]);
      expect(hits.filter((h) => h.path.startsWith("/undo/")).map((h) => h.path)).toEqual([
        "/undo/flaky",
        "/undo/prepare",
      ]);
      expect(hits.some((h) => h.path === "/never")).toBe(false);
      expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "failed" });
      expect(String(list.at(-1)?.error)).toContain('step "final" failed: the last check fails');

      const shown = await showRun(String(list[0]?.run_id), env);
      expect(shown.run.status).toBe("failed");
      const steps = Object.fromEntries(shown.steps.map((s) => [s.stepId, [s.status, s.attempts]]));
      expect(steps).toMatchObject({
        prepare: ["compensated", 1],
        flaky: ["compensated", 3],
        optional: ["failed", 2],
        never: ["skipped", 0],
        final: ["failed", 1],
      });
    } finally {
      target.stop(true);
    }
  });

  test("exhausted retries abort at once; on_failure goto jumps over the steps in between", async () => {
    const target = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("down", { status: 500 }) });
    try {
      const r = await ops(["run", fixture("flow.yml"), "-p", `url=http://127.0.0.1:${target.port}`, "--json"], env);
      expect(r.code).toBe(1);
      const list = events(r.stdout);
      // flaky exhausts its retries and aborts at once: nothing after it runs, prepare is compensated.
      expect(list.filter((e) => e.kind === "attempt_failed" && e.step === "flaky")).toHaveLength(4);
      expect(list.filter((e) => e.kind === "step_finished").map((e) => e.step)).toEqual(["prepare", "flaky"]);
      expect(list.filter((e) => e.kind === "compensation_finished").map((e) => [e.step, e.status])).toEqual([
        ["prepare", "failed"],
      ]);
    } finally {
      target.stop(true);
    }
    // With flaky succeeding on its first try but `never` not skipped, broken fails and jumps.
    const ok = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.json({}) });
    try {
      const source = await Bun.file(fixture("flow.yml")).text();
      const jumping = `${dir}/jump.yml`;
      await Bun.write(jumping, source.replace("that: false, message: optional check", "that: true"));
      const r = await ops(["run", jumping, "-p", `url=http://127.0.0.1:${ok.port}`, "--json"], env);
      const finished = events(r.stdout).filter((e) => e.kind === "step_finished");
      expect(finished.map((e) => [e.step, e.status, e.next])).toEqual([
        ["prepare", "succeeded", "flaky"],
        ["flaky", "succeeded", "optional"],
        ["optional", "succeeded", "never"],
        ["never", "succeeded", "broken"],
        ["broken", "failed", "recover"],
        ["recover", "succeeded", "final"],
        ["final", "failed", null],
      ]);
    } finally {
      ok.stop(true);
    }
  });

  test("a goto loop stops at 1000 step executions", async () => {
    const r = await ops(["run", fixture("loop.yml"), "--json"], env);
    expect(r.code).toBe(1);
    const list = events(r.stdout);
    expect(list.filter((e) => e.kind === "step_finished")).toHaveLength(1000);
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "failed" });
    expect(String(list.at(-1)?.error)).toContain("more than 1000 step executions");
  });

  test("ops cancel from another process stops the run and compensates in reverse", async () => {
    const run = spawnOps(["run", fixture("cancel.yml"), "--json"], env);
    const waiting = await run.waitFor((e) => e.kind === "attempt_started" && e.step === "wait");
    const cancel = await ops(["cancel", waiting.run_id], env);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancel requested for ${waiting.run_id}`);
    expect(await run.exited).toBe(1);
    const kinds = run.events.map((e) => [e.kind, e.step]);
    const from = kinds.findIndex(([k, s]) => k === "step_finished" && s === "wait");
    expect(kinds.slice(from)).toEqual([
      ["step_finished", "wait"],
      ["run_aborting", null],
      ["compensation_started", "b"],
      ["compensation_finished", "b"],
      ["compensation_started", "a"],
      ["compensation_finished", "a"],
      ["run_finished", null],
    ]);
    expect(run.events.at(-1)).toMatchObject({ status: "cancelled" });
    expect(run.events.some((e) => e.step === "after")).toBe(false);
    const shown = await showRun(waiting.run_id, env);
    expect(shown.run.status).toBe("cancelled");
    expect(shown.steps.map((s) => [s.stepId, s.status])).toEqual([
      ["a", "compensated"],
      ["b", "compensated"],
      ["wait", "failed"],
    ]);
    // A finished run cannot be cancelled again.
    const again = await ops(["cancel", waiting.run_id], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("already cancelled");
  });
});

describe("dry run", () => {
  test("plans every step, redacts secrets, and leaves every file of the data dir as it was", async () => {
    // A data dir with a migrated store and a finished run in it.
    expect((await ops(["run", fixture("loop.yml"), "--json"], env)).code).toBe(1);
    const before = fingerprint(dir);
    expect(Object.keys(before)).toContain("core.db");
    const r = await ops(["run", fixture("dry.yml"), "--dry-run", "--json", "-p", "token=s3cr3t-token"], env);
    expect(r.code).toBe(0);
    expect(fingerprint(dir)).toEqual(before);
    const list = events(r.stdout);
    expect(list[0]).toMatchObject({ kind: "run_started", dry_run: true });
    expect(list.filter((e) => e.kind === "step_planned").map((e) => e.step)).toEqual([
      "touch",
      "notify",
      "checkpoint",
      "vacuum",
      "gate",
    ]);
    const plan = (step: string) =>
      list.find((e) => e.kind === "step_planned" && e.step === step)?.plan as {
        summary: string;
        changes: { kind: string; target: string }[];
      };
    expect(plan("touch").changes).toEqual([{ kind: "exec", target: "touch marker-nightly" }]);
    expect(plan("notify").summary).toBe("POST http://127.0.0.1:9/hook");
    expect(plan("vacuum").changes.map((c) => c.kind)).toEqual(["sql"]);
    expect(r.stdout).not.toContain("s3cr3t-token");
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "succeeded" });
    // Nothing was journaled either: the store does not know the dry run.
    const runs = await ops(["runs", "--json"], env);
    expect(JSON.parse(runs.stdout).map((x: { id: string }) => x.id)).not.toContain(list[0]?.run_id);
  });
});

describe("progress output", () => {
  test("plain lines when stdout is not a terminal", async () => {
    const r = await ops(["run", fixture("smoke.yml"), "-p", "token=abcdef"], env);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(r.stdout).not.toContain("\x1b[");
    for (const line of lines) expect(line).toMatch(/^\d\d:\d\d:\d\d /);
    expect(lines[0]).toMatch(/run r-\d{8}-[0-9a-f]{8} \(smoke\) started by /);
    expect(lines).toContainEqual(expect.stringMatching(/ hello: succeeded$/));
    expect(lines.at(-1)).toMatch(/run r-\S+ succeeded$/);
  });

  test("a live step list with a spinner on a terminal", async () => {
    expect(Bun.which("script")).not.toBeNull();
    // script(1) gives the command a pseudo-terminal, as an operator's shell would.
    const command = `${process.execPath} app/ops-cli.ts run ${fixture("smoke.yml")} -p token=abcdef --yes`;
    const proc = Bun.spawn(["script", "-qefc", command, "/dev/null"], {
      cwd: `${import.meta.dir}/../..`,
      env: { ...process.env, ARAGORA_DATA_DIR: dir, ARAGORA_LOG_LEVEL: "ERROR" },
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(out).toContain("\x1b[2K"); // the list is redrawn in place
    expect(out).toMatch(/✓ hello/);
    expect(out).toMatch(/✓ check/);
    expect(out).toMatch(/run r-\S+ succeeded/);
  });
});
