/**
 * The admin console in a real browser against a real server: an operator (admin role, granted
 * operator) signs in with a TOTP code and opens every admin page; approves a playbook run paused
 * at its approval gate and watches it finish, the approval recorded under their name; an admin
 * whose session skipped MFA is shown the way to a second factor instead of the pages (which it
 * does not load) and refused by the API; a viewer cannot open /admin and
 * the API refuses them too. Every page is checked with axe and photographed at both widths.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { enrolMfa, totpCode } from "../access/mfa-support.ts";
import { call, claimOwner, type Session, startAccessServer, userWithRole } from "../access/support.ts";
import { OPERATOR_AUTH, type TestServer } from "../support/server.ts";
import { arrivesAt } from "./support/arrives-at.ts";
import {
  expectAccessible,
  openBrowser,
  overflowsSideways,
  PHONE,
  screenshots,
  type TestBrowser,
  type TestPage,
} from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";
import { signInWithPassword } from "./support/sign-in.ts";
import { statusesOf } from "./support/statuses.ts";

let server: TestServer;
let browser: TestBrowser;
/** A person with the admin role, granted operator, with a TOTP authenticator. */
let operator: Session;
let operatorSecret: string;
/** The organisation's webhook endpoint (nothing listens there: its deliveries would fail). */
const HOOK_URL = "http://127.0.0.1:9/aragora-hook";

