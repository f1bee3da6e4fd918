/**
 * The console's ways in, in a real browser against a real server on a fresh data dir: the owner
 * claims the account with the setup token, signs out, signs in with a password (and is told when
 * it is wrong), signs in with a TOTP second step; a member and a viewer are refused /admin by the
 * page and by the API. Every page is checked with axe and photographed at desktop and phone width.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Page } from "playwright-core";
import { enrolMfa, totpCode } from "../access/mfa-support.ts";
import { PASSWORD, setupTokenOf, signIn, startAccessServer, userWithRole } from "../access/support.ts";
import type { TestServer } from "../support/server.ts";
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
import { personSignedIn } from "./support/people.ts";
import { signInWithPassword } from "./support/sign-in.ts";

const OWNER_EMAIL = "owner@example.com";

let server: TestServer;
let browser: TestBrowser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startAccessServer(), openBrowser()]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** A link of the main navigation. */
const navLink = (page: Page, name: string) =>
  page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

/** Navigation links the header shows. */
async function navLinks(page: Page): Promise<string[]> {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
}

describe("the owner's first start", () => {
  let tab: TestPage;
  beforeAll(async () => {
    tab = await browser.newPage();
  });

  test("a visitor of / is sent to sign in, and the sign-in page is accessible", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/`);
    await arrivesAt(page, "/signin");
    await headingIs(page, "Sign in");
    await expectAccessible(page, "sign-in");
    await screenshots(page, "signin");
  });

  test("the keyboard reaches everything: the skip link first, then the form, with a visible focus", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/signin`);
    await headingIs(page, "Sign in");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Skip to content");
    await page.keyboard.press("Enter");
    expect(await page.evaluate("document.activeElement?.id")).toBe("main");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.getAttribute('name')")).toBe("email");
    // The focus ring is drawn (an outline), not left to the browser's default or removed.
    expect(await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")).toBe("solid");
    await page.keyboard.type(OWNER_EMAIL);
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.getAttribute('name')")).toBe("password");
    await page.keyboard.press("Tab");
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Sign in");
  });

  test("claims the owner account with the setup token and lands on the debates", async () => {
    const { page, context } = tab;
    await page.getByRole("link", { name: "Claim the owner account" }).click();
    await arrivesAt(page, "/setup");
    await headingIs(page, "Claim the owner account");
    await expectAccessible(page, "setup");
    await screenshots(page, "setup");

    // A wrong token is named beside its field.
    await page.getByLabel("Setup token").fill("ara_setup_wrong");
    await page.getByLabel("Your name").fill("Olive Owner");
    await page.getByLabel("Email").fill(OWNER_EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Claim the owner account" }).click();
    await page.getByText("This is not the server's setup token.").waitFor();
    await expectAccessible(page, "setup with a wrong token");

    await page.getByLabel("Setup token").fill(setupTokenOf(server));
    await page.getByRole("button", { name: "Claim the owner account" }).click();
    await arrivesAt(page, "/debates");
    await headingIs(page, "Debates");
    expect(await navLinks(page)).toEqual(["Debates", "Developer", "Admin"]);
    await page.getByText("No debates yet.").waitFor();
    // The session is in HttpOnly cookies the page's script cannot read; only the CSRF token is readable.
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === "aragora_access")).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate("document.cookie")).not.toContain("aragora_access");
    await expectAccessible(page, "debates");
    await screenshots(page, "debates");
  });

  test("the developer page opens for the owner; /admin asks their password-only session for a second factor", async () => {
    const { page } = tab;
    await navLink(page, "Developer").click();
    await arrivesAt(page, "/developer");
    await headingIs(page, "Developer");
    // A page changed without a load: the focus moves to its heading, where a screen reader starts.
    await page.locator("h1:focus").waitFor();
    expect(await page.evaluate("document.activeElement?.textContent")).toBe("Developer");
    await page.getByText("No API keys yet.").waitFor();
    await expectAccessible(page, "developer");
    await screenshots(page, "developer");

    await navLink(page, "Admin").click();
    await arrivesAt(page, "/admin");
    await headingIs(page, "Admin");
    // No MFA on the account yet: the admin API would refuse the session, so the page says how to get through.
    await page.getByRole("link", { name: "Set up two-step verification" }).waitFor();
    await expectAccessible(page, "admin");
    await screenshots(page, "admin");

    await page.setViewportSize(PHONE);
    expect(await overflowsSideways(page)).toBe(false);
  });

  test("the theme toggle switches to dark and is remembered", async () => {
    const { page } = tab;
    const toggle = page.getByRole("button", { name: "Dark theme" });
    const before = await page.evaluate("document.documentElement.dataset.theme");
    await toggle.click();
    const after = await page.evaluate("document.documentElement.dataset.theme");
    expect(after).not.toBe(before);
    if (after !== "dark") await toggle.click();
    expect(await toggle.getAttribute("aria-pressed")).toBe("true");
    await page.reload();
    await headingIs(page, "Admin");
    expect(await page.evaluate("document.documentElement.dataset.theme")).toBe("dark");
    await expectAccessible(page, "admin, dark theme");
    await screenshots(page, "admin-dark");
    await toggle.click();
  });

  test("an expired access cookie is renewed with the refresh cookie: the person stays signed in", async () => {
    const { page, context } = tab;
    const before = (await context.cookies()).find((c) => c.name === "aragora_refresh")?.value;
    // What the browser does when the access cookie's Max-Age runs out.
    await context.clearCookies({ name: "aragora_access" });
    await page.reload();
    await headingIs(page, "Admin");
    // Shown to a signed-in owner only: the session went on.
    await page.getByRole("link", { name: "Set up two-step verification" }).waitFor();
    const after = await context.cookies();
    expect(after.map((c) => c.name)).toContain("aragora_access");
    // The refresh token was used (rotated), so it cannot be replayed.
    expect(after.find((c) => c.name === "aragora_refresh")?.value).not.toBe(before);
  });

  test("signs out: back to sign-in, and the session no longer opens a page", async () => {
    const { page, context } = tab;
    await page.getByRole("button", { name: "Sign out" }).click();
    await arrivesAt(page, "/signin");
    expect((await context.cookies()).map((c) => c.name)).not.toContain("aragora_access");
    await page.goto(`${server.api}/developer`);
    await arrivesAt(page, "/signin");
    expect(new URL(page.url()).searchParams.get("next")).toBe("/developer");
  });

  test("a wrong password shows an error; the right one signs in and returns to the page asked for", async () => {
    const { page } = tab;
    await signInWithPassword(page, server, OWNER_EMAIL, "not the password at all");
    await page.getByRole("alert").filter({ hasText: "Wrong email or password." }).waitFor();
    await arrivesAt(page, "/signin");
    await expectAccessible(page, "sign-in with a wrong password");
    await screenshots(page, "signin-error");

    await page.goto(`${server.api}/developer`);
    await arrivesAt(page, "/signin");
    await page.getByLabel("Email").fill(OWNER_EMAIL);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    await arrivesAt(page, "/developer");
    await headingIs(page, "Developer");
  });

  test("after sign-in, a `next` that leaves the site is ignored: the person lands on the debates", async () => {
    // A tab or a newline after the first slash is dropped by the URL parser: "//evil.example" then.
    for (const next of [
      "//evil.example/steal",
      "/\\evil.example",
      "https://evil.example/",
      "/\t/evil.example",
      "/\n/evil.example",
    ]) {
      const { page } = await browser.newPage();
      await page.goto(`${server.api}/signin?next=${encodeURIComponent(next)}`);
      await page.getByLabel("Email").fill(OWNER_EMAIL);
      await page.getByLabel("Password").fill(PASSWORD);
      await page.getByRole("button", { name: "Sign in" }).click();
      await arrivesAt(page, "/debates");
      expect(new URL(page.url()).origin).toBe(new URL(server.api).origin);
    }
  });

  test("the setup page says the account is claimed once it is", async () => {
    const { page } = tab;
    await page.goto(`${server.api}/setup`);
    await page.getByLabel("Setup token").fill("ara_setup_anything");
    await page.getByLabel("Email").fill("second@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Claim the owner account" }).click();
    await page.getByText("owner account has been claimed already").waitFor();
  });
});

