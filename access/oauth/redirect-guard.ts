/**
 * Where a sign-in may send the browser afterwards. A `returnTo` that arrives in a query string is
 * attacker-controlled: sending the browser wherever it says makes the sign-in page an open
 * redirect (a trusted link that lands on a phishing page). Accepted are:
 * - a path on this site: starts with one `/`, and neither it, any percent-decoding of it, nor its
 *   form with dot segments resolved starts with `//` or `/\` (which browsers read as another host);
 * - an absolute `https://` URL (or `http://` on a loopback host) whose host is in `allowedHosts`,
 *   with no user name or password in it.
 * Anything else (other schemes such as `javascript:`, text that is neither a path nor a URL, a path
 * with malformed percent-encoding, more than 2048 characters) yields `fallback`.
 *
 * An allowed host is `name` (any port) or `name:port` (that port only), compared with the URL's
 * parsed, lower-cased host, so `https://allowed.example@evil.example` and
 * `https://allowed.example.evil.example` are both refused.
 *
 * @example
 * safeReturnTo("/debates/42?tab=log", { allowedHosts: ["app.example.com"], fallback: "/" }); // "/debates/42?tab=log"
 * safeReturnTo("https://app.example.com/home", { allowedHosts: ["app.example.com"], fallback: "/" }); // "https://app.example.com/home"
 * safeReturnTo("//evil.example", { allowedHosts: ["app.example.com"], fallback: "/" }); // "/"
 */

export interface ReturnToPolicy {
  /** Hosts absolute URLs may point at: `name` or `name:port`. */
  allowedHosts: readonly string[];
  /** Where to go when `value` is not acceptable; trusted as given. */
  fallback: string;
}

const MAX_LENGTH = 2048;
/** A base to resolve paths against; only the path of the result is used. */
const PROBE_ORIGIN = "https://return-to.invalid";

export function safeReturnTo(value: unknown, policy: ReturnToPolicy): string {
  if (typeof value !== "string" || value === "" || value.length > MAX_LENGTH) return policy.fallback;
  if (value.startsWith("/")) {
    // URL parsers drop tabs and newlines and read `\` as `/`, so `/\t/evil` and `/\evil` name a
    // host; the same holds after decoding, for whatever decodes the path again further on.
    const forms = decodings(value);
    if (
      !forms ||
      forms.some((form) =>
        form
          .replace(/[\t\n\r]/g, "")
          .replace(/\\/g, "/")
          .startsWith("//"),
      )
    ) {
      return policy.fallback;
    }
    // Returned resolved, as a browser would: dot segments can collapse into a leading `//`
    // (`/..//evil.example` is `//evil.example`).
    const resolved = new URL(value, PROBE_ORIGIN);
    const path = `${resolved.pathname}${resolved.search}${resolved.hash}`;
    return path.startsWith("//") ? policy.fallback : path;
  }

  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return policy.fallback;
  }
  if (url.username !== "" || url.password !== "") return policy.fallback;
  const secure = url.protocol === "https:" || (url.protocol === "http:" && isLoopback(url.hostname));
  if (!secure || !hostAllowed(url, policy.allowedHosts)) return policy.fallback;
  return url.href;
}

/** The value and each successive percent-decoding of it until it stops changing; null if one fails. */
function decodings(value: string): string[] | null {
  const forms = [value];
  let current = value;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(current);
    } catch {
      return null;
    }
    if (next === current) return forms;
    forms.push(next);
    current = next;
  }
  // Still changing after four rounds: nobody encodes a return path that deeply on purpose.
  return null;
}

function hostAllowed(url: URL, allowedHosts: readonly string[]): boolean {
  const host = url.host.toLowerCase();
  const hostname = url.hostname.toLowerCase();
  return allowedHosts.some((entry) => {
    const allowed = entry.trim().toLowerCase();
    return allowed !== "" && (allowed === host || allowed === hostname);
  });
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}
