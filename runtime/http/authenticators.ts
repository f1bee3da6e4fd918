/**
 * Composing authenticators: the shell asks one {@link Authenticator}; app/ builds it from the
 * operator's (operator-auth.ts) and the features' with {@link firstOf}.
 *
 * @example
 * const authenticator = firstOf([operatorAuthenticator(config), access.authenticator, adminApiOff(config)]);
 */
import type { HttpError } from "./errors.ts";
import type { Authenticator, Principal } from "./principal.ts";

type Found = Principal | HttpError | undefined;

/**
 * Asks each authenticator in turn; the first that recognises the request's credentials decides
 * (a principal, or its refusal), and undefined means none did. Stays synchronous while every
 * authenticator asked answers synchronously.
 *
 * @example
 * firstOf([a, b]).authenticate(request, request.headers); // a's answer, or b's when a says undefined
 */
export function firstOf(authenticators: readonly Authenticator[]): Authenticator {
  const list = [...authenticators];
  if (list.length === 1) return list[0] as Authenticator;
  const from = (index: number, request: Request, headers: Headers): Found | Promise<Found> => {
    for (let i = index; i < list.length; i++) {
      const found = (list[i] as Authenticator).authenticate(request, headers);
      if (found instanceof Promise) {
        return found.then((resolved) => (resolved === undefined ? from(i + 1, request, headers) : resolved));
      }
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return { authenticate: (request, headers) => from(0, request, headers) };
}

/**
 * Whether a request refused for want of a principal carried something meant as a credential (an
 * Authorization or X-API-Key header, the session cookie, a WebSocket ticket): the failure's reason
 * in aragora_auth_failures_total is then `invalid` rather than `missing`.
 *
 * @example metrics.authFailures.inc({ reason: carriesCredentials(request) ? "invalid" : "missing" });
 */
export function carriesCredentials(request: Request): boolean {
  const headers = request.headers;
  return (
    headers.has("authorization") ||
    headers.has("x-api-key") ||
    (headers.get("cookie") ?? "").includes("aragora_access=") ||
    request.url.includes("ticket=")
  );
}
