/**
 * Impersonation: an operator acting as a user for support, with a short-lived access token whose
 * `act` claim names the operator (RFC 8693 §4.1). What such a token may not do is refused here,
 * in one wording; admin routes refuse it in runtime/http/admin-gate.ts.
 *
 * @example
 * if (principal.actor !== undefined) throw impersonationRefused("make API keys");
 */
import { HttpError } from "../runtime/http/errors.ts";

/** How long an impersonation token lives (capped at the access-token lifetime); it has no refresh token. */
export const IMPERSONATION_TTL_SECONDS = 900;

/**
 * The refusal of something an impersonation token must not do (`what`, e.g. "make API keys").
 *
 * @example throw impersonationRefused("change the user's MFA");
 */
export function impersonationRefused(what: string): HttpError {
  return new HttpError(
    403,
    "impersonation_forbidden",
    `an impersonation token cannot ${what}: that is for the user themselves`,
    [{ field: "credentials", rule: "must not be an impersonation token" }],
  );
}
