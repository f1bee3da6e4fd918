/**
 * Two-step verification through the console, in a real browser against a real server: an admin
 * signed in with a password only opens /admin and is shown the way to a second factor (the page
 * asks nothing of the admin API); on the account security page they enrol an authenticator (the
 * QR code is drawn, the key is shown; a wrong code is refused at the code field), save the
 * recovery codes shown once, sign in again with a code and reach the admin tables; make new
 * recovery codes; sign in with a recovery code once (a second time it is refused); and turn MFA
 * off. Codes are computed here from the key the page shows, as an authenticator app would. Every
 * state is checked with axe and photographed at desktop and phone width.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { totpCode, wrongCode } from "../access/mfa-support.ts";
import { call, claimOwner, PASSWORD, type Session, startAccessServer, userWithRole } from "../access/support.ts";
import type { TestServer } from "../support/server.ts";
import { arrivesAt } from "./support/arrives-at.ts";
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
import { headingIs } from "./support/heading.ts";
import { signInWithPassword } from "./support/sign-in.ts";

let server: TestServer;
let browser: TestBrowser;
let admin: Session;

beforeAll(async () => {
  [server, browser] = await Promise.all([startAccessServer(), openBrowser()]);
  await claimOwner(server);
  admin = await userWithRole(server, "admin");
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** Paths of the API the page asked since `from` (an index into its request record). */
function apiPathsSince(tab: TestPage, from: number): string[] {
  return tab.record.requests
    .slice(from)
    .map((url) => new URL(url).pathname)
    .filter((p) => p.startsWith("/api/"));
}

/** The error shown under the field labelled `label` (its aria-describedby), after checking it is marked invalid. */
async function fieldError(page: Page, label: string): Promise<string> {
  const input = page.getByLabel(label, { exact: true });
  await page.waitForFunction(
    (el) => el?.getAttribute("aria-invalid") === "true",
    await input.elementHandle({ timeout: 10_000 }),
  );
  const ids = ((await input.getAttribute("aria-describedby")) ?? "").split(" ");
  const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).textContent()));
  return texts.join(" ");
}

/** Checks the layout at phone width (no sideways scroll), then goes back to desktop width. */
async function fitsAPhone(page: Page, what: string): Promise<void> {
  await page.setViewportSize(PHONE);
  expect({ what, overflows: await overflowsSideways(page) }).toEqual({ what, overflows: false });
  await page.setViewportSize(DESKTOP);
}

/**
 * Codes as the authenticator shows them, never one step twice: the server refuses a step at or
 * before the last it accepted, and accepts one step either side of now. The next code is now's
 * (or the next period's, when now's was used); when both are used, it waits for the next period.
 */
class Authenticator {
  private lastStep = -1;
  constructor(readonly secret: string) {}

  async nextCode(): Promise<string> {
    for (;;) {
      const now = Math.floor(Date.now() / 30_000);
      const step = Math.max(now, this.lastStep + 1);
      if (step <= now + 1) {
        this.lastStep = step;
        return totpCode(this.secret, step - now);
      }
      await Bun.sleep((now + 1) * 30_000 - Date.now() + 50);
    }
  }
}

