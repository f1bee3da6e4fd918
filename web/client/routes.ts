/**
 * Every page of the console: each area lists its own in pages/<area>/routes.ts, so a new page is
 * one line in its area's list and one file beside it (see /work's console-ready notes). The first
 * route whose path matches wins.
 *
 * @example
 * const found = findRoute("/debates/d-42"); // { route: { path: "/debates/:id", ... }, params: { id: "d-42" } }
 */
import { accountRoutes } from "./pages/account/routes.ts";
import { adminRoutes } from "./pages/admin/routes.ts";
import { authRoutes } from "./pages/auth/routes.ts";
import { debatesRoutes } from "./pages/debates/routes.ts";
import { developerRoutes } from "./pages/developer/routes.ts";
import type { PageRoute } from "./route.ts";
import { matchPath } from "./router.ts";

export const ROUTES: PageRoute[] = [
  ...authRoutes,
  ...debatesRoutes,
  ...developerRoutes,
  ...adminRoutes,
  ...accountRoutes,
];

/** Where `/` goes. */
export const HOME = "/debates";

/**
 * The route for `path` and its parameters, or undefined (the layout shows "not found").
 *
 * @example findRoute("/nowhere"); // undefined
 */
export function findRoute(path: string): { route: PageRoute; params: Record<string, string> } | undefined {
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (params !== undefined) return { route, params };
  }
  return undefined;
}
