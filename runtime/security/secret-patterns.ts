/**
 * What a secret looks like in text: Aragora's own tokens (`ara_<kind>_` and 43 random characters),
 * a JWT, a bearer header, a URL with a password. Used where text that may quote a secret is kept
 * or shown: audit details, the recent server errors.
 *
 * @example
 * looksSecret("ara_live_Xk3...") // true
 * redactSecrets("connect postgres://app:hunter2@db/x failed") // "connect postgres://app:[redacted]@db/x failed"
 */

/** The value a secret is replaced with. */
export const REDACTED = "[redacted]";

const TOKEN = /\bara_[a-z0-9]+_[A-Za-z0-9_-]{16,}/g;
const JWT = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(bearer\s+)\S{8,}/gi;
const URL_PASSWORD = /(\/\/[^/\s:@]+:)[^/\s@]+@/g;

/**
 * Whether `text` holds something shaped like a secret.
 *
 * @example looksSecret("ada@example.com") // false
 */
export function looksSecret(text: string): boolean {
  return [TOKEN, JWT, BEARER, URL_PASSWORD].some((re) => {
    re.lastIndex = 0;
    return re.test(text);
  });
}

/**
 * `text` with everything shaped like a secret replaced by {@link REDACTED}.
 *
 * @example redactSecrets("Authorization: Bearer abcdefghijkl") // "Authorization: Bearer [redacted]"
 */
export function redactSecrets(text: string): string {
  return text
    .replace(TOKEN, REDACTED)
    .replace(JWT, REDACTED)
    .replace(BEARER, `$1${REDACTED}`)
    .replace(URL_PASSWORD, `$1${REDACTED}@`);
}
