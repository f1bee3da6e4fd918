/**
 * Where a sign-in goes once it succeeds: the page that sent the person to sign in (`?next=`, a
 * path of the console only: never another site), else the debates.
 *
 * @example navigate(nextPath(query), { replace: true });
 */
import { HOME } from "../../routes.ts";

export function nextPath(query: URLSearchParams): string {
  const next = query.get("next");
  if (next === null || !next.startsWith("/")) return HOME;
  // Read as the browser will read it: "//host", "/\host" and "/<tab>/host" all leave the site
  // once parsed (the parser drops tabs and newlines, and reads backslashes as slashes).
  let url: URL;
  try {
    url = new URL(next, location.origin);
  } catch {
    return HOME;
  }
  if (url.origin !== location.origin || url.pathname.startsWith("/signin")) return HOME;
  return url.pathname + url.search + url.hash;
}
