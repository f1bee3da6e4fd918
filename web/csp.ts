/**
 * The console's Content-Security-Policy: scripts, styles, images, fonts and connections from this
 * server only (no inline script, no eval, no CDN), WebSockets back to the host the page came from,
 * no plugins, no framing, forms posting only here. The API's routes and the Swagger UI do not get
 * it (Swagger UI's page starts with an inline script).
 *
 * @example
 * set.headers["content-security-policy"] = contentSecurityPolicy("aragora.example.com");
 */

/** A Host header as a browser sends it: a name or an address, and a port. */
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/**
 * The policy for a page served to `host` (the request's Host header). `'self'` covers ws(s) to
 * the same host in current browsers; the explicit ws:// and wss:// sources keep older ones
 * connecting. A Host that is not plainly a host name adds nothing.
 *
 * @example contentSecurityPolicy("localhost:8080")
 */
export function contentSecurityPolicy(host: string | null): string {
  const sockets = host !== null && HOST.test(host) ? ` ws://${host} wss://${host}` : "";
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self'${sockets}`,
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}
