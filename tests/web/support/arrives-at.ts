/**
 * Waiting for the page's path: the console's client routes without loading a page, so a test
 * waits for the URL, not for a navigation.
 *
 * @example
 * await page.getByRole("button", { name: "Sign in" }).click();
 * await arrivesAt(page, "/debates");
 */
import type { Page } from "playwright-core";

/** The page's path once it is `path`. */
export async function arrivesAt(page: Page, path: string, timeout = 15_000): Promise<void> {
  await page.waitForURL((url) => url.pathname === path, { timeout });
}
