/**
 * How the server serves the console: the HTML shell on the console's paths (public, carrying no
 * data) with a strict Content-Security-Policy that the browser enforces (an injected inline
 * script does not run), every file of a page from the server itself, built files cached for a
 * year and gzipped, and the API, Swagger UI and unknown paths answered as before (no console CSP
 * on Swagger UI, whose page needs an inline script).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CONSOLE_ROUTES, isPublicRoute } from "../../runtime/http/public-routes.ts";
import { BUN, ROOT, startTestServer, type TestServer } from "../support/server.ts";
import { openBrowser, type TestBrowser } from "./support/browser.ts";
import { headingIs } from "./support/heading.ts";

let server: TestServer;
let browser: TestBrowser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), openBrowser()]);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  expect(await server.stop()).toBe(0);
});

/** The shell's script and style files, from its HTML. */
async function shellFiles(): Promise<string[]> {
  const html = await (await fetch(`${server.api}/signin`)).text();
  return [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
}

describe("the HTML shell", () => {
  test("answers every console path without credentials, with the CSP, never cached stale", async () => {
    for (const path of ["/", "/signin", "/setup", "/debates", "/debates/d-1/anything", "/developer/keys", "/admin"]) {
      const res = await fetch(`${server.api}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
      expect(res.headers.get("cache-control")).toBe("no-cache");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self';");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).not.toContain("unsafe-eval");
      expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${server.apiPort} wss://127.0.0.1:${server.apiPort}`);
      expect(csp).toContain("frame-ancestors 'none'");
      const html = await res.text();
      expect(html).toContain('<div id="app"></div>');
      // No inline script: every <script> names a file of this server.
      expect([...html.matchAll(/<script\b[^>]*>/g)].every((m) => /src="\/assets\//.test(m[0]))).toBe(true);
    }
  });

  test("a Host header that is not a host name is kept out of the policy", async () => {
    const res = await fetch(`${server.api}/signin`, { headers: { host: "evil.example; script-src *" } });
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("connect-src 'self';");
    expect(csp).not.toContain("evil");
  });

  test("the console's paths are exactly the public ones CONSOLE_ROUTES lists; the API's stay private", () => {
    for (const route of CONSOLE_ROUTES) {
      const path = route.slice(4).replace("/*", "/x").replace(":file", "main.js");
      expect({ path, public: isPublicRoute("GET", path) }).toEqual({ path, public: true });
      expect({ path, public: isPublicRoute("POST", path) }).toEqual({ path, public: false });
    }
    for (const path of ["/api/debates", "/api/admin/audit", "/adminx", "/debatesx/1", "/api/admin"]) {
      expect({ path, public: isPublicRoute("GET", path) }).toEqual({ path, public: false });
    }
  });
});

describe("the built files", () => {
  test("are cached for a year, gzipped when the browser takes it, and only the build's files are served", async () => {
    const files = await shellFiles();
    expect(files.some((f) => f.endsWith(".js"))).toBe(true);
    expect(files.some((f) => f.endsWith(".css"))).toBe(true);
    for (const file of files) {
      const res = await fetch(`${server.api}${file}`, { headers: { "accept-encoding": "gzip" }, decompress: false });
      expect({ file, status: res.status }).toEqual({ file, status: 200 });
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect(res.headers.get("content-type")).toMatch(file.endsWith(".js") ? /^text\/javascript/ : /^text\/css/);
      const plain = await fetch(`${server.api}${file}`, { headers: { "accept-encoding": "identity" } });
      expect(plain.headers.get("content-encoding")).toBeNull();
      const body = await plain.text();
      expect(Bun.gunzipSync(new Uint8Array(await res.arrayBuffer()))).toEqual(new TextEncoder().encode(body));
    }
    for (const path of ["/assets/manifest.json", "/assets/nope.js", "/assets/..%2Fmanifest.json"]) {
      expect({ path, status: (await fetch(`${server.api}${path}`)).status }).toEqual({ path, status: 404 });
    }
  });
});

describe("what the console leaves alone", () => {
  test("the API, Swagger UI and unknown paths answer as before, without the console's CSP", async () => {
    const health = await fetch(`${server.api}/api/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get("content-security-policy")).toBeNull();
    const swagger = await fetch(`${server.api}/swagger`);
    expect(swagger.status).toBe(200);
    expect(swagger.headers.get("content-security-policy")).toBeNull();
    expect(await swagger.text()).toContain("swagger-ui");
    const api = await fetch(`${server.api}/api/debates`);
    expect(api.status).toBe(401);
    const unknown = await fetch(`${server.api}/nowhere`);
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { error: string }).error).toBe("unauthorized");
  });
});

describe("in the browser", () => {
  test("every request of a page goes to the server itself; the CSP holds and refuses an inline script", async () => {
    const { page, record } = await browser.newPage();
    await page.goto(`${server.api}/signin`);
    await headingIs(page, "Sign in");
    await page.goto(`${server.api}/setup`);
    await headingIs(page, "Claim the owner account");
    const origin = new URL(server.api).origin;
    const elsewhere = record.requests.filter((url) => !url.startsWith("data:") && new URL(url).origin !== origin);
    expect(elsewhere).toEqual([]);
    expect(record.requests.some((url) => url.includes("/assets/") && url.endsWith(".js"))).toBe(true);
    expect(record.cspViolations).toEqual([]);
    // The one refusal expected: GET /api/auth/me of a visitor not signed in (chromium logs it).
    expect(record.consoleErrors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    expect(record.consoleErrors.length).toBeLessThanOrEqual(2);

    // What an injected script (stored XSS) would be: refused by the policy, reported, never run.
    const outcome = await page.evaluate(`new Promise((resolve) => {
      document.addEventListener("securitypolicyviolation", (e) => resolve({ ran: window.__injected === 1, blocked: e.violatedDirective }), { once: true });
      const s = document.createElement("script");
      s.textContent = "window.__injected = 1";
      document.body.appendChild(s);
    })`);
    expect(outcome).toEqual({ ran: false, blocked: "script-src-elem" });
    // An injected event handler attribute is refused the same way. (eval cannot be tried from here:
    // the DevTools protocol's evaluation is exempt; the header test checks there is no 'unsafe-eval'.)
    const handler = await page.evaluate(`new Promise((resolve) => {
      document.addEventListener("securitypolicyviolation", (e) => resolve({ ran: window.__clicked === 1, blocked: e.violatedDirective }), { once: true });
      const b = document.createElement("button");
      b.setAttribute("onclick", "window.__clicked = 1");
      document.body.appendChild(b);
      b.click();
    })`);
    expect(handler).toEqual({ ran: false, blocked: "script-src-attr" });
  });
});

describe("the client's types", () => {
  test("web/client type-checks with the DOM's types (the root project leaves it out)", () => {
    const run = spawnSync(BUN, ["x", "tsc", "--noEmit", "-p", join(ROOT, "web", "client")], {
      cwd: ROOT,
      encoding: "utf8",
    });
    expect(`${run.stdout}${run.stderr}`).toBe("");
    expect(run.status).toBe(0);
  }, 60_000);
});
