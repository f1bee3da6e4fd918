/**
 * A page as a reviewer checks it: axe finds no serious or critical violation, it is photographed
 * at desktop and phone width (test-artifacts/screenshots/<name>-<width>.png), and at phone width
 * it does not scroll sideways. The page is left at desktop size.
 *
 * @example await reviewed(page, "developer-usage");
 */
import { expect } from "bun:test";
import type { Page } from "playwright-core";
import { DESKTOP, expectAccessible, overflowsSideways, PHONE, screenshots } from "./browser.ts";

/** `label` names the page in axe's report; the screenshots are named `name`. */
export async function reviewed(page: Page, name: string, label = name): Promise<void> {
  await expectAccessible(page, label);
  await screenshots(page, name);
  await page.setViewportSize(PHONE);
  try {
    expect(await overflowsSideways(page)).toBe(false);
  } finally {
    await page.setViewportSize(DESKTOP);
  }
}
