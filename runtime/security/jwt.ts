/**
 * Access tokens: short-lived JWTs (RFC 9068 profile, `typ: "at+jwt"`) signed with HMAC-SHA-256 by
 * the server that verifies them. Following RFC 8725, verification accepts exactly one algorithm
 * (HS256), so `alg: "none"`, a token signed with another HMAC, and an RS256 token presented with
 * the secret as its "public key" are refused before any signature is computed; it checks `typ` so
 * a JWT minted for another purpose (an ID token, a refresh token) is never taken for an access
 * token, and `iss`/`aud` so a token for another deployment is never taken for ours.
 */
import { randomBytes } from "node:crypto";
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import { ROLES, type Role } from "./rbac.ts";

const ALGORITHM = "HS256";
const TOKEN_TYPE = "at+jwt";
const MIN_SECRET_BYTES = 32;
const DEFAULT_TOLERANCE_SECONDS = 5;
// Well above any token we issue; bounds the HMAC work an attacker can ask for.
const MAX_TOKEN_LENGTH = 8192;

/** jose, loaded with the first token signed or checked rather than at start-up; kept once loaded. */
let loadedJose: typeof import("jose") | undefined;
async function jose(): Promise<typeof import("jose")> {
  loadedJose ??= await import("jose");
  return loadedJose;
}

/** What the caller puts in an access token. */
export interface AccessTokenInput {
  /** The account id. */
  sub: string;
  /** The organisation the token acts in. */
  org: string;
  /** The account's roles in `org` (or `operator`). */
  roles: readonly Role[];
  /** The session (refresh-token family) the token belongs to, so revoking the session can be checked. */
  sid?: string;
  /** The actor when someone acts as `sub` (RFC 8693 §4.1): an operator impersonating a user. */
  act?: { sub: string };
  /** Space-separated scopes (RFC 8693 §4.2), narrowing what the roles allow. */
  scope?: string;
  /**
   * How the session was authenticated (RFC 8176 values): `["pwd"]` after a password, `["pwd", "otp"]`
   * once a second factor was also checked. Carried by every token of the session.
   */
  amr?: readonly string[];
}

/** A verified access token's claims: the input plus the registered claims the signer adds. */
export interface AccessClaims extends AccessTokenInput {
  iss: string;
  aud: string;
  /** Issued at, not before and expiry, in seconds since the epoch. */
  iat: number;
  nbf: number;
  exp: number;
  /** A random id, unique per token. */
  jti: string;
}

/** Why a token was refused. */
export type AccessTokenFailure =
  | "malformed"
  | "bad_signature"
  | "alg_not_allowed"
  | "expired"
  | "not_yet_valid"
  | "wrong_issuer"
  | "wrong_audience"
  | "wrong_type";

/** The outcome of {@link TokenSigner.verifyAccess}. */
export type AccessTokenResult = { ok: true; claims: AccessClaims } | { ok: false; reason: AccessTokenFailure };

/** Options of {@link createTokenSigner}. */
export interface TokenSignerOptions {
  /** The HMAC key: at least 32 bytes (UTF-8 bytes for a string). */
  secret: string | Uint8Array;
  issuer: string;
  audience: string;
  accessTtlSeconds: number;
  /** Wall-clock time in epoch milliseconds (not a monotonic clock); defaults to `Date.now`. */
  clock?: () => number;
  /** Skew allowed on `exp`, `nbf` and `iat` between servers; defaults to 5 s. */
  clockToleranceSeconds?: number;
}

/** Signs and verifies access tokens for one issuer and audience. */
export interface TokenSigner {
  /**
   * A compact JWS for `claims`, valid from now for `accessTtlSeconds`, or for `ttlSeconds` when
   * that is shorter (an impersonation token lives minutes, not the session's hour).
   *
   * @example
   * const token = await signer.signAccess({ sub: "acc_1", org: "org_1", roles: ["member"], sid: "ses_1" });
   * const brief = await signer.signAccess({ sub: "acc_1", org: "org_1", roles: ["member"] }, { ttlSeconds: 900 });
   */
  signAccess(claims: AccessTokenInput, options?: { ttlSeconds?: number }): Promise<string>;
  /**
   * The claims of a valid token, or why it is not one. Never throws for any input.
   *
   * @example
   * const result = await signer.verifyAccess(bearer);
   * if (!result.ok) throw new HttpError(401, "invalid_token", `access token ${result.reason}`);
   */
  verifyAccess(token: string): Promise<AccessTokenResult>;
  readonly accessTtlSeconds: number;
}

const roles = lazy(() => type.enumerated(...ROLES).array());
// RFC 8176 method names are short words; a bound keeps a forged claim from growing the token cache.
const amr = lazy(() => type("/^[a-z]{2,16}$/").array().atMostLength(8));

// Optional claims may be passed as `undefined` (as TypeScript allows); they are then left out.
const Input = lazy(() =>
  type({
    sub: "string > 0",
    org: "string > 0",
    roles,
    "sid?": "string > 0 | undefined",
    "act?": type({ sub: "string > 0" }).or("undefined"),
    "scope?": "string | undefined",
    "amr?": amr.or("undefined"),
  }),
);

const Claims = lazy(() =>
  type({
    sub: "string > 0",
    org: "string > 0",
    roles,
    "sid?": "string > 0",
    "act?": { sub: "string > 0" },
    "scope?": "string",
    "amr?": amr,
    iss: "string",
    aud: "string",
    iat: "number.integer",
    nbf: "number.integer",
    exp: "number.integer",
    jti: "string > 0",
  }),
);

