/**
 * Second factor: TOTP (RFC 6238) through `otpauth`, and single-use recovery codes.
 *
 * Codes are 6 digits over 30 s steps with HMAC-SHA-1, the only profile every authenticator app
 * honours (several ignore the URI's algorithm parameter and would show wrong codes for SHA-256).
 * {@link verifyTotp} returns the time step a code matched so the caller can store it and refuse
 * the same code, or any older one, a second time (RFC 6238 §5.2).
 */
import { randomBytes } from "node:crypto";
import { Secret, TOTP } from "otpauth";
import { constantTimeEqual, hashSecretToken } from "./secret-token.ts";

const ALGORITHM = "SHA1";
const DIGITS = 6;
const PERIOD_SECONDS = 30;
// 160 bits, the HMAC-SHA-1 output size RFC 4226 §4 recommends for the shared secret.
const SECRET_BYTES = 20;
const MAX_WINDOW = 10;

/** A new TOTP enrolment: the base32 secret to store and the `otpauth://` URI to show as a QR code. */
export interface TotpEnrolment {
  secret: string;
  uri: string;
}

/**
 * A random TOTP secret and its key URI for authenticator apps.
 *
 * @example
 * const { secret, uri } = newTotpSecret("Aragora", "ada@example.com");
 * // store `secret` (pending until the first code verifies); render `uri` as a QR code
 */
export function newTotpSecret(issuer: string, label: string): TotpEnrolment {
  if (issuer.length === 0 || label.length === 0) throw new TypeError("TOTP issuer and label must not be empty");
  const secret = new Secret({ size: SECRET_BYTES });
  const totp = new TOTP({ issuer, label, secret, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD_SECONDS });
  return { secret: secret.base32, uri: totp.toString() };
}

/** Options of {@link verifyTotp}. */
export interface VerifyTotpOptions {
  /** The time to check against, epoch milliseconds; defaults to `Date.now()`. */
  now?: number;
  /** Steps accepted either side of the current one for clock drift; defaults to 1 (±30 s). */
  window?: number;
  /** The step of the last code accepted for this account: that step and earlier ones are refused. */
  lastStep?: number;
}

/** The outcome of {@link verifyTotp}: the matched time step, or why the code is refused. */
export type TotpResult = { ok: true; step: number } | { ok: false; reason: "invalid" | "replayed" };

/**
 * Checks a 6-digit code (spaces allowed) against `secret`. On success, store `step` as the
 * account's `lastStep` and pass it next time so the code cannot be used again.
 *
 * @example
 * const r = verifyTotp(account.totpSecret, body.code, { lastStep: account.totpLastStep });
 * if (!r.ok) throw new HttpError(401, "invalid_mfa_code", r.reason === "replayed" ? "code already used" : "wrong code");
 * await accounts.setTotpLastStep(account.id, r.step);
 */
export function verifyTotp(secret: string, code: string, options: VerifyTotpOptions = {}): TotpResult {
  const { now = Date.now(), window = 1, lastStep } = options;
  if (!Number.isInteger(window) || window < 0 || window > MAX_WINDOW) {
    throw new RangeError(`TOTP window must be an integer from 0 to ${MAX_WINDOW}, got ${window}`);
  }
  const token = code.replace(/\s+/g, "");
  if (!/^\d{6}$/.test(token)) return { ok: false, reason: "invalid" };
  let key: Secret;
  try {
    key = Secret.fromBase32(secret);
  } catch {
    throw new TypeError("TOTP secret is not base32");
  }
  const totp = new TOTP({ secret: key, algorithm: ALGORITHM, digits: DIGITS, period: PERIOD_SECONDS });
  const delta = totp.validate({ token, timestamp: now, window });
  if (delta === null) return { ok: false, reason: "invalid" };
  const step = totp.counter({ timestamp: now }) + delta;
  if (lastStep !== undefined && step <= lastStep) return { ok: false, reason: "replayed" };
  return { ok: true, step };
}

// Crockford base32: no I, L, O or U, so codes survive being read aloud or copied by hand.
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const GROUPS = 4;
const GROUP_LENGTH = 4;

/** Recovery codes to show the user once, and the hashes to store in their place. */
export interface RecoveryCodes {
  codes: string[];
  hashes: string[];
}

/**
 * The canonical form of a recovery code as typed: upper case, no dashes or spaces, and the
 * look-alikes O, I and L read as 0, 1 and 1.
 */
function normaliseRecoveryCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
}

/**
 * SHA-256 (hex) of a recovery code's canonical form. A fast hash suffices: each code carries 80
 * random bits, far beyond guessing, unlike a password.
 *
 * @example
 * hashRecoveryCode("7K3M-QX9P-2VHD-8RTA") === hashRecoveryCode("7k3m qx9p 2vhd 8rta"); // true
 */
export function hashRecoveryCode(code: string): string {
  return hashSecretToken(normaliseRecoveryCode(code));
}

/**
 * `n` (default 10) random single-use recovery codes like `7K3M-QX9P-2VHD-8RTA` (80 bits each)
 * and their hashes.
 *
 * @example
 * const { codes, hashes } = newRecoveryCodes();
 * await accounts.setRecoveryCodeHashes(id, hashes); // show `codes` once
 */
export function newRecoveryCodes(n = 10): RecoveryCodes {
  if (!Number.isInteger(n) || n < 1 || n > 100) throw new RangeError(`recovery code count must be 1 to 100, got ${n}`);
  const codes: string[] = [];
  for (let i = 0; i < n; i++) {
    // 256 is a multiple of 32, so taking the low five bits of each byte has no bias.
    const bytes = randomBytes(GROUPS * GROUP_LENGTH);
    const chars = Array.from(bytes, (b) => CROCKFORD[b & 31] as string).join("");
    const groups = Array.from({ length: GROUPS }, (_, g) => chars.slice(g * GROUP_LENGTH, (g + 1) * GROUP_LENGTH));
    codes.push(groups.join("-"));
  }
  return { codes, hashes: codes.map(hashRecoveryCode) };
}

/**
 * The index in `hashes` of the code the user typed, or -1. Every stored hash is compared, in
 * constant time, whatever matches, so timing says nothing about which code (if any) matched.
 * The caller deletes the matched hash: each code works once.
 *
 * @example
 * const i = matchRecoveryCode(body.code, account.recoveryCodeHashes);
 * if (i === -1) throw new HttpError(401, "invalid_recovery_code", "wrong recovery code");
 * await accounts.removeRecoveryCodeHash(account.id, account.recoveryCodeHashes[i]);
 */
export function matchRecoveryCode(code: string, hashes: readonly string[]): number {
  const presented = hashRecoveryCode(code);
  let found = -1;
  hashes.forEach((hash, i) => {
    if (constantTimeEqual(presented, hash) && found === -1) found = i;
  });
  return found;
}
