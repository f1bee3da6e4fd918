/**
 * "View as this user" in a real browser against a real server: an operator with MFA picks a
 * member of another organisation in /admin/people, gives a reason, and the browser switches to
 * the member's console: their organisation's debates (not the operator's), no admin navigation,
 * and on every page the banner saying who acts for whom. Stop brings the operator back to
 * /admin/security as themselves (the admin API answers them again), and the audit log holds the
 * start and the end. Checked with axe and photographed at both widths.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { enrolMfa, totpCode } from "../access/mfa-support.ts";
import {
  call,
  claimOwner,
  PASSWORD,
  type Session,
  signIn,
  startAccessServer,
  usersCli,
  userWithRole,
} from "../access/support.ts";
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
import { statusesOf } from "./support/statuses.ts";

const MEMBER_QUESTION = "Should the tabs club meet on Tuesdays?";
const OPERATOR_QUESTION = "Is the default organisation's own debate private?";

let server: TestServer;
let browser: TestBrowser;
let operator: Session;
let operatorSecret: string;
/** A member of another organisation than the operator's, with a debate of theirs. */
let member: Session;

beforeAll(async () => {
  [server, browser] = await Promise.all([startAccessServer({ env: { ARAGORA_SIGNUP: "open" } }), openBrowser()]);
  await claimOwner(server);
  operator = await userWithRole(server, "admin", {}, ["--operator"]);
  operatorSecret = (await enrolMfa(server, operator)).secret;
  // Another organisation (its owner signs up), and a member of it made by the operator's CLI.
  const founder = await call<Session>(server, "POST", "/api/auth/sign-up", {
    body: { email: "bea@example.com", password: PASSWORD, name: "Bea", organisation_name: "Tabs Club" },
  });
  expect(founder.status).toBe(201);
  const email = "mo@example.com";
  const made = await usersCli(
    server,
    ["create", "--email", email, "--role", "member", "--org", founder.body.organisation.id, "--name", "Mo Member"],
    `${PASSWORD}\n`,
  );
  expect(made.code).toBe(0);
  member = await signIn(server, email);
  for (const [token, question] of [
    [member.access_token, MEMBER_QUESTION],
    [operator.access_token, OPERATOR_QUESTION],
  ] as const) {
    const res = await call(server, "POST", "/api/debates", {
      token,
      body: { question, agents: ["demo:alice", "demo:bob"], rounds: 1 },
    });
    expect(res.status).toBe(201);
  }
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** Who the page's session is, as GET /api/auth/me tells the page. */
async function meOf(page: Page): Promise<{ user: { id: string }; impersonated_by?: { user_id: string } }> {
  return (await page.evaluate(`fetch("/api/auth/me", { credentials: "same-origin" }).then((r) => r.json())`)) as {
    user: { id: string };
    impersonated_by?: { user_id: string };
  };
}

describe("an operator with MFA views the console as a member", () => {
  let tab: TestPage;
  beforeAll(async () => {
    tab = await browser.newPage();
  });

  test("starts from the users list, sees the member's debates under the banner, stops and is back in /admin", async () => {
    const { page, record } = tab;
    await page.goto(`${server.api}/signin`);
    await headingIs(page, "Sign in");
    await page.getByLabel("Email").fill(operator.user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await headingIs(page, "Two-step verification");
    await page.getByLabel("Code").fill(totpCode(operatorSecret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await arrivesAt(page, "/debates");
    // The operator's own organisation: their debate, not the member's.
    await page.getByText(OPERATOR_QUESTION).waitFor();
    expect(await page.getByText(MEMBER_QUESTION).count()).toBe(0);

    await page.goto(`${server.api}/admin/people`);
    await headingIs(page, "Organisations and users");
    await page.getByRole("table", { name: "Users" }).getByRole("link", { name: "View as Mo Member" }).click();
    await arrivesAt(page, "/admin/security");
    expect(await page.getByLabel("User id").inputValue()).toBe(member.user.id);
    // No reason, no start: the field is required.
    await page.getByRole("button", { name: "View as this user" }).click();
    expect(page.url()).toContain("/admin/security");
    await page.getByLabel("Reason").fill("ticket #4242: debates missing");
    await page.getByRole("button", { name: "View as this user" }).click();

    await arrivesAt(page, "/debates");
    const banner = page.getByRole("region", { name: "Acting as a user" });
    await banner.waitFor();
    expect(await banner.textContent()).toContain(`Acting as Mo Member for ${operator.user.name}`);
    await page.getByText(MEMBER_QUESTION).waitFor();
    expect(await page.getByText(OPERATOR_QUESTION).count()).toBe(0);
    // A member's console: no admin navigation, and the admin API refuses the impersonation.
    const main = page.getByRole("navigation", { name: "Main" });
    expect(await main.getByRole("link").allTextContents()).toEqual(["Debates", "Developer"]);
    expect(await statusesOf(page, ["/api/admin/audit", "/api/org/members"])).toEqual([403, 403]);
    expect(await meOf(page)).toMatchObject({
      user: { id: member.user.id },
      impersonated_by: { user_id: operator.user.id },
    });
    await expectAccessible(page, "viewing as a member");
    await screenshots(page, "admin-impersonating");
    await page.setViewportSize(PHONE);
    expect(await overflowsSideways(page)).toBe(false);
    await banner.getByRole("button", { name: "Stop" }).waitFor();
    await page.setViewportSize({ width: 1280, height: 900 });

    // The banner is on every page while it lasts.
    await main.getByRole("link", { name: "Developer" }).click();
    await arrivesAt(page, "/developer");
    await banner.waitFor();

    await banner.getByRole("button", { name: "Stop" }).click();
    await arrivesAt(page, "/admin/security");
    await headingIs(page, "Keys and access");
    expect(await page.getByRole("region", { name: "Acting as a user" }).count()).toBe(0);
    await page.getByText("Active key").waitFor();
    expect(await meOf(page)).toMatchObject({ user: { id: operator.user.id } });
    expect(await meOf(page)).not.toHaveProperty("impersonated_by");
    expect(await statusesOf(page, ["/api/admin/audit"])).toEqual([200]);
    expect(record.cspViolations).toEqual([]);

    const audit = await call<{
      entries: { action: string; actor: { user_id: string | null }; target: { id: string | null } | null }[];
    }>(server, "GET", "/api/admin/audit?limit=50", { headers: OPERATOR_AUTH });
    const trail = audit.body.entries.filter((e) => e.action.startsWith("impersonation."));
    expect(trail.map((e) => [e.action, e.actor.user_id, e.target?.id])).toEqual([
      ["impersonation.ended", operator.user.id, member.user.id],
      ["impersonation.started", operator.user.id, member.user.id],
    ]);
  });

  test("once the 15 minutes are over (the access cookie gone), the console brings the operator back by itself", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/admin/security?user_id=${encodeURIComponent(member.user.id)}`);
    await headingIs(page, "Keys and access");
    await page.getByLabel("Reason").fill("ticket #4243: follow-up");
    await page.getByRole("button", { name: "View as this user" }).click();
    await arrivesAt(page, "/debates");
    const banner = page.getByRole("region", { name: "Acting as a user" });
    await banner.waitFor();
    // What the browser does at the cookie's Max-Age (900 s): forget it.
    await page.context().clearCookies({ name: "aragora_access" });
    // The next request the page makes (its list's refresh, or this reload's) finds no session as the member.
    await page.reload();
    await arrivesAt(page, "/admin/security");
    await page.getByText("Viewing as a user ended after its 15 minutes").waitFor();
    expect(await banner.count()).toBe(0);
    expect(await meOf(page)).toMatchObject({ user: { id: operator.user.id } });
    expect(await statusesOf(page, ["/api/admin/audit"])).toEqual([200]);
    await expectAccessible(page, "viewing as a user ended");
    const audit = await call<{ entries: { action: string; actor: { user_id: string | null }; detail: unknown }[] }>(
      server,
      "GET",
      "/api/admin/audit?action=impersonation.ended",
      { headers: OPERATOR_AUTH },
    );
    expect(audit.body.entries[0]).toMatchObject({ actor: { user_id: operator.user.id }, detail: { ended: "expired" } });
  });
});
