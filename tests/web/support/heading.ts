/**
 * Waiting for a page's main heading: the console routes in the browser, so a page has arrived
 * when its h1 says so. A failure names what the page shows instead.
 *
 * @example
 * await page.goto(`${server.api}/developer`);
 * await headingIs(page, "Developer");
 * await headingIs(page, "Turn off two-step verification", { level: 2, exact: true });
 */
import type { Page } from "playwright-core";

/**
 * The page's main heading (or one of `level`) once it says `text` (or exactly `text`); else a
 * failure saying what the page shows instead.
 */
export async function headingIs(
  page: Page,
  text: string,
  { level = 1, exact = false }: { level?: number; exact?: boolean } = {},
): Promise<void> {
  try {
    await page.getByRole("heading", { level, name: text, exact }).waitFor({ timeout: 20_000 });
  } catch (err) {
    const shown = await page
      .locator("main")
      .textContent({ timeout: 1000 })
      .catch(() => "(no main)");
    throw new Error(`no heading "${text}" at ${page.url()}; the page shows: ${shown}\n${(err as Error).message}`);
  }
}
