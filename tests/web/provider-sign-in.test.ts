/**
 * Signing in to the console through an OpenID Connect provider, in a real browser: the sign-in
 * page offers the providers GET /api/auth/oauth/providers lists, the button leaves for the
 * provider (a real one, oidc-provider, whose development login form chromium fills in), and the
 * provider sends the browser back signed in; an account with MFA comes back to the code step
 * (its challenge in a cookie, not the URL) and a code finishes it; a refusal is shown on the
 * sign-in page.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createServer } from "node:net";
import type { Page } from "playwright-core";
import { enrolMfa, totpCode } from "../access/mfa-support.ts";
import { claimOwner, PASSWORD, signIn, startAccessServer, usersCli } from "../access/support.ts";
import { type IdpUser, startTestIdp, type TestIdp } from "../support/oidc-idp.ts";
import type { TestServer } from "../support/server.ts";
import { arrivesAt } from "./support/arrives-at.ts";
import { expectAccessible, openBrowser, screenshots, type TestBrowser } from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";

const CLIENT_ID = "aragora-console";
const CLIENT_SECRET = "console-oidc-client-secret-0b7e41";
const ADA: IdpUser = { sub: "ada-7f3e", email: "ada@example.com", emailVerified: true, name: "Ada Lovelace" };
const FAY: IdpUser = { sub: "fay-2b8e", email: "fay@example.com", emailVerified: true, name: "Fay" };
/** Known to the provider, with no account on the server (sign-up closed): refused. */
const ZED: IdpUser = { sub: "zed-4410", email: "zed@example.com", emailVerified: true, name: "Zed" };

let idp: TestIdp;
let server: TestServer;
let browser: TestBrowser;
let faySecret: string;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  // The provider must know the server's callback before the server starts, and the server its issuer.
  const port = await freePort();
  const callback = `http://127.0.0.1:${port}/api/auth/oauth/oidc/callback`;
  idp = await startTestIdp({
    client: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [callback] },
    users: [ADA, FAY, ZED],
  });
  [server, browser] = await Promise.all([
    startAccessServer({
      timeoutMs: 60_000,
      args: ["--api-port", String(port)],
      env: {
        OIDC_OAUTH_ISSUER: idp.issuer,
        OIDC_OAUTH_CLIENT_ID: CLIENT_ID,
        OIDC_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
        OIDC_OAUTH_REDIRECT_URI: callback,
        ARAGORA_SIGNUP: "closed",
      },
    }),
    openBrowser(),
  ]);
  await claimOwner(server, ADA.email);
  const made = await usersCli(server, ["create", "--email", FAY.email, "--role", "member"], `${PASSWORD}\n`);
  expect(made.code).toBe(0);
  faySecret = (await enrolMfa(server, await signIn(server, FAY.email))).secret;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  expect(await server?.stop()).toBe(0);
  await idp?.stop();
});

/** From the console's sign-in page through the provider's login and consent pages, as `sub`. */
async function signInAtProvider(page: Page, sub: string, from = "/signin"): Promise<void> {
  await page.goto(`${server.api}${from}`);
  const button = page.getByRole("link", { name: "Sign in with single sign-on (OpenID Connect)" });
  await button.waitFor({ timeout: 20_000 });
  await button.click();
  // oidc-provider's development interactions: a login form, then a consent form.
  await page.locator("input[name=login]").fill(sub, { timeout: 20_000 });
  await page.locator("input[name=password]").fill("any password: dev interactions check none");
  await page.locator("button[type=submit]").click();
  await page.locator("button[type=submit]").click({ timeout: 20_000 });
}

test("the sign-in page offers the configured provider, and the API lists it", async () => {
  const listed = await (await fetch(`${server.api}/api/auth/oauth/providers`)).json();
  expect(listed).toEqual({
    providers: [{ name: "oidc", label: "single sign-on (OpenID Connect)", start_url: "/api/auth/oauth/oidc/start" }],
  });
  const { page } = await browser.newPage();
  await page.goto(`${server.api}/signin`);
  await page.getByRole("link", { name: "Sign in with single sign-on (OpenID Connect)" }).waitFor();
  await expectAccessible(page, "sign-in with a provider");
  await screenshots(page, "signin-providers");
});

test("a provider's sign-in comes back signed in, to the page that was asked for", async () => {
  const { page } = await browser.newPage();
  await page.goto(`${server.api}/developer`);
  await arrivesAt(page, "/signin", 30_000);
  await signInAtProvider(page, ADA.sub, `/signin?next=${encodeURIComponent("/developer")}`);
  await arrivesAt(page, "/developer", 20_000);
  await headingIs(page, "Developer");
  const names = await page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
  expect(names).toEqual(["Debates", "Developer", "Admin"]);
});

test("an account with MFA comes back to the code step, and its code signs it in", async () => {
  const { page, context } = await browser.newPage();
  await signInAtProvider(page, FAY.sub);
  await headingIs(page, "Two-step verification");
  expect(new URL(page.url()).searchParams.get("mfa")).toBe("required");
  // The challenge is in an HttpOnly cookie, never in the address.
  expect(page.url()).not.toContain("challenge");
  expect((await context.cookies()).find((c) => c.name === "aragora_mfa_challenge")?.httpOnly).toBe(true);
  await page.getByLabel("Code").fill(totpCode(faySecret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
  await arrivesAt(page, "/debates", 20_000);
  await headingIs(page, "Debates");
});

test("a refused provider sign-in is shown on the sign-in page", async () => {
  const { page } = await browser.newPage();
  await signInAtProvider(page, ZED.sub);
  await page.waitForURL((url) => url.pathname === "/signin" && url.searchParams.has("error"), { timeout: 20_000 });
  await page.getByRole("alert").filter({ hasText: "sign-up is closed" }).waitFor();
});
