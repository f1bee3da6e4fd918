/**
 * CORS for exact origins only (ARAGORA_ALLOWED_ORIGINS; a wildcard never reaches here,
 * config refuses it). Every response carries `Vary: Origin` so caches keep answers apart.
 *
 * @example
 * const cors = corsPolicy(["https://app.example.com"]);
 * cors.headersFor("https://app.example.com"); // { "access-control-allow-origin": "https://app.example.com", vary: "Origin", ... }
 * cors.headersFor("https://evil.example");   // { vary: "Origin" }
 */
export interface CorsPolicy {
  allows(origin: string | null): boolean;
  headersFor(origin: string | null): Record<string, string>;
  preflightHeaders(origin: string | null): Record<string, string> | null;
}

const ALLOW_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS = "Authorization, Content-Type, X-Request-ID";
const EXPOSE_HEADERS = "X-Request-ID";
/**
 * Shared and frozen: the common case (no or unknown Origin) allocates nothing per request.
 * Exported so the app can tell that case apart by identity and build its headers without copying.
 */
export const VARY_ONLY: Readonly<Record<string, string>> = Object.freeze({ vary: "Origin" });

export function corsPolicy(allowedOrigins: readonly string[]): CorsPolicy {
  const allowed = new Set(allowedOrigins);
  const allows = (origin: string | null) => origin !== null && allowed.has(origin);
  return {
    allows,
    headersFor(origin): Record<string, string> {
      if (!allows(origin)) return VARY_ONLY;
      return {
        vary: "Origin",
        "access-control-allow-origin": origin as string,
        "access-control-allow-credentials": "true",
        "access-control-expose-headers": EXPOSE_HEADERS,
      };
    },
    preflightHeaders(origin) {
      if (!allows(origin)) return null;
      return {
        vary: "Origin",
        "access-control-allow-origin": origin as string,
        "access-control-allow-credentials": "true",
        "access-control-allow-methods": ALLOW_METHODS,
        "access-control-allow-headers": ALLOW_HEADERS,
        "access-control-max-age": "600",
      };
    },
  };
}
