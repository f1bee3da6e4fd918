/**
 * The console's tests in a real browser: Debian's chromium (/usr/bin/chromium, installed by apt;
 * nothing is downloaded) driven by playwright-core, headless, with a fresh temporary profile
 * (user-data-dir) per browser that Playwright removes on close. Each test gets its own context
 * (cookies, storage) so sessions never leak between tests.
 *
 * Helpers:
 * - {@link openBrowser}: the browser, and a page per context that records every request, console
 *   error and CSP violation;
 * - {@link expectAccessible}: axe-core's checks on the page as it is; fails on a serious or
 *   critical violation, printing each;
 * - {@link screenshots}: the page at desktop (1280x900) and phone (375x812) width, written to
 *   test-artifacts/screenshots/<name>-<width>.png for a reviewer to look at.
 *
 * @example
 * const browser = await openBrowser();
 * const { page } = await browser.newPage(server.api);
 * await page.goto(`${server.api}/signin`);
 * await expectAccessible(page, "sign-in");
 * await screenshots(page, "signin");
 * await browser.close();
 */
import { expect } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { ROOT } from "../../support/server.ts";

/** Debian's chromium (apt); `.ci/run` installs it when absent. */
export const CHROMIUM = "/usr/bin/chromium";

/** No GPU, no QUIC, nothing phoned home: the browser talks only to the server under test. */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** Where the screenshots go (gitignored). */
export const SCREENSHOT_DIR = join(ROOT, "test-artifacts", "screenshots");

export const DESKTOP = { width: 1280, height: 900 };
export const PHONE = { width: 375, height: 812 };

/** What a page saw: every request's URL, errors printed on its console, CSP violations. */
export interface PageRecord {
  requests: string[];
  consoleErrors: string[];
  cspViolations: string[];
}

export interface TestPage {
  page: Page;
  context: BrowserContext;
  record: PageRecord;
}

export interface TestBrowser {
  browser: Browser;
  /** A new context (no cookies) and a page in it, at desktop size. */
  newPage(): Promise<TestPage>;
  close(): Promise<void>;
}

/**
 * Launches chromium (see the module comment).
 *
 * @example const browser = await openBrowser();
 */
export async function openBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, timeout: 60_000 });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    async newPage() {
      const context = await browser.newContext({ viewport: DESKTOP });
      contexts.push(context);
      const page = await context.newPage();
      const record: PageRecord = { requests: [], consoleErrors: [], cspViolations: [] };
      page.on("request", (request) => record.requests.push(request.url()));
      page.on("console", (message) => {
        if (message.type() !== "error") return;
        const text = message.text();
        if (/Content[- ]Security[- ]Policy/i.test(text)) record.cspViolations.push(text);
        else record.consoleErrors.push(text);
      });
      page.on("pageerror", (error) => record.consoleErrors.push(`uncaught: ${error.message}`));
      return { page, context, record };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
    },
  };
}

let axeSource: string | undefined;

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  helpUrl: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/**
 * Runs axe-core on the page as it is now and fails on any serious or critical violation, each
 * printed with the elements it found. axe's source is evaluated through the DevTools protocol,
 * not added as a script tag: the console's CSP refuses inline scripts, rightly.
 *
 * @example await expectAccessible(page, "sign-in with an error shown");
 */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  axeSource ??= readFileSync(join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
  const present = await page.evaluate("typeof window.axe === 'object'");
  if (!present) await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    "window.axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations)",
  )) as AxeViolation[];
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (serious.length > 0) {
    const lines = serious.flatMap((v) => [
      `${label}: [${v.impact}] ${v.id}: ${v.help} (${v.helpUrl})`,
      ...v.nodes.map((n) => `    ${JSON.stringify(n.target)} ${n.failureSummary?.replace(/\s+/g, " ") ?? ""}`),
    ]);
    console.error(lines.join("\n"));
  }
  expect(serious.map((v) => `${label}: ${v.id}`)).toEqual([]);
}

/**
 * Writes the page at desktop and phone width (full page) to
 * test-artifacts/screenshots/<name>-1280.png and <name>-375.png, then puts the desktop size back.
 * Returns the two paths.
 *
 * @example await screenshots(page, "signin");
 */
export async function screenshots(page: Page, name: string): Promise<string[]> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const paths: string[] = [];
  for (const size of [DESKTOP, PHONE]) {
    await page.setViewportSize(size);
    // Let the layout settle at the new width before the picture.
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))");
    const path = join(SCREENSHOT_DIR, `${name}-${size.width}.png`);
    await page.screenshot({ path, fullPage: true });
    paths.push(path);
  }
  await page.setViewportSize(DESKTOP);
  return paths;
}

/**
 * Whether the page's content is wider than its viewport (a sideways scroll on a phone).
 *
 * @example expect(await overflowsSideways(page)).toBe(false);
 */
export async function overflowsSideways(page: Page): Promise<boolean> {
  return (await page.evaluate(
    "document.documentElement.scrollWidth > document.documentElement.clientWidth + 1",
  )) as boolean;
}
