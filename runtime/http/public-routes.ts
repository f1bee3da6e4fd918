/**
 * The routes anyone may call without proving who they are: the one list. The shell skips
 * authentication for exactly these (app.ts), each of them declares `permission: "public"`
 * (permission.ts), and tests/access/permissions.test.ts checks both against the OpenAPI document
 * and the mounted routes, so a route is public in all three places or in none.
 *
 * @example
 * isPublicRoute("GET", "/api/health"); // true
 * isPublicRoute("GET", "/api/debates"); // false
 */

/**
 * The web console's pages and files (web/plugin.ts serves them): the same HTML shell for every
 * page, and the built scripts and styles. None carries data: the pages ask the API, which checks
 * who asks. A path ending in `/*` is that path and every path below it (the console's own routes).
 */
export const CONSOLE_ROUTES = [
  "GET /",
  "GET /setup",
  "GET /signin/*",
  "GET /debates/*",
  "GET /developer/*",
  "GET /admin/*",
  "GET /account/*",
  "GET /assets/:file",
] as const;

/**
 * `METHOD /path` of every public route; `:name` stands for one path segment, a trailing `/*` for
 * the path and anything below it. The `/api/auth/*` entries are the access feature's ways in
 * (signing in cannot need a sign-in).
 */
export const PUBLIC_ROUTES = [
  "GET /api/health",
  "GET /api/health/ws",
  "GET /api/receipts/public-key",
  "GET /swagger",
  "GET /swagger/json",
  "GET /swagger/assets/:file",
  "POST /api/auth/sign-in",
  "POST /api/auth/sign-up",
  "POST /api/auth/setup",
  "POST /api/auth/refresh",
  "POST /api/auth/password/reset",
  "GET /api/auth/oauth/providers",
  "GET /api/auth/oauth/:provider/start",
  "GET /api/auth/oauth/:provider/callback",
  "POST /api/auth/mfa/verify",
  "POST /api/auth/impersonation/stop",
  ...CONSOLE_ROUTES,
] as const;

/** One entry of {@link PUBLIC_ROUTES}. */
export type PublicRoute = (typeof PUBLIC_ROUTES)[number];

/** The paths without a `:param`, by method: asked without building a `METHOD /path` string per request. */
const EXACT = new Map<string, Set<string>>();
/** Entries with a `:param` segment: method, the static part before the first one, and segments. */
const PATTERNS: { method: string; prefix: string; segments: string[] }[] = [];
/** Entries ending in `/*`: method and the path they cover with everything below it. */
const SUBTREES: { method: string; path: string }[] = [];
for (const route of PUBLIC_ROUTES) {
  const [method, path] = route.split(" ") as [string, string];
  const param = path.indexOf("/:");
  if (path.endsWith("/*")) SUBTREES.push({ method, path: path.slice(0, -2) });
  else if (param === -1) {
    const paths = EXACT.get(method) ?? new Set<string>();
    paths.add(path);
    EXACT.set(method, paths);
  } else PATTERNS.push({ method, prefix: path.slice(0, param + 1), segments: path.split("/") });
}

/**
 * Whether `method path` is one of {@link PUBLIC_ROUTES}. `path` is the URL's path as sent (not
 * decoded: a spelling the list does not have exactly is simply not public, which only ever asks
 * for more). HEAD is answered by GET routes, so it is public where GET is; one trailing slash is
 * ignored, as the router ignores it.
 *
 * @example isPublicRoute("HEAD", "/api/health/"); // true
 */
export function isPublicRoute(method: string, path: string): boolean {
  const verb = method === "HEAD" ? "GET" : method;
  const bare = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
  if (EXACT.get(verb)?.has(bare)) return true;
  // The console's pages are never below /api/: the API's requests skip the walk.
  if (!bare.startsWith("/api/")) {
    for (const t of SUBTREES) {
      if (
        t.method === verb &&
        bare.startsWith(t.path) &&
        (bare.length === t.path.length || bare[t.path.length] === "/")
      )
        return true;
    }
  }
  for (const p of PATTERNS) {
    if (p.method !== verb || !bare.startsWith(p.prefix)) continue;
    const segments = bare.split("/");
    if (
      p.segments.length === segments.length &&
      p.segments.every((s, i) => (s.startsWith(":") ? (segments[i] as string).length > 0 : s === segments[i]))
    )
      return true;
  }
  return false;
}

/**
 * The path of a request URL as the router sees it (Bun has already resolved `.` and `..`), without
 * the query; cheaper than `new URL(url).pathname` on the request path.
 *
 * @example pathOf("http://localhost:8080/api/debates?limit=5"); // "/api/debates"
 */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  if (start === -1) return "/";
  const query = url.indexOf("?", start);
  return query === -1 ? url.slice(start) : url.slice(start, query);
}