describe("two-step sign-in", () => {
  test("an account with TOTP is asked for its code, and a code signs it in", async () => {
    const admin = await userWithRole(server, "admin");
    const { secret } = await enrolMfa(server, admin);
    const { page } = await browser.newPage();
    await signInWithPassword(page, server, admin.user.email);
    await headingIs(page, "Two-step verification");
    // The code field has the focus: typing goes straight in.
    expect(await page.evaluate("document.activeElement?.getAttribute('autocomplete')")).toBe("one-time-code");
    await expectAccessible(page, "two-step verification");
    await screenshots(page, "signin-totp");

    await page.getByLabel("Code").fill("000000" === totpCode(secret, 1) ? "111111" : "000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByRole("alert").filter({ hasText: "Wrong code" }).waitFor();

    await page.getByLabel("Code").fill(totpCode(secret, 1));
    await page.getByRole("button", { name: "Verify" }).click();
    await arrivesAt(page, "/debates");
    expect(await navLinks(page)).toEqual(["Debates", "Developer", "Admin"]);
  });
});

describe("roles", () => {
  for (const role of ["member", "viewer"] as const) {
    test(`a ${role} sees no Admin link and cannot open /admin; the API refuses too`, async () => {
      const { person, page } = await personSignedIn(browser, server, role);
      expect(await navLinks(page)).toEqual(["Debates", "Developer"]);

      await page.goto(`${server.api}/admin`);
      await headingIs(page, "Admin");
      await page.getByRole("alert").filter({ hasText: "You do not have access to this page" }).waitFor();
      expect(await page.getByRole("table").count()).toBe(0);
      await expectAccessible(page, `admin refused to a ${role}`);
      if (role === "member") await screenshots(page, "admin-refused");

      // The browser's own session, through the API the page would call: refused.
      const statuses = (await page.evaluate(`Promise.all(["/api/org/members", "/api/admin/audit"].map(
        (path) => fetch(path, { credentials: "same-origin" }).then((r) => r.status)))`)) as number[];
      expect(statuses).toEqual([403, 403]);
      // As the same person's bearer token, for good measure.
      const res = await fetch(`${server.api}/api/org/members`, {
        headers: { authorization: `Bearer ${(await signIn(server, person.user.email)).access_token}` },
      });
      expect(res.status).toBe(403);
    });
  }
});
