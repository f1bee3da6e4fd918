/**
 * What the page's own session gets from API paths: the statuses the page's code would see, asked
 * from inside the page (its cookies, its origin).
 *
 * @example expect(await statusesOf(page, ["/api/admin/users"])).toEqual([403]);
 */
import type { Page } from "playwright-core";

/** Statuses the page's own session gets from `paths`, in order. */
export async function statusesOf(page: Page, paths: string[]): Promise<number[]> {
  return (await page.evaluate(
    `Promise.all(${JSON.stringify(paths)}.map((p) => fetch(p, { credentials: "same-origin" }).then((r) => r.status)))`,
  )) as number[];
}
