/**
 * The admin console's live ops run page and recent errors, in a real browser against a real
 * server, as an operator with MFA:
 * - a run whose steps take a while and say what they do is seen step by step (pending, running,
 *   succeeded, in that order, with the step's progress lines) from one stream: the page never asks
 *   for the run again (no polling of GET /api/ops/runs/:id) and opens /events once;
 * - the server is killed while a command (not idempotent) is in flight; the page says it lost the
 *   connection, and once a new server on the same port and data dir resumes the run (which pauses
 *   for a decision) the page reconnects by itself, shows the pause without a duplicate journal line,
 *   and "Resume (retry the step)" runs the command again to the run's end;
 * - a run that does not exist is said so, and not asked for again;
 * - a server error provoked through a real route is on the System page with its request id.
 * Each state is checked with axe and photographed at both widths.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { enrolMfa, totpCode } from "../access/mfa-support.ts";
import { call, claimOwner, PASSWORD, type Session, startAccessServer, userWithRole } from "../access/support.ts";
import { OPERATOR_AUTH, type TestServer, tempDir } from "../support/server.ts";
import {
  DESKTOP,
  expectAccessible,
  openBrowser,
  overflowsSideways,
  PHONE,
  screenshots,
  type TestBrowser,
  type TestPage,
} from "./support/browser.ts";

const dataDir = tempDir("aragora-admin-ops-");
let server: TestServer;
let browser: TestBrowser;
let owner: Session;
/** The signed-in operator's email: the approver the run page sends. */
let operatorEmail: string;
let tab: TestPage;

