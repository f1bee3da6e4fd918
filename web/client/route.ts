/**
 * What a page of the console is: its path, its title, who may open it, and how its code is loaded
 * (a dynamic import: each page is its own chunk, fetched the first time it is opened, so the first
 * page ships only what it needs).
 *
 * @example
 * export const debatesRoutes: PageRoute[] = [
 *   { path: "/debates/:id", title: "Debate", access: "signed-in", load: () => import("./debate-page.tsx") },
 * ];
 */
import type { ComponentType } from "preact";

/**
 * Who may open a page: `anyone` (signing in), `signed-in` (any member; others are sent to
 * /signin), `admin` (admins, owners and operators; others are told they may not).
 */
export type Access = "anyone" | "signed-in" | "admin";

/** What a page component is given. */
export interface PageProps {
  /** The `:name` parts of the route's path. */
  params: Record<string, string>;
  /** The address bar's query. */
  query: URLSearchParams;
}

/** A page module: its component is the default export. */
export interface PageModule {
  default: ComponentType<PageProps>;
}

export interface PageRoute {
  /** `/debates/:id`: segments, `:name` standing for one. */
  path: string;
  /** The document title (`<title> · Aragora`). */
  title: string;
  access: Access;
  load: () => Promise<PageModule>;
}