beforeAll(async () => {
  [server, browser] = await Promise.all([
    // Loopback webhooks allowed: the organisation's endpoint below points at this machine.
    startAccessServer({ env: { ARAGORA_OUTBOUND_ALLOW_LOOPBACK: "true" } }),
    openBrowser(),
  ]);
  await claimOwner(server);
  operator = await userWithRole(server, "admin", {}, ["--operator"]);
  operatorSecret = (await enrolMfa(server, operator)).secret;
  const hook = await call(server, "POST", "/api/webhooks", { token: operator.access_token, body: { url: HOOK_URL } });
  expect(hook.status).toBe(201);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** A link of the admin console's own navigation. */
const adminLink = (page: Page, name: string) =>
  page.getByRole("navigation", { name: "Admin console" }).getByRole("link", { name, exact: true });

/** A playbook that waits at a gate `approver` must pass, then checks who passed it. */
const gatePlaybook = (approver: string) => `name: console-gate
description: a gate approved from the admin console
steps:
  - id: prepare
    action: sleep
    with: { duration: 1ms }
    timeout: 5s
  - id: go
    action: approve
    with: { approvers: ["${approver}"], min_approvals: 1, message: go ahead? }
    timeout: 120s
  - id: check
    action: assert
    with: { that: "\${{ steps.go.outputs.approvers == '${approver}' }}" }
    timeout: 5s
`;

interface RunAnswer {
  run: { status: string };
  steps: { step_id: string; status: string }[];
  journal: { kind: string; step: string | null; data: Record<string, unknown> }[];
}

/** The run as the operator's token sees it. */
async function runOf(id: string): Promise<RunAnswer> {
  const res = await call<RunAnswer>(server, "GET", `/api/ops/runs/${id}`, { headers: OPERATOR_AUTH });
  expect(res.status).toBe(200);
  return res.body;
}

/** Polls the run until it has `status` (a gate reached, a run finished), or fails saying where it is. */
async function runReaches(id: string, status: string): Promise<RunAnswer> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const run = await runOf(id);
    if (run.run.status === status) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} is ${run.run.status}, not ${status}`);
    await Bun.sleep(100);
  }
}

describe("an operator with MFA", () => {
  let tab: TestPage;
  beforeAll(async () => {
    tab = await browser.newPage();
  });

  test("signs in with a code and opens /admin: health, nodes and members, no MFA warning", async () => {
    const { page } = tab;
    await signInWithPassword(page, server, operator.user.email);
    await headingIs(page, "Two-step verification");
    await page.getByLabel("Code").fill(totpCode(operatorSecret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await arrivesAt(page, "/debates");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin", exact: true }).click();
    await arrivesAt(page, "/admin");
    await headingIs(page, "Admin");
    await page.getByRole("table", { name: "Live nodes" }).getByRole("row").nth(1).waitFor();
    await page.getByRole("cell", { name: operator.user.email }).waitFor();
    expect(await page.getByText("A second factor is needed").count()).toBe(0);
    expect(await page.getByRole("alert").count()).toBe(0);
    await expectAccessible(page, "admin overview");
    await screenshots(page, "admin-overview");
  });

  test("every admin page opens, is accessible and fits a phone", async () => {
    const { page, record } = tab;
    const pages: [string, string, string, () => Promise<void>][] = [
      [
        "System",
        "/admin/system",
        "admin-system",
        async () => {
          await page.getByRole("cell", { name: "demo:alice" }).waitFor();
          // The organisation's webhook endpoint with its breaker: its actor starts on demand, so the
          // breaker is either not running yet or closed (nothing was delivered to open it).
          const row = page.getByRole("table", { name: "Webhook endpoints and their breakers" }).getByRole("row", {
            name: new RegExp(HOOK_URL),
          });
          await row.waitFor();
          expect(await row.getByRole("cell").nth(2).textContent()).toMatch(/^(not running|closed)$/);
        },
      ],
      ["Ops runs", "/admin/ops", "admin-ops", () => page.getByText("No runs yet.").waitFor()],
      [
        "Schedulers",
        "/admin/schedulers",
        "admin-schedulers",
        () => page.getByRole("button", { name: "Run receipt-retention now" }).waitFor(),
      ],
      [
        "Organisations and users",
        "/admin/people",
        "admin-people",
        async () => {
          await page
            .getByRole("table", { name: "Organisations" })
            .getByRole("link", { name: "Default organisation" })
            .waitFor();
          await page.getByRole("table", { name: "Users" }).getByText(operator.user.email).waitFor();
        },
      ],
      ["Audit log", "/admin/audit", "admin-audit", () => page.getByText("The audit chain is whole").waitFor()],
      ["Keys and access", "/admin/security", "admin-security", () => page.getByText("Active key").waitFor()],
    ];
    for (const [name, path, shot, ready] of pages) {
      await adminLink(page, name).click();
      await arrivesAt(page, path);
      await headingIs(page, name);
      await ready();
      expect(await page.getByRole("alert").allTextContents()).toEqual([]);
      await expectAccessible(page, name);
      await screenshots(page, shot);
      await page.setViewportSize(PHONE);
      expect({ path, overflows: await overflowsSideways(page) }).toEqual({ path, overflows: false });
      // At phone width the tables scroll sideways inside their boxes: a keyboard must reach those too.
      await expectAccessible(page, `${name} at phone width`);
      await page.setViewportSize({ width: 1280, height: 900 });
    }
    expect(record.cspViolations).toEqual([]);
  });

  test("gets an API token acting as a member from the users list, with a reason that lands in the audit log", async () => {
    const { page } = tab;
    const member = await userWithRole(server, "member");
    await adminLink(page, "Organisations and users").click();
    await arrivesAt(page, "/admin/people");
    await page.getByRole("link", { name: "Default organisation" }).click();
    await page.getByRole("heading", { level: 2, name: "Members of Default organisation" }).waitFor();
    await page.getByRole("link", { name: `View as ${member.user.name}` }).click();
    await arrivesAt(page, "/admin/security");
    expect(await page.getByLabel("User id").inputValue()).toBe(member.user.id);
    await page.getByLabel("Reason").fill("ticket #4242: debates missing");
    await page.getByRole("button", { name: "Get an API token" }).click();
    const granted = page.getByRole("status").filter({ hasText: "A token acting as the user" });
    await granted.waitFor();
    // The token shown works as the member, and only as them.
    const token = (await granted.locator(".mono").textContent()) ?? "";
    const me = await call<{ user: { id: string } }>(server, "GET", "/api/auth/me", { token });
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(member.user.id);
    const audit = await call<{ entries: { actor: { user_id: string | null }; detail: Record<string, unknown> }[] }>(
      server,
      "GET",
      "/api/admin/audit?action=impersonation.started",
      { headers: OPERATOR_AUTH },
    );
    expect(audit.body.entries[0]).toMatchObject({
      actor: { user_id: operator.user.id },
      detail: { reason: "ticket #4242: debates missing" },
    });
    await expectAccessible(page, "impersonation granted");
  });

  test("approves a run paused at its gate from /admin and sees it finish", async () => {
    const { page } = tab;
    const started = await call<{ run_id: string }>(server, "POST", "/api/ops/runs", {
      headers: OPERATOR_AUTH,
      body: { playbook: { source: gatePlaybook(operator.user.email), file: "console-gate.yml" } },
    });
    expect(started.status).toBe(202);
    const runId = started.body.run_id;
    await runReaches(runId, "waiting_approval");

    await adminLink(page, "Ops runs").click();
    await arrivesAt(page, "/admin/ops");
    await page.getByRole("link", { name: runId }).click();
    await arrivesAt(page, `/admin/ops/${runId}`);
    await headingIs(page, "Ops run console-gate");
    const status = page.getByRole("status", { name: "Run status" });
    await status.getByText("waiting approval").waitFor();
    await expectAccessible(page, "ops run at its gate");
    await screenshots(page, "admin-run-waiting");

    await page.getByRole("button", { name: "Approve go" }).click();
    // The page follows the run by itself: no reload between the click and the finish.
    await status.getByText("succeeded").waitFor({ timeout: 20_000 });
    expect(await page.getByRole("button", { name: "Approve go" }).count()).toBe(0);
    await page.getByText("Approve go: done.").waitFor();
    await screenshots(page, "admin-run-finished");

    // The server says the same: every step passed, and the gate was passed by this person.
    const run = await runOf(runId);
    expect(run.run.status).toBe("succeeded");
    expect(run.steps.map((s) => [s.step_id, s.status])).toEqual([
      ["prepare", "succeeded"],
      ["go", "succeeded"],
      ["check", "succeeded"],
    ]);
    // The approval is in the audit log under the person's own account, not a shared credential.
    const audit = await call<{ entries: { action: string; actor: { user_id: string | null }; detail: unknown }[] }>(
      server,
      "GET",
      "/api/admin/audit?action=ops.step_approved",
      { headers: OPERATOR_AUTH },
    );
    expect(audit.body.entries).toHaveLength(1);
    expect(audit.body.entries[0]).toMatchObject({
      actor: { user_id: operator.user.id },
      detail: { step: "go", approver: operator.user.email },
    });
  });

  test("cancels a run waiting at its gate, after confirming", async () => {
    const { page } = tab;
    const started = await call<{ run_id: string }>(server, "POST", "/api/ops/runs", {
      headers: OPERATOR_AUTH,
      body: { playbook: { source: gatePlaybook(operator.user.email), file: "console-gate.yml" } },
    });
    const runId = started.body.run_id;
    await runReaches(runId, "waiting_approval");
    await page.goto(`${server.api}/admin/ops/${runId}`);
    const status = page.getByRole("status", { name: "Run status" });
    await status.getByText("waiting approval").waitFor();
    // Declining the confirmation leaves the run alone.
    page.once("dialog", (d) => void d.dismiss());
    await page.getByRole("button", { name: "Cancel run" }).click();
    await Bun.sleep(300);
    expect((await runOf(runId)).run.status).toBe("waiting_approval");
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Cancel run" }).click();
    await status.getByText("cancelled").waitFor({ timeout: 20_000 });
    expect(await page.getByRole("button", { name: /Approve|Cancel run/ }).count()).toBe(0);
    expect((await runReaches(runId, "cancelled")).steps.find((s) => s.step_id === "check")?.status).not.toBe(
      "succeeded",
    );
  });

  test("runs a schedule now and sees its last run", async () => {
    const { page } = tab;
    await adminLink(page, "Schedulers").click();
    await arrivesAt(page, "/admin/schedulers");
    await page.getByRole("button", { name: "Run receipt-retention now" }).click();
    await page.getByRole("status").filter({ hasText: "receipt-retention: started." }).waitFor();
    const deadline = Date.now() + 20_000;
    for (;;) {
      const res = await call<{ schedulers: { name: string; last_run: { outcome: string | null } | null }[] }>(
        server,
        "GET",
        "/api/admin/schedulers",
        { headers: OPERATOR_AUTH },
      );
      const outcome = res.body.schedulers.find((s) => s.name === "receipt-retention")?.last_run?.outcome;
      if (outcome === "succeeded") break;
      if (Date.now() > deadline) throw new Error(`receipt-retention's last run: ${outcome}`);
      await Bun.sleep(200);
    }
    await page.reload();
    const row = page.getByRole("row").filter({ hasText: "receipt-retention" });
    await row.getByText("succeeded").waitFor();
    expect(await row.getByText("never").count()).toBe(0);
  });

  test("the ops runs list links the finished run, and the audit page shows the approval", async () => {
    const { page } = tab;
    await adminLink(page, "Ops runs").click();
    await arrivesAt(page, "/admin/ops");
    await page.getByRole("cell", { name: "succeeded" }).waitFor();
    await adminLink(page, "Audit log").click();
    await arrivesAt(page, "/admin/audit");
    await page.getByLabel("Action").fill("ops.step_approved");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL((u) => u.searchParams.get("action") === "ops.step_approved");
    await page.getByRole("cell", { name: "ops.step_approved" }).waitFor();
    await page.getByText("The audit chain is whole").waitFor();
    await expectAccessible(page, "audit log filtered");
  });

  test("an audit entry edited behind the server's back: the audit page says the chain is broken, where and how", async () => {
    const { page } = tab;
    const db = new Database(join(server.dataDir, "core.db"));
    try {
      db.run("PRAGMA busy_timeout = 10000");
      const row = db
        .query("SELECT id, chain, seq FROM audit_log WHERE action = 'member.added' AND chain != 'platform' LIMIT 1")
        .get() as { id: string; chain: string; seq: number } | null;
      expect(row).not.toBeNull();
      db.run("UPDATE audit_log SET ip = '203.0.113.9' WHERE id = ?", [row?.id ?? ""]);
      await page.goto(`${server.api}/admin/audit`);
      await headingIs(page, "Audit log");
      const alarm = page.getByRole("alert").filter({ hasText: `The audit chain ${row?.chain} is broken` });
      await alarm.waitFor();
      expect(await alarm.textContent()).toContain(`at entry ${row?.seq}: edited (${row?.id})`);
      await page.getByRole("table", { name: "Each audit chain" }).getByRole("cell", { name: "platform" }).waitFor();
      await expectAccessible(page, "audit log with a broken chain");
      await screenshots(page, "admin-audit-broken");
    } finally {
      db.close();
    }
  });
});

