/**
 * ops through its public interfaces: `ops validate` diagnostics, in-process runs with JSON events
 * and secret redaction, and a running server: the resumption of a crashed run at start, the
 * handoff of `ops run` with an approval gate, the /api/ops routes and the WebSocket topic.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import canonicalize from "canonicalize";
import { BUN, childEnv, ROOT, runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { events, fixture, OPS, ops, spawnOps } from "./support.ts";

// Every test drives `ops` (and servers) as subprocesses: room for a loaded 2-core machine.
setDefaultTimeout(30_000);

const FIX = "tests/ops/fixtures";

describe("ops validate", () => {
  test("reports every problem at file:line:col and exits 1", async () => {
    const r = await ops(["validate", `${FIX}/invalid.yml`]);
    expect(r.code).toBe(1);
    const f = `${FIX}/invalid.yml`;
    const lines = r.stderr.trim().split("\n");
    // The list of known actions grows as actions are added; the position and the start are what count.
    expect(lines.at(-1)).toStartWith(`${FIX}/invalid.yml:26:13: unknown action "teleport" (known: approve, assert,`);
    expect(lines.slice(0, -1)).toEqual([
      `${f}:5:36: default of param "count" must be an integer (was "many")`,
      `${f}:7:5: missing required key "timeout" in step "first"`,
      `${f}:14:5: unknown key "colour"`,
      `${f}:18:18: steps.fourth.outputs.x refers to step "fourth", which does not run before this one`,
      `${f}:22:40: step "second" (sleep) has no output "missing" (it has: none)`,
      `${f}:22:74: http.request: unknown input "bogus"`,
      `${f}:24:17: goto target "nowhere" is not a step id`,
    ]);
  });

  test("a valid playbook exits 0", async () => {
    const r = await ops(["validate", `${FIX}/smoke.yml`, `${FIX}/gate.yml`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("ops run in process", () => {
  const dir = tempDir();
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("--json events; secrets redacted in events, journal and ops show", async () => {
    const r = await ops(["run", `${FIX}/smoke.yml`, "-p", "token=s3cr3t-value", "--json"], { ARAGORA_DATA_DIR: dir });
    expect(r.code).toBe(0);
    const list = events(r.stdout);
    expect(list[0]?.kind).toBe("run_started");
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "succeeded" });
    expect(list.filter((e) => e.kind === "step_finished").map((e) => e.step)).toEqual(["hello", "wait", "check"]);
    expect(r.stdout).not.toContain("s3cr3t-value");
    const runId = String(list[0]?.run_id);
    const show = await ops(["show", runId, "--json"], { ARAGORA_DATA_DIR: dir });
    expect(show.code).toBe(0);
    expect(show.stdout).not.toContain("s3cr3t-value");
    expect(JSON.parse(show.stdout).run.params.token).toBe("***");
    const db = readFileSync(join(dir, "core.db"));
    expect(db.includes(Buffer.from("s3cr3t-value"))).toBe(false);
  });
});

describe("with a running server", () => {
  const token = "admin-token-0123456789";
  const auth = { authorization: `Bearer ${token}` };
  let server: TestServer;
  let orphan = "";
  const dataDir = tempDir();

  beforeAll(async () => {
    // A run whose process dies mid-step before any server exists: the server must pick it up.
    const crashed = spawnOps(["run", fixture("resume.yml"), "--json"], {
      ARAGORA_DATA_DIR: dataDir,
      OPS_TEST_NAP: "1m",
      OPS_TEST_EXEC: "0",
    });
    orphan = (await crashed.waitFor((e) => e.kind === "attempt_started" && e.step === "nap")).run_id;
    crashed.proc.kill("SIGKILL");
    await crashed.exited;
    server = await startTestServer({
      dataDir,
      env: { ARAGORA_API_TOKEN: token, OPS_TEST_NAP: "1ms", OPS_TEST_EXEC: "0", ARAGORA_DEMO_TOKEN_DELAY_MS: "1" },
    });
  });
  afterAll(async () => {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const runDetail = async (id: string) =>
    (await (await fetch(`${server.api}/api/ops/runs/${id}`, { headers: auth })).json()) as {
      run: { status: string; params: Record<string, unknown>; started_by: string; current_step: string | null };
      steps: { step_id: string; status: string; attempts: number }[];
      journal: { seq: number; kind: string; step: string | null }[];
    };

  /** Poll the API until the run's status is one of `statuses` (the server decides when). */
  const untilStatus = async (id: string, statuses: string[]) => {
    for (let i = 0; i < 300; i++) {
      const detail = await runDetail(id);
      if (statuses.includes(detail.run.status)) return detail;
      await Bun.sleep(50);
    }
    throw new Error(`run ${id} never reached ${statuses.join("|")}`);
  };

  test("the server resumes a run whose executor was killed", async () => {
    const detail = await untilStatus(orphan, ["succeeded", "failed", "paused"]);
    expect(detail.run.status).toBe("succeeded");
    expect(detail.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
      ["first", "succeeded", 1],
      ["nap", "succeeded", 2],
      ["exec", "succeeded", 1],
      ["last", "succeeded", 1],
    ]);
    expect(detail.journal.find((e) => e.kind === "step_resumed")).toMatchObject({ step: "nap" });
    await server.waitForLog((l) => l.msg === "resumed ops runs whose executor had stopped");
  });

  test("ops run hands the run to the server; approval via ops approve; visible over the API", async () => {
    const run = Bun.spawn([BUN, OPS, "run", fixture("gate.yml"), "--json"], {
      cwd: ROOT,
      env: childEnv({ ARAGORA_DATA_DIR: server.dataDir }),
      stdout: "pipe",
      stderr: "pipe",
    });
    let runId = "";
    for (let i = 0; i < 200 && !runId; i++) {
      const res = await fetch(`${server.api}/api/ops/runs`, { headers: auth });
      const body = (await res.json()) as { runs: { id: string; status: string }[] };
      if (body.runs[0]?.status === "waiting_approval") runId = body.runs[0].id;
      else await Bun.sleep(50);
    }
    expect(runId).not.toBe("");
    const approve = await ops(["approve", runId, "go", "--as", "alice"], { ARAGORA_DATA_DIR: server.dataDir });
    expect(approve.code).toBe(0);
    const [stdout, code] = await Promise.all([new Response(run.stdout).text(), run.exited]);
    expect(code).toBe(0);
    const list = events(stdout);
    expect(list.at(-1)).toMatchObject({ kind: "run_finished", status: "succeeded" });
    const detail = await runDetail(runId);
    expect(detail.run.status).toBe("succeeded");
    expect(detail.steps.map((s) => s.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const anonymous = await fetch(`${server.api}/api/ops/runs`);
    expect(anonymous.status).toBe(401);
    const wrong = await fetch(`${server.api}/api/ops/runs/${runId}`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });

  test("debate.run runs a debate on the server and exposes its decision, handed off or in process", async () => {
    for (const where of [[], ["--local"]]) {
      const r = await ops(["run", fixture("debate.yml"), "--json", ...where], { ARAGORA_DATA_DIR: server.dataDir });
      expect(r.code).toBe(0);
      const outputs = events(r.stdout).find((e) => e.kind === "step_output" && e.step === "ask")?.outputs as Record<
        string,
        unknown
      >;
      const id = String(outputs.debate_id);
      const debate = (await (await server.fetch(`/api/debates/${id}`)).json()) as {
        question: string;
        status: string;
        stop_reason: string | null;
        consensus: { answer: string | null; reached: boolean; support: number };
      };
      expect(debate.question).toBe("Should the nightly backup move to 03:00?");
      expect(outputs).toEqual({
        debate_id: id,
        status: "completed",
        answer: debate.consensus.answer,
        reached: debate.consensus.reached,
        support: debate.consensus.support,
        stop_reason: debate.stop_reason,
        receipt_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      const doc = (await (await server.fetch(`/api/debates/${id}/receipt`)).json()) as { receipt: unknown };
      expect(outputs.receipt_hash).toBe(
        createHash("sha256")
          .update(canonicalize(doc.receipt) as string)
          .digest("hex"),
      );
    }
  });

  test("POST /api/ops/runs/:id/cancel stops a run the server executes and compensates in reverse", async () => {
    const source = readFileSync(join(ROOT, fixture("cancel.yml")), "utf8");
    const post = (path: string, body: unknown) =>
      server.fetch(`${path}`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const started = await post("/api/ops/runs", { playbook: { source, file: "cancel.yml" } });
    const { run_id: runId } = (await started.json()) as { run_id: string };
    let current = "";
    for (let i = 0; i < 200 && current !== "wait"; i++) {
      current = String((await runDetail(runId)).run.current_step);
      if (current !== "wait") await Bun.sleep(25);
    }
    const cancelled = await post(`/api/ops/runs/${runId}/cancel`, {});
    expect(cancelled.status).toBe(200);
    const detail = await untilStatus(runId, ["cancelled", "failed", "succeeded"]);
    expect(detail.run.status).toBe("cancelled");
    expect(detail.journal.filter((e) => e.kind === "compensation_finished").map((e) => e.step)).toEqual(["b", "a"]);
    const again = await post(`/api/ops/runs/${runId}/cancel`, {});
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: string }).error).toBe("conflict");
    const unknown = await post("/api/ops/runs/r-20261128-00000000/cancel", {});
    expect(unknown.status).toBe(404);
  });

  test("the WebSocket topic ops:<run> replays the journal, then streams live events", async () => {
    const source = readFileSync(join(ROOT, fixture("gate.yml")), "utf8");
    const started = await fetch(`${server.api}/api/ops/runs`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ playbook: { source, file: "gate.yml" }, started_by: "ws-test" }),
    });
    expect(started.status).toBe(202);
    const { run_id: runId } = (await started.json()) as { run_id: string };
    await untilStatus(runId, ["waiting_approval"]);

    const socket = await server.socket(server.ws);
    // Every ops_event in arrival order (socket.next consumes the messages it matches).
    const received: Record<string, unknown>[] = [];
    socket.ws.addEventListener("message", (e) => {
      const m = JSON.parse(String(e.data)) as Record<string, unknown>;
      if (m.type === "ops_event") received.push(m);
    });
    try {
      // The connection is the operator's (authenticated at the upgrade): ops.read is granted.
      socket.ws.send(JSON.stringify({ type: "subscribe", topic: "ops:not-a-run" }));
      expect(await socket.next((m) => m.type === "error")).toMatchObject({ code: "invalid_message" });

      socket.ws.send(JSON.stringify({ type: "subscribe", topic: `ops:${runId}` }));
      expect(await socket.next((m) => m.type === "subscribed")).toMatchObject({ topic: `ops:${runId}` });
      // The replay holds everything up to the gate.
      await socket.next((m) => m.type === "ops_event" && m.kind === "approval_waiting");
      const approved = await fetch(`${server.api}/api/ops/runs/${runId}/steps/go/approve`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ approver: "alice" }),
      });
      expect(approved.status).toBe(200);
      await socket.next((m) => m.type === "ops_event" && m.kind === "run_finished");
      for (const m of received) expect(m).toMatchObject({ topic: `ops:${runId}`, runId });
      // Replay and live events may overlap (the client de-duplicates by seq); together they are the
      // whole journal, in order.
      const firstSeen = [...new Set(received.map((m) => Number(m.seq)))];
      const journal = (await runDetail(runId)).journal;
      expect(firstSeen).toEqual(journal.map((e) => e.seq));
      expect(received.find((m) => m.kind === "run_finished")).toMatchObject({ data: { status: "succeeded" } });
    } finally {
      socket.ws.close();
    }
  });
});

test("aragora ops delegates", async () => {
  const r = await runCli(["ops", "list"]);
  expect(r.code).toBe(0);
});
