/**
 * Request and response bodies of the second factor's routes (/api/auth/mfa/*) and of the sign-in
 * challenge. Request bodies reject undeclared keys.
 */
import { type } from "arktype";
import { lazy } from "../schemas/lazy.ts";

const password = lazy(() => type("string <= 1024").describe("the account's password"));
const code = lazy(() => type("1 <= string <= 16").describe("the 6 digits the authenticator app shows now"));
const recoveryCode = lazy(() =>
  type("1 <= string <= 64").describe("one of the recovery codes, e.g. 7K3M-QX9P-2VHD-8RTA"),
);

export const MfaEnrolBody = lazy(() => type({ password, "+": "reject" }));

export const MfaCodeBody = lazy(() => type({ code, "+": "reject" }));

export const MfaDisableBody = lazy(() =>
  type({
    password,
    "code?": code,
    "recovery_code?": recoveryCode,
    "+": "reject",
  }).describe("the password, and a current code or a recovery code"),
);

export const MfaVerifyBody = lazy(() =>
  type({
    "challenge_token?": type("1 <= string <= 256").describe(
      "the challenge_token a password sign-in answered; leave it out to use the aragora_mfa_challenge cookie an OAuth sign-in set (the body wins when both are there)",
    ),
    "code?": code,
    "recovery_code?": recoveryCode,
    "+": "reject",
  }).describe(
    "the sign-in's challenge (here, or in the aragora_mfa_challenge cookie), and a current code or a recovery code (used up)",
  ),
);

export const MfaStatusResponse = lazy(() =>
  type({
    enabled: "boolean",
    enabled_at: "string | null",
    pending: type("boolean").describe("an enrolment waits for its first code"),
    recovery_codes_left: "number.integer >= 0",
  }),
);

export const MfaEnrolmentResponse = lazy(() =>
  type({
    secret: type("string").describe("the base32 secret, for typing into an authenticator app; shown this once"),
    otpauth_uri: type("string").describe("the same as an otpauth:// key URI, to show as a QR code"),
    expires_in: type("number.integer > 0").describe("seconds left to confirm with a first code"),
  }),
);

export const MfaRecoveryCodesResponse = lazy(() =>
  type({
    enabled: "true",
    recovery_codes: type("string")
      .array()
      .describe("single-use codes for when the authenticator is lost; shown this once, only their hashes are kept"),
  }),
);

export const MfaDisabledResponse = lazy(() => type({ enabled: "false" }));

export const MfaChallengeResponse = lazy(() =>
  type({
    mfa_required: "true",
    challenge_token: type("string").describe("send it to POST /api/auth/mfa/verify with a code; single use"),
    expires_in: "number.integer > 0",
    methods: type("'totp' | 'recovery_code'").array(),
  }).describe("the password was right and the account has MFA: finish with a code (POST /api/auth/mfa/verify)"),
);

/** What GET /api/auth/me says of the second factor. */
export const MeMfaBody = lazy(() =>
  type({
    enabled: type("boolean").describe("the account has MFA on"),
    session_verified: type("boolean").describe("this session passed a second factor (what admin routes ask)"),
  }),
);