function claimFailure(claim: string, reason: string): AccessTokenFailure {
  // A missing claim or one of the wrong JSON type is malformed; a well-formed claim with the wrong value says which.
  if (reason !== "check_failed") return "malformed";
  switch (claim) {
    case "typ":
      return "wrong_type";
    case "iss":
      return "wrong_issuer";
    case "aud":
      return "wrong_audience";
    case "nbf":
    case "iat":
      return "not_yet_valid";
    default:
      return "malformed";
  }
}

function failureOf(error: unknown): AccessTokenFailure {
  const { code, claim, reason } = (error ?? {}) as { code?: string; claim?: string; reason?: string };
  switch (code) {
    case "ERR_JOSE_ALG_NOT_ALLOWED":
    case "ERR_JOSE_NOT_SUPPORTED":
      return "alg_not_allowed";
    case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
      return "bad_signature";
    case "ERR_JWT_EXPIRED":
      return "expired";
    case "ERR_JWT_CLAIM_VALIDATION_FAILED":
      return claimFailure(claim ?? "", reason ?? "");
    default:
      return "malformed";
  }
}

/**
 * A signer/verifier for access tokens. Throws at once when the secret is shorter than 32 bytes
 * (RFC 7518 §3.2: an HS256 key must be at least as long as the hash) or an option is invalid.
 *
 * @example
 * const signer = createTokenSigner({ secret: config.jwtSecret, issuer: "https://aragora.example", audience: "aragora-api", accessTtlSeconds: 900 });
 * const token = await signer.signAccess({ sub: "acc_1", org: "org_1", roles: ["admin"] });
 * const result = await signer.verifyAccess(token); // { ok: true, claims: { sub: "acc_1", ... } }
 */
export function createTokenSigner(options: TokenSignerOptions): TokenSigner {
  const { issuer, audience, accessTtlSeconds } = options;
  const clock = options.clock ?? Date.now;
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const secret = typeof options.secret === "string" ? new TextEncoder().encode(options.secret) : options.secret;
  if (secret.byteLength < MIN_SECRET_BYTES) {
    throw new RangeError(
      `JWT secret is ${secret.byteLength} bytes; HS256 needs at least ${MIN_SECRET_BYTES} random bytes (e.g. \`openssl rand -base64 48\`)`,
    );
  }
  if (issuer.length === 0) throw new TypeError("JWT issuer must not be empty");
  if (audience.length === 0) throw new TypeError("JWT audience must not be empty");
  if (!Number.isInteger(accessTtlSeconds) || accessTtlSeconds <= 0) {
    throw new RangeError(`accessTtlSeconds must be a positive integer, got ${accessTtlSeconds}`);
  }
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new RangeError(`clockToleranceSeconds must be >= 0, got ${tolerance}`);
  }
  // Imported once and not extractable: jose would otherwise import the raw bytes on every call.
  const key = crypto.subtle.importKey("raw", new Uint8Array(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);

  return {
    accessTtlSeconds,

    async signAccess(claims, signOptions) {
      const input = Input(claims);
      if (input instanceof type.errors) throw new TypeError(`access token claims: ${input.summary}`);
      const ttl = Math.min(accessTtlSeconds, signOptions?.ttlSeconds ?? accessTtlSeconds);
      if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError(`ttlSeconds must be a positive integer, got ${ttl}`);
      const iat = Math.floor(clock() / 1000);
      // Built field by field so a caller's object can never override a registered claim.
      const payload: AccessClaims = {
        iss: issuer,
        aud: audience,
        sub: input.sub,
        org: input.org,
        roles: input.roles,
        ...(input.sid === undefined ? {} : { sid: input.sid }),
        ...(input.act === undefined ? {} : { act: { sub: input.act.sub } }),
        ...(input.scope === undefined ? {} : { scope: input.scope }),
        ...(input.amr === undefined ? {} : { amr: [...input.amr] }),
        iat,
        nbf: iat,
        exp: iat + ttl,
        jti: randomBytes(16).toString("base64url"),
      };
      const { SignJWT } = loadedJose ?? (await jose());
      return new SignJWT({ ...payload }).setProtectedHeader({ alg: ALGORITHM, typ: TOKEN_TYPE }).sign(await key);
    },

    async verifyAccess(token) {
      if (typeof token !== "string" || token.length > MAX_TOKEN_LENGTH) return { ok: false, reason: "malformed" };
      let payload: unknown;
      try {
        const { jwtVerify } = loadedJose ?? (await jose());
        ({ payload } = await jwtVerify(token, await key, {
          algorithms: [ALGORITHM],
          typ: TOKEN_TYPE,
          issuer,
          audience,
          clockTolerance: tolerance,
          currentDate: new Date(clock()),
          // Also refuses a token older than the TTL whatever its `exp` says, and one issued in the future.
          maxTokenAge: accessTtlSeconds,
          requiredClaims: ["sub", "exp", "nbf", "iat", "jti"],
        }));
      } catch (error) {
        return { ok: false, reason: failureOf(error) };
      }
      const claims = Claims(payload);
      if (claims instanceof type.errors) return { ok: false, reason: "malformed" };
      return {
        ok: true,
        claims: {
          iss: claims.iss,
          aud: claims.aud,
          sub: claims.sub,
          org: claims.org,
          roles: claims.roles,
          ...(claims.sid === undefined ? {} : { sid: claims.sid }),
          ...(claims.act === undefined ? {} : { act: { sub: claims.act.sub } }),
          ...(claims.scope === undefined ? {} : { scope: claims.scope }),
          ...(claims.amr === undefined ? {} : { amr: claims.amr }),
          iat: claims.iat,
          nbf: claims.nbf,
          exp: claims.exp,
          jti: claims.jti,
        },
      };
    },
  };
}