describe("an admin turns on two-step verification in the console", () => {
  let tab: TestPage;
  let app: Authenticator;
  let firstCodes: string[];
  let codes: string[];

  beforeAll(async () => {
    tab = await browser.newPage();
    await tab.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.api });
  });

  test("signed in with a password only, /admin shows the way to a second factor and asks the admin API nothing", async () => {
    const { page } = tab;
    await signInWithPassword(page, server, admin.user.email);
    await arrivesAt(page, "/debates");
    const from = tab.record.requests.length;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin", exact: true }).click();
    await arrivesAt(page, "/admin");
    await headingIs(page, "Admin", { exact: true });
    await headingIs(page, "A second factor is needed", { level: 2, exact: true });
    await page.getByText("Your account has no authenticator yet.").waitFor();
    expect(await page.getByRole("table").count()).toBe(0);
    await expectAccessible(page, "admin, MFA required");
    await screenshots(page, "admin-mfa-required");
    await fitsAPhone(page, "admin, MFA required");
    // Nothing the admin pages would ask (the admin API, the members list behind the overview).
    const asked = apiPathsSince(tab, from);
    expect(asked.filter((p) => p.startsWith("/api/admin") || p === "/api/org/members")).toEqual([]);
    // The API would indeed have refused.
    const refused = await call(server, "GET", "/api/admin/audit", { token: admin.access_token });
    expect([refused.status, refused.body.error]).toEqual([403, "mfa_required"]);

    await page.getByRole("link", { name: "Set up two-step verification" }).click();
    await arrivesAt(page, "/account/security");
    expect(new URL(page.url()).searchParams.get("next")).toBe("/admin");
  });

  test("the account page says MFA is off; a wrong password is refused at the password field", async () => {
    const { page } = tab;
    await headingIs(page, "Account security", { exact: true });
    await headingIs(page, "Set up an authenticator app", { level: 2, exact: true });
    expect(await page.locator(".facts dd").first().textContent()).toBe("off");
    // The header's link to the account is the current page.
    expect(await page.getByRole("link", { name: "Account", exact: true }).getAttribute("aria-current")).toBe("page");
    await expectAccessible(page, "account security, MFA off");
    await screenshots(page, "account-security");
    await fitsAPhone(page, "account security");

    await page.getByLabel("Your password").fill("not the password");
    await page.getByRole("button", { name: "Set up", exact: true }).click();
    expect(await fieldError(page, "Your password")).toContain("Password is not this account's password.");
    // Still signed in: a refusal of the password is no lost session.
    await headingIs(page, "Set up an authenticator app", { level: 2, exact: true });
  });

  test("enrols: the QR code and the key are shown; a wrong code is refused at the code field", async () => {
    const { page } = tab;
    await page.getByLabel("Your password").fill(PASSWORD);
    await page.getByRole("button", { name: "Set up", exact: true }).click();
    await headingIs(page, "Scan the QR code", { level: 2, exact: true });
    // The step's heading takes the focus, so a keyboard or a screen reader starts there.
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Scan the QR code");

    const qr = page.getByRole("img", { name: `QR code of the authenticator key for ${admin.user.email}` });
    await qr.waitFor();
    // A QR code of version v is 17 + 4v modules a side, here with a quiet zone of 4 each side; an
    // otpauth URI of this length needs a version from 3 to 10.
    const [, , width, height] = ((await qr.getAttribute("viewBox")) ?? "").split(" ").map(Number);
    expect(width).toBe(height as number);
    const version = ((width as number) - 8 - 17) / 4;
    expect(Number.isInteger(version)).toBe(true);
    expect(version).toBeGreaterThanOrEqual(3);
    expect(version).toBeLessThanOrEqual(10);
    const drawn = (await qr.locator("path").getAttribute("d")) ?? "";
    const runs = drawn.match(/M\d+ \d+h\d+v1h-\d+z/g) ?? [];
    expect(runs.join("")).toBe(drawn);
    // Roughly half the modules of a QR code are dark: dozens of runs, in every row of the code.
    expect(runs.length).toBeGreaterThan((width as number) * 2);
    const rows = new Set(runs.map((r) => Number(r.split(" ")[1]?.split("h")[0])));
    expect(rows.size).toBe((width as number) - 8);

    const key = ((await page.locator("code.secret").textContent()) ?? "").replace(/\s+/g, "");
    expect(key).toMatch(/^[A-Z2-7]{16,}$/);
    app = new Authenticator(key);
    await expectAccessible(page, "account security, enrolling");
    await screenshots(page, "account-security-enrol");
    await fitsAPhone(page, "enrolling");

    await page.getByLabel("Code from the app").fill(wrongCode(key));
    await page.getByRole("button", { name: "Turn on" }).click();
    expect(await fieldError(page, "Code from the app")).toContain(
      "Wrong code: give the 6 digits your authenticator shows now.",
    );
    await expectAccessible(page, "account security, wrong code at confirm");
    const status = await call<{ enabled: boolean; pending: boolean }>(server, "GET", "/api/auth/mfa/status", {
      token: admin.access_token,
    });
    expect(status.body).toMatchObject({ enabled: false, pending: true });
  });

  test("the right code turns MFA on: the recovery codes are shown once, to copy or download now", async () => {
    const { page } = tab;
    await page.getByLabel("Code from the app").fill(await app.nextCode());
    await page.getByRole("button", { name: "Turn on" }).click();
    await headingIs(page, "Two-step verification is on", { level: 2, exact: true });
    await page.getByText("Save these recovery codes now.").waitFor();
    firstCodes = (await page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").allTextContents()).map(
      (c) => c.trim(),
    );
    expect(firstCodes.length).toBeGreaterThanOrEqual(8);
    expect(new Set(firstCodes).size).toBe(firstCodes.length);

    await page.getByRole("button", { name: "Copy the codes" }).click();
    await page.getByRole("status").filter({ hasText: "Copied." }).waitFor();
    expect(await page.evaluate("navigator.clipboard.readText()")).toBe(firstCodes.join("\n"));
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download the codes" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("aragora-recovery-codes.txt");
    const saved = readFileSync((await download.path()) as string, "utf8");
    for (const code of firstCodes) expect(saved).toContain(code);

    // This session signed in with a password only: it is offered to sign in again, back to /admin.
    await page.getByText("This session was signed in with your password only").waitFor();
    await page.getByRole("button", { name: "Sign in again" }).waitFor();
    await expectAccessible(page, "account security, recovery codes");
    await screenshots(page, "account-security-codes");
    await fitsAPhone(page, "recovery codes");

    const status = await call<{ enabled: boolean; recovery_codes_left: number }>(
      server,
      "GET",
      "/api/auth/mfa/status",
      { token: admin.access_token },
    );
    expect(status.body).toMatchObject({ enabled: true, recovery_codes_left: firstCodes.length });
  });

  test("/admin now asks this session to sign in again; with a code it reaches the admin tables", async () => {
    const { page } = tab;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Admin", exact: true }).click();
    await arrivesAt(page, "/admin");
    await headingIs(page, "A second factor is needed", { level: 2, exact: true });
    await page.getByText("this session was signed in without a code").waitFor();
    await expectAccessible(page, "admin, MFA on but not in this session");
    await screenshots(page, "admin-mfa-required-enrolled");

    await page.getByRole("button", { name: "Sign in again" }).click();
    await arrivesAt(page, "/signin");
    expect(new URL(page.url()).searchParams.get("next")).toBe("/admin");
    await headingIs(page, "Sign in", { exact: true });
    await page.getByLabel("Email").fill(admin.user.email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await headingIs(page, "Two-step verification", { exact: true });
    await page.getByLabel("Code").fill(await app.nextCode());
    await page.getByRole("button", { name: "Verify" }).click();
    await arrivesAt(page, "/admin");
    await headingIs(page, "Admin", { exact: true });
    await page
      .getByRole("table", { name: "Members of the organisation" })
      .getByRole("cell", { name: admin.user.email })
      .waitFor();
    expect(await page.getByText("A second factor is needed").count()).toBe(0);
    expect(await page.getByRole("navigation", { name: "Admin console" }).getByRole("link").allTextContents()).toEqual([
      "Overview",
      "Audit log",
    ]);
    await page.getByRole("link", { name: "Audit log" }).click();
    await arrivesAt(page, "/admin/audit");
    await page.getByRole("cell", { name: "mfa.enabled" }).first().waitFor();
  });

  test("on an MFA session the page says so, and makes new recovery codes with a current code", async () => {
    const { page } = tab;
    await page.getByRole("link", { name: "Account", exact: true }).click();
    await arrivesAt(page, "/account/security");
    await headingIs(page, "New recovery codes", { level: 2, exact: true });
    const facts = await page.locator(".facts").textContent();
    expect(facts).toContain("on");
    expect(facts).toContain(`Recovery codes left${firstCodes.length}`);
    expect(facts).toContain("signed in with a code");
    expect(await page.getByRole("button", { name: "Sign in again" }).count()).toBe(0);
    await expectAccessible(page, "account security, MFA on");
    await screenshots(page, "account-security-on");
    await fitsAPhone(page, "MFA on");

    const form = page.locator("form").filter({ has: page.getByRole("button", { name: "Make new recovery codes" }) });
    await form.getByLabel("Code from the app").fill(wrongCode(app.secret));
    await page.getByRole("button", { name: "Make new recovery codes" }).click();
    // A locator, not waitForFunction with a string: that evaluates with eval, which the CSP refuses.
    await form.locator("[aria-invalid=true]").first().waitFor();
    expect(await form.locator(".field-error").textContent()).toBe(
      "Wrong code: give the 6 digits your authenticator shows now.",
    );

    await form.getByLabel("Code from the app").fill(await app.nextCode());
    await page.getByRole("button", { name: "Make new recovery codes" }).click();
    await headingIs(page, "New recovery codes", { level: 2, exact: true });
    await page.getByText("The earlier codes no longer work.").waitFor();
    codes = (await page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem").allTextContents()).map(
      (c) => c.trim(),
    );
    expect(codes.length).toBe(firstCodes.length);
    expect(codes.filter((c) => firstCodes.includes(c))).toEqual([]);
    await page.getByRole("button", { name: "I have saved them: back to account security" }).click();
    await headingIs(page, "Turn off two-step verification", { level: 2, exact: true });
  }, 60_000);

  test("a recovery code signs in once; the same code a second time, or an earlier one, is refused", async () => {
    const signInWithRecovery = async (code: string) => {
      const other = await browser.newPage();
      await signInWithPassword(other.page, server, admin.user.email);
      await headingIs(other.page, "Two-step verification", { exact: true });
      await other.page.getByRole("button", { name: "Use a recovery code instead" }).click();
      await other.page.getByLabel("Recovery code").fill(code);
      await other.page.getByRole("button", { name: "Verify" }).click();
      return other.page;
    };
    const first = await signInWithRecovery(codes[0] as string);
    await arrivesAt(first, "/debates");
    const again = await signInWithRecovery(codes[0] as string);
    await again.getByRole("alert").filter({ hasText: "Wrong recovery code." }).waitFor();
    expect(new URL(again.url()).pathname).toBe("/signin");
    const earlier = await signInWithRecovery(firstCodes[1] as string);
    await earlier.getByRole("alert").filter({ hasText: "Wrong recovery code." }).waitFor();
  });

  test("turns MFA off with the password and a recovery code; a wrong password is refused at its field", async () => {
    const { page } = tab;
    await page.reload();
    await headingIs(page, "Turn off two-step verification", { level: 2, exact: true });
    const form = page.locator("form").filter({ has: page.getByRole("button", { name: "Turn off" }) });
    await form.getByRole("button", { name: "Use a recovery code instead" }).click();
    await form.getByLabel("Your password").fill("not the password");
    await form.getByLabel("Recovery code").fill(codes[1] as string);
    await form.getByRole("button", { name: "Turn off" }).click();
    expect(await fieldError(page, "Your password")).toContain("Password is not this account's password.");
    await expectAccessible(page, "account security, turning off refused");

    await form.getByLabel("Your password").fill(PASSWORD);
    await form.getByRole("button", { name: "Turn off" }).click();
    await page.getByRole("status").filter({ hasText: "Two-step verification is off." }).waitFor();
    await headingIs(page, "Set up an authenticator app", { level: 2, exact: true });
    expect(await page.locator(".facts dd").first().textContent()).toBe("off");
    await expectAccessible(page, "account security, MFA turned off");
    const status = await call<{ enabled: boolean }>(server, "GET", "/api/auth/mfa/status", {
      token: admin.access_token,
    });
    expect(status.body.enabled).toBe(false);
    expect(tab.record.cspViolations).toEqual([]);
    expect(tab.record.consoleErrors.filter((e) => !/status of 40[13]/.test(e))).toEqual([]);
  });
});
