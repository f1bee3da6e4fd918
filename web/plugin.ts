/**
 * The web console's routes: the HTML shell for every console page (the client routes among them)
 * with a strict Content-Security-Policy, and the built files under /assets/ with a year's cache
 * (their names change with their content), gzipped for browsers that take it. Public (see
 * CONSOLE_ROUTES): neither carries data; the pages ask the API, which checks who asks.
 *
 * @example
 * const assets = openConsoleAssets({ env: config.env, log });
 * app.use(consoleRoutes({ assets }));
 */
import { extname } from "node:path";
import { Elysia } from "elysia";
import { HttpError } from "../runtime/http/errors.ts";
import { accessControl } from "../runtime/http/permission.ts";
import { CONSOLE_ROUTES } from "../runtime/http/public-routes.ts";
import { type ConsoleAssets, ConsoleNotBuilt } from "./assets.ts";
import type { ConsoleManifest } from "./build.ts";
import { contentSecurityPolicy } from "./csp.ts";
import { shellHtml } from "./shell.ts";

/** A year: the longest lifetime caches honour; a built file never changes under its name. */
export const IMMUTABLE = "public, max-age=31536000, immutable";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
};

/** Headers every console answer carries: what a browser may do with the page and its files. */
const HARDENING = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "same-origin",
  "x-frame-options": "DENY",
};

/** The console paths as Elysia routes: a `/*` entry is its path and the wildcard below it. */
function pagePaths(): string[] {
  return CONSOLE_ROUTES.map((r) => r.slice("GET ".length))
    .filter((p) => !p.startsWith("/assets/"))
    .flatMap((p) => (p.endsWith("/*") ? [p.slice(0, -2), p] : [p]));
}

export interface ConsoleRoutesOptions {
  assets: ConsoleAssets;
}

/**
 * The console's Elysia plugin (see the module comment).
 *
 * @example app.use(consoleRoutes({ assets: openConsoleAssets({ env: "development", log }) }));
 */
export function consoleRoutes({ assets }: ConsoleRoutesOptions) {
  const manifest = async (): Promise<ConsoleManifest> => {
    try {
      return await assets.manifest();
    } catch (err) {
      if (err instanceof ConsoleNotBuilt) throw new HttpError(503, "console_not_built", err.message);
      throw err;
    }
  };
  // One page for every path of a build: made once per manifest.
  let page: { manifest: ConsoleManifest; html: string } | undefined;

  const shell = async ({ request, set }: { request: Request; set: { headers: Record<string, unknown> } }) => {
    const built = await manifest();
    if (page?.manifest !== built) page = { manifest: built, html: shellHtml(built) };
    Object.assign(set.headers, HARDENING, {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy": contentSecurityPolicy(request.headers.get("host")),
      // The page names the current build's files: always asked again, never kept stale.
      "cache-control": "no-cache",
    });
    return page.html;
  };

  let app = new Elysia({ name: "aragora-web-console" }).use(accessControl);
  for (const path of pagePaths()) {
    app = app.get(path, shell, { permission: "public", detail: { hide: true } });
  }
  return app.get(
    "/assets/:file",
    async ({ params, request, set }) => {
      const built = await manifest();
      const file = params.file;
      if (!Object.hasOwn(built.files, file)) throw new HttpError(404, "not_found", `no console file ${file}`);
      const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
      Object.assign(set.headers, HARDENING, {
        "content-type": TYPES[extname(file)] ?? "application/octet-stream",
        "cache-control": IMMUTABLE,
        vary: "Origin, Accept-Encoding",
      });
      if (gzip) set.headers["content-encoding"] = "gzip";
      return Bun.file(assets.path(gzip ? `${file}.gz` : file));
    },
    { permission: "public", detail: { hide: true } },
  );
}
