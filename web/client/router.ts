/**
 * Client-side routing: the address bar as a signal. Links are plain `<a href="/debates">`: a click
 * on one that stays in the console is taken over (no page load), and Back and Forward work as the
 * browser's own. Routes are matched by segments, `:name` standing for one (routes.ts lists them).
 *
 * @example
 * navigate("/debates/d-42");
 * matchPath("/debates/:id", "/debates/d-42"); // { id: "d-42" }
 * const { path, query } = here.value;
 */
import { signal } from "@preact/signals";

/** Where the console is: the path and the query of the address bar. */
export interface Here {
  path: string;
  query: URLSearchParams;
}

const read = (): Here => ({ path: location.pathname, query: new URLSearchParams(location.search) });

/** The current address; pages and the layout re-render when it changes. */
export const here = signal<Here>(read());

/**
 * Go to `to` (a path with an optional query) without loading the page; `replace` keeps the
 * current entry out of the history (a redirect).
 *
 * @example navigate(`/signin?next=${encodeURIComponent(here.value.path)}`, { replace: true });
 */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  const url = new URL(to, location.href);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  if (options.replace) history.replaceState(null, "", url.pathname + url.search + url.hash);
  else history.pushState(null, "", url.pathname + url.search + url.hash);
  here.value = read();
  window.scrollTo(0, 0);
}

/**
 * The parameters of `path` when it matches `pattern` (`/debates/:id`), else undefined; a trailing
 * slash is ignored.
 *
 * @example matchPath("/admin", "/admin/"); // {}
 */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const want = pattern.split("/").filter(Boolean);
  const got = path.split("/").filter(Boolean);
  if (want.length !== got.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i++) {
    const w = want[i] as string;
    const g = got[i] as string;
    if (w.startsWith(":")) params[w.slice(1)] = decodeURIComponent(g);
    else if (w !== g) return undefined;
  }
  return params;
}

/** Paths the server answers itself (the API, Swagger UI): links to them load the page. */
const SERVER_PATHS = ["/api/", "/swagger", "/metrics", "/ws"];

/** Takes over clicks on same-console links and follows Back and Forward. Call once. */
export function startRouter(): void {
  addEventListener("popstate", () => {
    here.value = read();
  });
  document.addEventListener("click", (event) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.("a");
    if (!link || link.target || link.hasAttribute("download") || !link.href) return;
    const url = new URL(link.href);
    if (url.origin !== location.origin || SERVER_PATHS.some((p) => url.pathname.startsWith(p))) return;
    // A link within this page (the skip link's #main): the browser moves there and the focus with it.
    if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}
