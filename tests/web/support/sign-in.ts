/**
 * Signing a person in for a browser test, two ways: through the console's own sign-in page (what
 * a person does), or by handing a context the cookies of an API sign-in (for tests about other
 * pages, and the benches).
 *
 * @example
 * await signInWithPassword(page, server, "owner@example.com");
 * await arrivesAt(page, "/debates");
 * await withSession(tab.context, server, "member@example.com");
 */
import type { BrowserContext, Page } from "playwright-core";
import { PASSWORD } from "../../access/support.ts";
import type { TestServer } from "../../support/server.ts";
import { headingIs } from "./heading.ts";

/** Fills and sends the sign-in page's form; where the page goes next is the caller's to check. */
export async function signInWithPassword(
  page: Page,
  server: TestServer,
  email: string,
  password = PASSWORD,
): Promise<void> {
  await page.goto(`${server.api}/signin`);
  await headingIs(page, "Sign in");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Cookies of a Set-Cookie list, for the server's origin. */
export function cookiesOf(response: Response, api: string) {
  const origin = new URL(api);
  return response.headers.getSetCookie().map((line) => {
    const [pair = "", ...attributes] = line.split(";").map((s) => s.trim());
    const [name = "", ...value] = pair.split("=");
    const path = attributes.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
    return { name, value: value.join("="), domain: origin.hostname, path, secure: true };
  });
}

/**
 * Signs `email` in through the API and gives the context its session cookies (the console's
 * sign-in page has its own tests).
 */
export async function withSession(context: BrowserContext, server: TestServer, email: string): Promise<void> {
  const res = await fetch(`${server.api}/api/auth/sign-in`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (res.status !== 200) throw new Error(`sign-in answered ${res.status}: ${await res.text()}`);
  await context.addCookies(cookiesOf(res, server.api));
}
