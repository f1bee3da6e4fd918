/**
 * Where a sign-in goes once it succeeds: the page that sent the person to sign in (`?next=`, a
 * path of the console only: never another site), else the debates.
 *
 * @example navigate(nextPath(query), { replace: true });
 */
import { HOME } from "../../routes.ts";

export function nextPath(query: URLSearchParams): string {
  const next = query.get("next");
  // "/x" but not "//host" or "/\host" (both leave the site); never the sign-in page itself.
  if (next === null || !/^\/(?![/\\])/.test(next) || next.startsWith("/signin")) return HOME;
  return next;
}