describe("who is refused", () => {
  test("an admin whose session skipped MFA gets the way to a second factor, not the pages the API would refuse", async () => {
    const admin = await userWithRole(server, "admin");
    const { page, record } = await browser.newPage();
    await signInWithPassword(page, server, admin.user.email);
    await arrivesAt(page, "/debates");
    await page.goto(`${server.api}/admin/audit`);
    await headingIs(page, "Audit log");
    await page.getByRole("heading", { level: 2, name: "A second factor is needed" }).waitFor();
    // No authenticator on the account: set one up, and come back here afterwards.
    const setUp = page.getByRole("link", { name: "Set up two-step verification" });
    expect(await setUp.getAttribute("href")).toBe(`/account/security?next=${encodeURIComponent("/admin/audit")}`);
    expect(await page.getByRole("table").count()).toBe(0);
    expect(await page.getByRole("navigation", { name: "Admin console" }).count()).toBe(0);
    // The page asked nothing of the admin API (it knows the answer), nor of the routes behind the admin pages.
    expect(record.requests.filter((url) => new URL(url).pathname.startsWith("/api/admin"))).toEqual([]);
    expect(record.requests.filter((url) => new URL(url).pathname === "/api/org/members")).toEqual([]);
    await expectAccessible(page, "admin without MFA");
    await screenshots(page, "admin-no-mfa");
    await page.setViewportSize(PHONE);
    expect(await overflowsSideways(page)).toBe(false);
    await page.setViewportSize({ width: 1280, height: 900 });
    // The API refuses the session all the same.
    expect(await statusesOf(page, ["/api/admin/audit", "/api/ops/runs"])).toEqual([403, 403]);
  });

  test("a viewer cannot open /admin or its pages, and the API refuses them too", async () => {
    const viewer = await userWithRole(server, "viewer");
    const { page } = await browser.newPage();
    await signInWithPassword(page, server, viewer.user.email);
    await arrivesAt(page, "/debates");
    for (const [path, title] of [
      ["/admin", "Admin"],
      ["/admin/ops", "Ops runs"],
    ]) {
      await page.goto(`${server.api}${path}`);
      await headingIs(page, title as string);
      await page.getByRole("alert").filter({ hasText: "You do not have access to this page" }).waitFor();
      expect(await page.getByRole("table").count()).toBe(0);
      expect(await page.getByRole("button", { name: /Approve/ }).count()).toBe(0);
    }
    await expectAccessible(page, "admin refused to a viewer");
    await screenshots(page, "admin-refused-viewer");
    expect(
      await statusesOf(page, ["/api/admin/audit", "/api/ops/runs", "/api/admin/nodes", "/api/org/members"]),
    ).toEqual([403, 403, 403, 403]);
  });
});
