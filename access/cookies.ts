/**
 * The browser session: the access token in `aragora_access` (HttpOnly, every path), the refresh
 * token in `aragora_refresh` (HttpOnly, only sent to /api/auth), and the CSRF token in
 * `aragora_csrf`, the one cookie the page's script may read. All are Secure and SameSite=Strict.
 *
 * A request authenticated by the cookie that changes state (POST, PUT, PATCH, DELETE) must also
 * carry the CSRF token in `X-CSRF-Token` (double submit): another site can make the browser send
 * the cookies, but cannot read them to copy one into a header.
 *
 * @example
 * set.headers["set-cookie"] = sessionCookies({ access, accessMaxAge: 3600, refresh, refreshMaxAge: 2592000, csrf });
 * const refused = csrfRefusal(request.method, headers, cookieHeader);
 */

import { HttpError } from "../runtime/http/errors.ts";
import { constantTimeEqual } from "../runtime/security/secret-token.ts";

export const ACCESS_COOKIE = "aragora_access";
export const REFRESH_COOKIE = "aragora_refresh";
export const CSRF_COOKIE = "aragora_csrf";
export const CSRF_HEADER = "x-csrf-token";
/**
 * The pending second factor of a browser sign-in (OAuth with MFA on): the challenge token, kept
 * out of URLs and scripts, sent only to /api/auth/mfa, where POST /verify finishes it with a code.
 */
export const MFA_CHALLENGE_COOKIE = "aragora_mfa_challenge";
const MFA_CHALLENGE_PATH = "/api/auth/mfa";
/**
 * While an operator views the console as a user (impersonation-session-routes.ts), their own
 * refresh token, kept aside: only sent to /api/auth, where nothing but POST
 * /api/auth/impersonation/stop (and sign-out, to end it) reads it. Never the user's: an
 * impersonation has no refresh token of its own, so it cannot outlive its access token.
 */
export const IMPERSONATOR_REFRESH_COOKIE = "aragora_impersonator_refresh";
const REFRESH_PATH = "/api/auth";

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The value of cookie `name` in a Cookie header, or undefined. Reads only as far as the cookie, so
 * the request path pays no parse of the others.
 *
 * @example readCookie("a=1; aragora_access=eyJ...", ACCESS_COOKIE) // "eyJ..."
 */
export function readCookie(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  let at = 0;
  while (at < header.length) {
    const found = header.indexOf(name, at);
    if (found === -1) return undefined;
    const end = found + name.length;
    const startsPair = found === 0 || header[found - 1] === " " || header[found - 1] === ";";
    if (startsPair && header[end] === "=") {
      const semi = header.indexOf(";", end);
      const value = header.slice(end + 1, semi === -1 ? undefined : semi).trim();
      return value.length > 0 ? value : undefined;
    }
    at = end;
  }
  return undefined;
}

/** What one sign-in, refresh or setup hands the browser. */
export interface SessionCookieValues {
  access: string;
  accessMaxAge: number;
  refresh: string;
  refreshMaxAge: number;
  csrf: string;
}

const cookie = (name: string, value: string, path: string, maxAge: number, httpOnly: boolean): string =>
  `${name}=${value}; Path=${path}; Max-Age=${maxAge}; Secure; SameSite=Strict${httpOnly ? "; HttpOnly" : ""}`;

/**
 * The Set-Cookie values of a session: its three cookies, and the end of any impersonation the
 * browser was in (a new session is the browser's own again).
 *
 * @example set.headers["set-cookie"] = sessionCookies(values);
 */
export function sessionCookies(v: SessionCookieValues): string[] {
  return [
    cookie(ACCESS_COOKIE, v.access, "/", v.accessMaxAge, true),
    cookie(REFRESH_COOKIE, v.refresh, REFRESH_PATH, v.refreshMaxAge, true),
    // As long as the session, so a page reloaded later still has the token for its next write.
    cookie(CSRF_COOKIE, v.csrf, "/", v.refreshMaxAge, false),
    cookie(IMPERSONATOR_REFRESH_COOKIE, "", REFRESH_PATH, 0, true),
  ];
}

