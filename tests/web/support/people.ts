/**
 * People for a browser test: an organisation's owner (claimed with the setup token), or a person
 * of a role, each with a browser page signed in as them.
 *
 * @example
 * const { owner, page } = await ownerSignedIn(browser, server);          // a second server's organisation
 * const { person, page } = await personSignedIn(browser, server, "member");
 */
import { claimOwner, type Session, userWithRole } from "../../access/support.ts";
import type { TestServer } from "../../support/server.ts";
import { arrivesAt } from "./arrives-at.ts";
import type { TestBrowser, TestPage } from "./browser.ts";
import { signInWithPassword, withSession } from "./sign-in.ts";

/**
 * Claims the server's organisation for its owner and opens a page with the owner's session
 * cookies (the sign-in page has its own tests).
 */
export async function ownerSignedIn(
  browser: TestBrowser,
  server: TestServer,
  email = "owner@example.com",
): Promise<TestPage & { owner: Session }> {
  const owner = await claimOwner(server, email);
  const tab = await browser.newPage();
  await withSession(tab.context, server, email);
  return { ...tab, owner };
}

/** Makes a person of `role` (`aragora users create`) and signs them in through the sign-in page, landing on the debates. */
export async function personSignedIn(
  browser: TestBrowser,
  server: TestServer,
  role: "viewer" | "member" | "admin",
): Promise<TestPage & { person: Session }> {
  const person = await userWithRole(server, role);
  const tab = await browser.newPage();
  await signInWithPassword(tab.page, server, person.user.email);
  await arrivesAt(tab.page, "/debates", 20_000);
  return { ...tab, person };
}
