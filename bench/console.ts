/**
 * The web console's weight: the JavaScript a browser downloads for its first page, gzipped as the
 * server sends it, against the 150 KB budget (issue 15). Measured in chromium against a real
 * server: every script the page loads (the entry, its chunks, the page's own chunk) is counted by
 * the bytes the server answers with Accept-Encoding: gzip. Two first pages: a visitor's (sign-in)
 * and a signed-in member's (the debates list, in a fresh browser context with the session's
 * cookies: nothing cached). Exits 1 when either is over the budget.
 *
 * @example
 * bun run bench:console          # a table, PASS/MISS
 * bun bench/console.ts --json    # one JSON line
 */
import type { Page } from "playwright-core";
import { PASSWORD, setupTokenOf, startAccessServer } from "../tests/access/support.ts";
import { openBrowser } from "../tests/web/support/browser.ts";
import { type BenchResult, printResults } from "./result.ts";

const BUDGET_KB = 150;
const json = process.argv.includes("--json");

/** The scripts a page loads while opening `url` and until its heading shows. */
async function scriptsOf(page: Page, url: string, heading: string): Promise<string[]> {
  const scripts = new Set<string>();
  const onResponse = (response: { url(): string; request(): { resourceType(): string } }) => {
    if (response.request().resourceType() === "script") scripts.add(response.url());
  };
  page.on("response", onResponse);
  await page.goto(url);
  await page.getByRole("heading", { level: 1, name: heading }).waitFor({ timeout: 30_000 });
  // Chunks preloaded after the heading (modulepreload) count too: the network goes quiet first.
  await page.waitForLoadState("networkidle");
  page.off("response", onResponse);
  return [...scripts];
}

/** Bytes on the wire of each file, as the server sends it to a browser that takes gzip. */
async function gzippedBytes(urls: string[]): Promise<number[]> {
  return Promise.all(
    urls.map(async (url) => {
      const res = await fetch(url, { headers: { "accept-encoding": "gzip" }, decompress: false });
      if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
      return (await res.arrayBuffer()).byteLength;
    }),
  );
}

const server = await startAccessServer();
const browser = await openBrowser();
const results: BenchResult[] = [];
const files: Record<string, { url: string; gzip_bytes: number }[]> = {};
try {
  const measure = async (name: string, page: Page, path: string, heading: string) => {
    const urls = await scriptsOf(page, `${server.api}${path}`, heading);
    const sizes = await gzippedBytes(urls);
    files[name] = urls.map((url, i) => ({ url: new URL(url).pathname, gzip_bytes: sizes[i] as number }));
    const kb = sizes.reduce((a, b) => a + b, 0) / 1024;
    results.push({
      name,
      value: Math.round(kb * 10) / 10,
      unit: "KB gz",
      goal: `<=${BUDGET_KB} KB gz`,
      pass: kb <= BUDGET_KB,
    });
  };

  const visitor = await browser.newPage();
  await measure("first_page_js_signin", visitor.page, "/signin", "Sign in");

  // The owner claims the account, then a fresh context with the session's cookies opens the debates.
  const claim = await fetch(`${server.api}/api/auth/setup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ setup_token: setupTokenOf(server), email: "owner@example.com", password: PASSWORD }),
  });
  if (claim.status !== 201) throw new Error(`setup answered ${claim.status}: ${await claim.text()}`);
  const origin = new URL(server.api);
  const cookies = claim.headers.getSetCookie().map((line) => {
    const [pair = "", ...attributes] = line.split(";").map((s) => s.trim());
    const [cookieName = "", ...value] = pair.split("=");
    const path = attributes.find((a) => a.toLowerCase().startsWith("path="))?.slice(5) ?? "/";
    return { name: cookieName, value: value.join("="), domain: origin.hostname, path, secure: true };
  });
  const member = await browser.newPage();
  await member.context.addCookies(cookies);
  await measure("first_page_js_debates", member.page, "/debates", "Debates");
} finally {
  await browser.close();
  await server.stop();
}

printResults(results, json);
if (!json) {
  for (const [name, list] of Object.entries(files)) {
    console.log(`\n${name}:`);
    for (const f of list) console.log(`  ${f.url.padEnd(40)} ${(f.gzip_bytes / 1024).toFixed(1).padStart(7)} KB gz`);
  }
}
process.exit(results.every((r) => r.pass) ? 0 : 1);