/** What starting an impersonation in the browser hands it. */
export interface ImpersonationCookieValues {
  /** The impersonation's access token (acts as the user, `act` names the operator). */
  access: string;
  accessMaxAge: number;
  /** The operator's own refresh token, kept aside until the impersonation stops. */
  operatorRefresh: string;
  operatorRefreshMaxAge: number;
}

/**
 * The Set-Cookie values that switch the browser into an impersonation: the impersonation's access
 * token in place of the operator's, the operator's refresh token moved aside (so a refresh cannot
 * renew the impersonation, and stopping gets the operator's session back); the CSRF cookie stays.
 *
 * @example set.headers["set-cookie"] = impersonationCookies({ access, accessMaxAge: 900, operatorRefresh, operatorRefreshMaxAge });
 */
export function impersonationCookies(v: ImpersonationCookieValues): string[] {
  return [
    cookie(ACCESS_COOKIE, v.access, "/", v.accessMaxAge, true),
    cookie(REFRESH_COOKIE, "", REFRESH_PATH, 0, true),
    cookie(IMPERSONATOR_REFRESH_COOKIE, v.operatorRefresh, REFRESH_PATH, v.operatorRefreshMaxAge, true),
  ];
}

/**
 * Set-Cookie values that make the browser forget the session (sign-out), and an impersonation's
 * kept-aside one.
 *
 * @example set.headers["set-cookie"] = clearedCookies();
 */
export function clearedCookies(): string[] {
  return [
    cookie(ACCESS_COOKIE, "", "/", 0, true),
    cookie(REFRESH_COOKIE, "", REFRESH_PATH, 0, true),
    cookie(CSRF_COOKIE, "", "/", 0, false),
    cookie(IMPERSONATOR_REFRESH_COOKIE, "", REFRESH_PATH, 0, true),
  ];
}

/**
 * The Set-Cookie value that hands the browser a sign-in challenge for `maxAge` seconds (its
 * lifetime); `mfaChallengeCookie("", 0)` clears it. HttpOnly (no script reads it), Secure, and
 * SameSite=Strict: another site cannot make the browser send it with a code of its own.
 *
 * @example set.headers["set-cookie"] = [mfaChallengeCookie(challenge.challenge_token, challenge.expires_in)];
 */
export function mfaChallengeCookie(token: string, maxAge: number): string {
  return cookie(MFA_CHALLENGE_COOKIE, token, MFA_CHALLENGE_PATH, maxAge, true);
}

/**
 * The 403 for a cookie-authenticated request that changes state without the matching
 * `X-CSRF-Token`, or undefined when the request may go on (a read, or the right token).
 *
 * @example
 * const refused = csrfRefusal(request.method, request.headers.get("x-csrf-token"), cookieHeader);
 * if (refused) return refused;
 */
export function csrfRefusal(
  method: string,
  presented: string | null,
  cookieHeader: string | null,
): HttpError | undefined {
  if (!MUTATING.has(method)) return undefined;
  const expected = readCookie(cookieHeader, CSRF_COOKIE);
  if (presented === null || presented.length === 0 || expected === undefined) {
    return new HttpError(
      403,
      "csrf",
      `a request signed in by cookie that changes state needs the ${CSRF_COOKIE} cookie's value in X-CSRF-Token`,
      [{ field: "headers.x-csrf-token", rule: "is required and must equal the aragora_csrf cookie" }],
    );
  }
  if (!constantTimeEqual(presented, expected)) {
    return new HttpError(403, "csrf", "X-CSRF-Token does not match the aragora_csrf cookie", [
      { field: "headers.x-csrf-token", rule: "must equal the aragora_csrf cookie" },
    ]);
  }
  return undefined;
}