beforeAll(async () => {
  [server, browser] = await Promise.all([startAccessServer({ dataDir }), openBrowser()]);
  owner = await claimOwner(server);
  const operator = await userWithRole(server, "admin", {}, ["--operator"]);
  const { secret } = await enrolMfa(server, operator);
  operatorEmail = operator.user.email;
  tab = await browser.newPage();
  const { page } = tab;
  // Every step row's status, as the page shows it, each time it changes (read at the end).
  await tab.context.addInitScript(`
    window.__stepLog = [];
    const seen = new Map();
    new MutationObserver(() => {
      for (const row of document.querySelectorAll("tr[data-step]")) {
        const step = row.getAttribute("data-step");
        const status = row.querySelector(".badge")?.textContent ?? "";
        if (seen.get(step) !== status) {
          seen.set(step, status);
          window.__stepLog.push([step, status]);
        }
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  `);
  await page.goto(`${server.api}/signin`);
  await page.getByLabel("Email").fill(operator.user.email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Code").fill(totpCode(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await page.waitForURL((url) => url.pathname === "/debates", { timeout: 15_000 });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  if (server && server.proc.exitCode === null && server.proc.signalCode === null) await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Starts a playbook (its text) as the operator; the run id. */
async function startRun(source: string, file: string): Promise<string> {
  const started = await call<{ run_id: string }>(server, "POST", "/api/ops/runs", {
    headers: OPERATOR_AUTH,
    body: { playbook: { source, file } },
  });
  expect(started.status).toBe(202);
  return started.body.run_id;
}

interface RunAnswer {
  run: { status: string };
  steps: { step_id: string; status: string; attempts: number }[];
  journal: { seq: number; kind: string; step: string | null }[];
}

async function runOf(id: string): Promise<RunAnswer> {
  const res = await call<RunAnswer>(server, "GET", `/api/ops/runs/${id}`, { headers: OPERATOR_AUTH });
  expect(res.status).toBe(200);
  return res.body;
}

/** The page's requests for the run itself and for its stream, since `from` (an index into the record). */
function runRequests(id: string, from = 0): { detail: number; events: number } {
  const paths = tab.record.requests.slice(from).map((u) => new URL(u).pathname);
  return {
    detail: paths.filter((p) => p === `/api/ops/runs/${id}`).length,
    events: paths.filter((p) => p === `/api/ops/runs/${id}/events`).length,
  };
}

/** The statuses each step showed, in the order the page showed them (repeats folded). */
async function stepLog(page: Page): Promise<[string, string][]> {
  return (await page.evaluate("window.__stepLog")) as [string, string][];
}

/** Whether the page scrolls sideways at phone width (its tables scroll inside their own boxes). */
async function overflowsOnPhone(page: Page): Promise<boolean> {
  await page.setViewportSize(PHONE);
  const overflows = await overflowsSideways(page);
  await page.setViewportSize(DESKTOP);
  return overflows;
}

/** A step's row on the run page. */
const stepRow = (page: Page, step: string) => page.locator(`tr[data-step="${step}"]`);

/** The page's journal table's sequence numbers, in order. */
async function journalSeqs(page: Page): Promise<number[]> {
  const cells = await page
    .getByRole("table", { name: "Journal of the run" })
    .locator("tbody tr td:first-child")
    .allTextContents();
  return cells.map(Number);
}

/** The API's approver of the progress run's gate (the page's operator approves only the resume run's). */
const API_APPROVER = "ops-api@example.com";

// A gate first: the page is open and following before any step runs, however slow the machine.
const progressPlaybook = `name: console-progress
description: steps that take a while and say what they do
steps:
  - id: start
    action: approve
    with: { approvers: ["${API_APPROVER}"], min_approvals: 1 }
    timeout: 120s
  - id: warm
    action: sleep
    with: { duration: 2s }
    timeout: 10s
  - id: check
    action: db.integrity_check
    with: {}
    timeout: 30s
  - id: settle
    action: sleep
    with: { duration: 4s }
    timeout: 10s
`;

describe("the run page follows a run over its stream", () => {
  test("each step shows running, then succeeded, in order, with its progress; no polling", async () => {
    const { page } = tab;
    const runId = await startRun(progressPlaybook, "console-progress.yml");
    const from = tab.record.requests.length;
    const errorsBefore = tab.record.consoleErrors.length;
    await page.goto(`${server.api}/admin/ops/${runId}`);
    await page.getByRole("heading", { level: 1, name: "Ops run console-progress" }).waitFor({ timeout: 20_000 });
    await stepRow(page, "start").getByText("waiting approval").waitFor({ timeout: 20_000 });
    // Passed through the API, not the page: the page only watches.
    const approved = await call(server, "POST", `/api/ops/runs/${runId}/steps/start/approve`, {
      headers: OPERATOR_AUTH,
      body: { approver: API_APPROVER },
    });
    expect(approved.status).toBe(200);
    await stepRow(page, "settle").getByText("running").waitFor({ timeout: 20_000 });
    // The integrity check said what it checked, live, in its own row.
    expect(await stepRow(page, "check").textContent()).toContain("database(s)");
    expect(await page.getByRole("status", { name: "Connection" }).textContent()).toBe("Following live");
    // The picture first, while settle still runs; then axe on the same live state.
    await screenshots(page, "admin-run-streaming");
    await expectAccessible(page, "ops run streaming");
    expect(await overflowsOnPhone(page)).toBe(false);

    const status = page.getByRole("status", { name: "Run status" });
    await status.getByText("succeeded").waitFor({ timeout: 20_000 });
    await page.getByRole("status", { name: "Connection" }).getByText("The run is over").waitFor();
    const log = await stepLog(page);
    const of = (step: string) => log.filter(([s]) => s === step).map(([, status]) => status);
    // Each step only moved forward; warm and settle, which take seconds, were seen at each stage
    // (check may start and finish within one animation frame, drawn once).
    const forward = ["pending", "running", "succeeded"];
    for (const step of ["warm", "check", "settle"]) {
      const seen = of(step);
      expect({ step, seen }).toEqual({ step, seen: forward.filter((s) => seen.includes(s)) });
      expect(seen.at(-1)).toBe("succeeded");
    }
    expect(of("warm")).toEqual(forward);
    expect(of("settle")).toEqual(forward);
    // In the run's order: a step left "pending" only once the one before it was done.
    const at = (step: string, status: string) => log.findIndex(([s, st]) => s === step && st === status);
    const left = (step: string) => log.findIndex(([s, st]) => s === step && st !== "pending");
    expect(at("start", "succeeded")).toBeLessThan(at("warm", "running"));
    expect(at("warm", "succeeded")).toBeLessThan(left("check"));
    expect(at("check", "succeeded")).toBeLessThan(at("settle", "running"));
    // One stream, and the run itself never asked for again: no polling, no reload.
    expect(runRequests(runId, from)).toEqual({ detail: 0, events: 1 });
    expect(tab.record.requests.slice(from).filter((u) => new URL(u).pathname.startsWith("/admin/")).length).toBe(1);
    // The page shows what the server has: every journal line once, in order.
    const shown = await runOf(runId);
    expect(await journalSeqs(page)).toEqual(shown.journal.map((e) => e.seq));
    expect(tab.record.consoleErrors.slice(errorsBefore)).toEqual([]);
  }, 60_000);
});

describe("a run that does not exist", () => {
  test("the page says so once and does not keep asking", async () => {
    const { page } = tab;
    const from = tab.record.requests.length;
    await page.goto(`${server.api}/admin/ops/r-20261205-00000000`);
    await page.getByRole("alert").filter({ hasText: 'no run "r-20261205-00000000"' }).waitFor({ timeout: 20_000 });
    await page
      .getByRole("status", { name: "Connection" })
      .getByText(/^Not following: no run/)
      .waitFor();
    await Bun.sleep(1500);
    expect(runRequests("r-20261205-00000000", from)).toEqual({ detail: 0, events: 1 });
  }, 30_000);
});

describe("the System page's recent errors", () => {
  test("a server error from a real route shows with its request id", async () => {
    const { page } = tab;
    const requestId = `console-ops-${crypto.randomUUID().slice(0, 8)}`;
    // The store refuses the write (through SQLite itself): POST /api/auth/api-key answers 500.
    const db = new Database(join(server.dataDir, "core.db"));
    let failed: Awaited<ReturnType<typeof call>>;
    try {
      db.run("PRAGMA busy_timeout = 10000");
      db.run(
        "CREATE TRIGGER keys_refused BEFORE INSERT ON api_keys BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
      );
      failed = await call(server, "POST", "/api/auth/api-key", {
        token: owner.access_token,
        body: { name: "doomed" },
        headers: { "x-request-id": requestId },
      });
    } finally {
      db.run("DROP TRIGGER IF EXISTS keys_refused");
      db.close();
    }
    expect(failed.status).toBe(500);
    expect(failed.body).toMatchObject({ request_id: requestId });

    await page.goto(`${server.api}/admin/system`);
    await page.getByRole("heading", { level: 1, name: "System" }).waitFor({ timeout: 20_000 });
    const row = page
      .getByRole("table", { name: "Recent server errors" })
      .getByRole("row")
      .filter({ hasText: requestId });
    await row.waitFor({ timeout: 20_000 });
    const cells = await row.getByRole("cell").allTextContents();
    expect(cells.slice(1, 4)).toEqual([requestId, "POST /api/auth/api-key", "500"]);
    expect(cells[4]).toContain("refused by the test");
    await expectAccessible(page, "system with a recent error");
    await screenshots(page, "admin-system-errors");
    expect(await overflowsOnPhone(page)).toBe(false);
  }, 60_000);
});

/** A gate the page's operator passes, then a command (not idempotent) that takes a few seconds. */
const resumePlaybook = (approver: string) => `name: console-resume
description: a command in flight when the server stops, run again on the operator's word
shell_allowlist: [sleep]
steps:
  - id: hold
    action: approve
    with: { approvers: ["${approver}"], min_approvals: 1, message: start the command? }
    timeout: 120s
  - id: exec
    action: shell
    with: { command: [sleep, "3"] }
    timeout: 60s
  - id: last
    action: assert
    with: { that: "\${{ steps.exec.status == 'succeeded' }}" }
    timeout: 5s
`;

describe("a run stopped by a server crash", () => {
  test("the page reconnects to the restarted server, shows the pause, and resumes it with retry", async () => {
    const { page } = tab;
    const runId = await startRun(resumePlaybook(operatorEmail), "console-resume.yml");
    const from = tab.record.requests.length;
    await page.goto(`${server.api}/admin/ops/${runId}`);
    await page.getByRole("button", { name: "Approve hold" }).click();
    await stepRow(page, "exec").getByText("running").waitFor({ timeout: 20_000 });

    // The server dies with the command in flight.
    const port = server.apiPort;
    server.signal("SIGKILL");
    await server.exited;
    const connection = page.getByRole("status", { name: "Connection" });
    await connection.getByText(/^Connection lost/).waitFor({ timeout: 20_000 });

    // A new server on the same port and data dir resumes the run: not idempotent, so it pauses.
    server = await startAccessServer({ dataDir, args: ["--api-port", String(port)] });
    const status = page.getByRole("status", { name: "Run status" });
    await status.getByText("paused").waitFor({ timeout: 30_000 });
    await connection.getByText("Paused: the run waits for an operator's decision").waitFor();
    await stepRow(page, "exec").getByText("paused").waitFor();
    // Reconnections replayed the journal: each line is shown once, as the server has it.
    const paused = await runOf(runId);
    expect(paused.run.status).toBe("paused");
    expect(await journalSeqs(page)).toEqual(paused.journal.map((e) => e.seq));
    expect(runRequests(runId, from).events).toBeGreaterThan(1);
    await expectAccessible(page, "ops run paused");
    await screenshots(page, "admin-run-paused");
    expect(await overflowsOnPhone(page)).toBe(false);

    await page.getByRole("button", { name: "Resume (retry the step)" }).click();
    await status.getByText("succeeded").waitFor({ timeout: 30_000 });
    await page.getByText("Resume: done.").waitFor();
    expect(await page.getByRole("button", { name: /Resume|Cancel run/ }).count()).toBe(0);
    expect(await stepRow(page, "exec").getByRole("cell").nth(4).textContent()).toBe("2");
    await expectAccessible(page, "ops run resumed");
    await screenshots(page, "admin-run-resumed");

    const done = await runOf(runId);
    expect(done.run.status).toBe("succeeded");
    expect(done.steps.map((s) => [s.step_id, s.status, s.attempts])).toEqual([
      ["hold", "succeeded", 1],
      ["exec", "succeeded", 2],
      ["last", "succeeded", 1],
    ]);
    expect(await journalSeqs(page)).toEqual(done.journal.map((e) => e.seq));
    expect(runRequests(runId, from).detail).toBe(0);
    // Followed afresh, the stream goes past the pause the run was resumed from, to its end.
    const stream = await server.fetch(`/api/ops/runs/${runId}/events`);
    const kinds = (await stream.text())
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => (JSON.parse(l) as { kind: string }).kind);
    expect(kinds.filter((k) => k === "run_paused")).toHaveLength(1);
    expect(kinds.at(-1)).toBe("run_finished");
  }, 90_000);
});
