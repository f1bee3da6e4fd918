/**
 * Opaque bearer secrets (API keys, refresh tokens, one-time setup tokens): 32 random bytes behind
 * a prefix that says what the secret is, so a leaked one is recognisable by secret scanners and by
 * people, and a token pasted into the wrong field is refused before any lookup. Only the SHA-256
 * of a token is stored: a plain hash is enough because the token carries 256 random bits (nothing
 * to guess, unlike a password), and it keeps the lookup one indexed equality.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * The prefixes Aragora issues. `ara_live_` marks API keys, `ara_rt_` refresh tokens, `ara_setup_`
 * one-time setup tokens (first operator, invitations).
 *
 * @example
 * newSecretToken(TOKEN_PREFIX.apiKey).token.startsWith("ara_live_"); // true
 */
export const TOKEN_PREFIX = {
  apiKey: "ara_live_",
  refresh: "ara_rt_",
  setup: "ara_setup_",
} as const;

/** One of {@link TOKEN_PREFIX}'s values, or another prefix of the same form. */
export type TokenPrefix = (typeof TOKEN_PREFIX)[keyof typeof TOKEN_PREFIX] | (string & {});

/** What {@link newSecretToken} returns: the token (shown once), its hash (stored) and its last four characters (shown in lists). */
export interface SecretToken {
  token: string;
  hash: string;
  lastFour: string;
}

const RANDOM_BYTES = 32;
// 32 bytes are 43 base64url characters without padding.
const BODY = /^[A-Za-z0-9_-]{43}$/;
const PREFIX = /^[a-z][a-z0-9]*_(?:[a-z0-9]+_)*$/;

/**
 * A fresh secret: `prefix` followed by 32 random bytes in base64url (256 bits).
 *
 * @example
 * const { token, hash, lastFour } = newSecretToken(TOKEN_PREFIX.refresh);
 * // store { hash, lastFour }; give `token` to the client once
 */
export function newSecretToken(prefix: TokenPrefix): SecretToken {
  if (!PREFIX.test(prefix)) {
    throw new TypeError(`token prefix ${JSON.stringify(prefix)} must be lower-case words each ending in "_"`);
  }
  const token = prefix + randomBytes(RANDOM_BYTES).toString("base64url");
  return { token, hash: hashSecretToken(token), lastFour: token.slice(-4) };
}

/**
 * SHA-256 of the whole token (prefix included), in lower-case hex: the value to store and look up.
 *
 * @example
 * await db.apiKeys.findByHash(hashSecretToken(presented));
 */
export function hashSecretToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Whether `token` has the shape {@link newSecretToken} gives for `prefix`; lets a caller refuse a
 * token of the wrong kind (a refresh token offered as an API key) or junk without a lookup.
 *
 * @example
 * if (!isSecretToken(header, TOKEN_PREFIX.apiKey)) throw new HttpError(401, "unauthorized", "not an API key");
 */
export function isSecretToken(token: string, prefix: TokenPrefix): boolean {
  return token.startsWith(prefix) && BODY.test(token.slice(prefix.length));
}

/**
 * Compares two strings in time that depends on neither their content nor their lengths: both are
 * hashed to 32-byte digests first, and the digests are compared with `crypto.timingSafeEqual`.
 *
 * @example
 * constantTimeEqual(hashSecretToken(presented), row.hash); // true when they match
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash("sha256").update(a, "utf8").digest();
  const db = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(da, db);
}
