/**
 * Sign-in with an OpenID Connect provider (Google, or any issuer by URL): the authorization code
 * flow with PKCE (S256), a random `state` and `nonce`, and a confidential client. `begin` makes the
 * URL to send the browser to; `complete` takes the URL the provider sent the browser back to and
 * returns the identity the provider vouches for, after exchanging the code and validating the ID
 * token (issuer, audience, authorized party, nonce, expiry). Every failure is an `OidcFailure` with
 * a reason a route can map to a redirect; no library error reaches the caller.
 *
 * The provider's metadata comes from discovery (`<issuer>/.well-known/openid-configuration`),
 * cached per client for `discoveryTtlMs`; a failed discovery is not cached. The ID token's signature
 * is checked against the keys the provider publishes (`jwks_uri`).
 *
 * @example
 * const google = createOidcClient({
 *   googleDefaults: true,
 *   clientId: config.googleClientId,
 *   clientSecret: config.googleClientSecret,
 *   redirectUri: "https://aragora.example.com/api/auth/oauth/google/callback",
 * });
 * // GET .../start
 * const started = await google.begin("/debates");          // keep { state, codeVerifier, nonce, returnTo }
 * // redirect to started.url
 * // GET .../callback
 * const identity = await google.complete(requestUrl, pending); // { issuer, subject, email, emailVerified, name }
 */
import { type } from "arktype";
import * as oauth from "oauth4webapi";
import { lazy } from "../../schemas/lazy.ts";
import { sameSecret } from "./same-secret.ts";

export const GOOGLE_ISSUER = "https://accounts.google.com";
/**
 * The other `iss` Google's ID tokens may carry: its documentation says "The value of iss in the ID
 * token is equal to https://accounts.google.com or accounts.google.com". Accepted for Google only
 * (googleDefaults at Google's own issuer); every other provider's tokens must name its issuer exactly.
 */
export const GOOGLE_ISSUER_ALIAS = "accounts.google.com";
/**
 * Google's authorization endpoint, as its OpenID Connect documentation gives it: starting a Google
 * sign-in needs no request to Google (discovery is fetched when the first callback arrives).
 */
export const GOOGLE_AUTHORIZATION_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth";

const DEFAULT_SCOPES = ["openid", "email", "profile"] as const;

/**
 * Why a sign-in failed.
 * - `state_mismatch`: the callback's `state` is missing or is not the one this flow sent.
 * - `invalid_grant`: the provider refused the code (already used, expired, or the PKCE verifier does not match).
 * - `idp_error`: the provider reported an error (the user cancelled, the client is not authorised, ...).
 * - `id_token_invalid`: the ID token is missing or fails validation (issuer, audience, nonce, expiry, ...).
 * - `invalid_response`: the provider answered outside the protocol (discovery for another issuer, a
 *   callback from another issuer, a callback without a code, a malformed token or userinfo response).
 * - `unreachable`: the provider could not be reached in time, or answered with a server error.
 */
export type OidcFailureReason =
  | "state_mismatch"
  | "invalid_grant"
  | "idp_error"
  | "id_token_invalid"
  | "invalid_response"
  | "unreachable";

/**
 * A failed sign-in. `detail` is for the log: it names the check or the provider's error code and
 * never holds a code, token or secret.
 *
 * @example
 * try { await client.complete(url, pending); }
 * catch (err) { if (err instanceof OidcFailure) redirectToError(err.reason); else throw err; }
 */
export class OidcFailure extends Error {
  override readonly name = "OidcFailure";
  constructor(
    readonly reason: OidcFailureReason,
    readonly detail: string,
  ) {
    super(`OpenID Connect sign-in failed (${reason}): ${detail}`);
  }
}

/** Who the provider says signed in. `subject` is stable per issuer; match accounts on (issuer, subject). */
export interface VerifiedIdentity {
  issuer: string;
  subject: string;
  /** `null` when the provider released no email. */
  email: string | null;
  /** True only when the provider asserts it verified `email`. */
  emailVerified: boolean;
  name: string | null;
}

/** What `begin` made: the URL for the browser and what `complete` needs back (keep it server-side). */
export interface StartedAuthorization {
  url: URL;
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

/** The secrets of one flow, as kept between `begin` and `complete`. */
export interface AuthorizationSecrets {
  state: string;
  codeVerifier: string;
  nonce: string;
}

export interface OidcClientOptions {
  /**
   * The issuer identifier (`https://...`; `http://` only on a loopback host). Required unless
   * `googleDefaults`, where it overrides https://accounts.google.com (tests point it at their own provider).
   */
  issuer?: string;
  /**
   * Google: issuer https://accounts.google.com and, with that issuer, its documented authorization
   * endpoint (so `begin` needs no discovery) and ID tokens whose `iss` is `accounts.google.com`
   * (its documented alias); the default scopes suit it.
   */
  googleDefaults?: boolean;
  /**
   * The provider's authorization endpoint when it is fixed and documented: `begin` uses it instead
   * of discovering it. Token exchange, keys and userinfo still come from discovery.
   */
  authorizationEndpoint?: string;
  clientId: string;
  clientSecret: string;
  /** The callback URL registered with the provider; sent in both the authorization and token requests. */
  redirectUri: string;
  /** Default `openid email profile`; must include `openid`. */
  scopes?: readonly string[];
  /** Deadline for each HTTP request to the provider (default 10 s). */
  timeoutMs?: number;
  /** How long discovered metadata is reused (default 1 h). */
  discoveryTtlMs?: number;
  /** The clock ID token expiry is checked against, in ms since the epoch (default `Date.now`). */
  now?: () => number;
  /** The HTTP client (default global `fetch`). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

export interface OidcClient {
  readonly issuer: string;
  /**
   * Starts a sign-in. `returnTo` is carried along untouched: pass it through `safeReturnTo` first.
   * Fails with `unreachable` or `invalid_response` when discovery does.
   */
  begin(returnTo: string): Promise<StartedAuthorization>;
  /**
   * Finishes a sign-in from the callback URL (the request URL as the server saw it: only its query
   * is read, so a proxy's internal host does not matter) and the flow's secrets. Each code works
   * once; call it once per callback.
   */
  complete(callbackUrl: string | URL, pending: AuthorizationSecrets): Promise<VerifiedIdentity>;
}

/** The claims an identity is built from, as the provider may send them. */
const IdentityClaims = lazy(() =>
  type({
    sub: "0 < string <= 255",
    "email?": "string",
    "email_verified?": "boolean | 'true' | 'false'",
    "name?": "string",
  }),
);
type IdentityClaims = typeof IdentityClaims.infer;

/** A transport failure, tagged so it is told apart from the library's protocol errors. */
class TransportError extends Error {}

/**
 * Makes a client for one provider. Throws a TypeError on a configuration it can never work with
 * (no issuer, a plain-http issuer off loopback, scopes without `openid`); it does no I/O.
 *
 * @example
 * const oidc = createOidcClient({ issuer: "https://login.example.com", clientId, clientSecret, redirectUri });
 */
export function createOidcClient(options: OidcClientOptions): OidcClient {
  const issuer = options.issuer ?? (options.googleDefaults ? GOOGLE_ISSUER : undefined);
  if (!issuer) throw new TypeError("createOidcClient: issuer is required (or googleDefaults)");
  let issuerUrl: URL;
  try {
    issuerUrl = new URL(issuer);
  } catch {
    throw new TypeError(`createOidcClient: issuer ${JSON.stringify(issuer)} is not a URL`);
  }
  // Plain HTTP only reaches a provider on this machine (a test's); anywhere else it would let the
  // network read the code and rewrite the provider's answers.
  const insecure = issuerUrl.protocol === "http:";
  if (issuerUrl.protocol !== "https:" && !(insecure && isLoopback(issuerUrl.hostname))) {
    throw new TypeError(`createOidcClient: issuer ${issuer} must use https (http only on a loopback host)`);
  }
  const scopes = options.scopes ?? DEFAULT_SCOPES;
  if (!scopes.includes("openid")) throw new TypeError("createOidcClient: scopes must include openid");
  if (!options.clientId) throw new TypeError("createOidcClient: clientId is required");
  if (!options.clientSecret) throw new TypeError("createOidcClient: clientSecret is required");
  try {
    new URL(options.redirectUri);
  } catch {
    throw new TypeError("createOidcClient: redirectUri must be an absolute URL");
  }

  const knownAuthorizationEndpoint =
    options.authorizationEndpoint ??
    (options.googleDefaults && issuer === GOOGLE_ISSUER ? GOOGLE_AUTHORIZATION_ENDPOINT : undefined);
  if (knownAuthorizationEndpoint !== undefined) {
    const endpoint = URL.parse(knownAuthorizationEndpoint);
    const secure = endpoint?.protocol === "https:" || (endpoint?.protocol === "http:" && isLoopback(endpoint.hostname));
    if (!secure) throw new TypeError("createOidcClient: authorizationEndpoint must be an https URL");
  }

  // The one other issuer an ID token may name, for Google at its own issuer only.
  const issuerAlias = options.googleDefaults && issuer === GOOGLE_ISSUER ? GOOGLE_ISSUER_ALIAS : undefined;
  const aliased = new WeakMap<oauth.AuthorizationServer, oauth.AuthorizationServer>();

  /**
   * The metadata the ID token's `iss` is checked against: the discovered one, or the same under the
   * alias when the token names it (read unverified here only to pick which of the two accepted
   * names the library compares; the signature, audience, nonce and expiry checks are unchanged).
   */
  async function issuerFor(as: oauth.AuthorizationServer, response: Response): Promise<oauth.AuthorizationServer> {
    if (issuerAlias === undefined || unverifiedIdTokenIssuer(await response.clone().text()) !== issuerAlias) return as;
    let other = aliased.get(as);
    if (other === undefined) {
      other = { ...as, issuer: issuerAlias };
      aliased.set(as, other);
    }
    return other;
  }

  const timeoutMs = options.timeoutMs ?? 10_000;
  const discoveryTtlMs = options.discoveryTtlMs ?? 3_600_000;
  const now = options.now ?? Date.now;
  const baseFetch = options.fetch ?? ((url: string, init: RequestInit) => fetch(url, init));

  const http = {
    signal: () => AbortSignal.timeout(timeoutMs),
    [oauth.allowInsecureRequests]: insecure,
    [oauth.customFetch]: async (url: string, init: RequestInit): Promise<Response> => {
      try {
        return await baseFetch(url, init);
      } catch (err) {
        throw new TransportError(`${new URL(url).pathname}: ${describeTransport(err)}`);
      }
    },
  };

  let discovery: { at: number; metadata: Promise<oauth.AuthorizationServer> } | undefined;

  function discover(): Promise<oauth.AuthorizationServer> {
    const at = Date.now();
    if (discovery && at - discovery.at < discoveryTtlMs) return discovery.metadata;
    const metadata = (async () => {
      const response = await oauth.discoveryRequest(issuerUrl, http);
      await failOnServerError(response, "discovery");
      return oauth.processDiscoveryResponse(issuerUrl, response);
    })();
    const entry = { at, metadata };
    discovery = entry;
    metadata.catch(() => {
      if (discovery === entry) discovery = undefined;
    });
    return metadata;
  }

  function clientFor(as: oauth.AuthorizationServer): oauth.Client {
    return {
      client_id: options.clientId,
      // oauth4webapi reads its clock as "local time + skew"; the injected clock becomes the skew.
      [oauth.clockSkew]: Math.round((now() - Date.now()) / 1000),
      ...(as.id_token_signing_alg_values_supported ? {} : { id_token_signed_response_alg: "RS256" }),
    };
  }

  function clientAuth(as: oauth.AuthorizationServer): oauth.ClientAuth {
    const methods = as.token_endpoint_auth_methods_supported;
    // The spec's default is client_secret_basic; a provider that lists only _post gets _post.
    if (methods && !methods.includes("client_secret_basic") && methods.includes("client_secret_post")) {
      return oauth.ClientSecretPost(options.clientSecret);
    }
    return oauth.ClientSecretBasic(options.clientSecret);
  }

  return {
    issuer,

    async begin(returnTo) {
      let authorizationEndpoint = knownAuthorizationEndpoint;
      if (authorizationEndpoint === undefined) {
        const as = await guard("discovery", discover);
        if (!as.authorization_endpoint)
          throw new OidcFailure("invalid_response", "discovery: no authorization_endpoint");
        authorizationEndpoint = as.authorization_endpoint;
      }
      const codeVerifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      const url = new URL(authorizationEndpoint);
      url.searchParams.set("client_id", options.clientId);
      url.searchParams.set("redirect_uri", options.redirectUri);
      url.searchParams.set("response_type", "code");
      url.searchParams.set("scope", scopes.join(" "));
      url.searchParams.set("state", state);
      url.searchParams.set("nonce", nonce);
      url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(codeVerifier));
      url.searchParams.set("code_challenge_method", "S256");
      return { url, state, codeVerifier, nonce, returnTo };
    },

    async complete(callbackUrl, pending) {
      let callback: URL;
      try {
        callback = new URL(callbackUrl);
      } catch {
        throw new OidcFailure("invalid_response", "callback URL does not parse");
      }
      // State first: nothing in a callback this flow did not start is worth reading, errors included.
      const returnedState = callback.searchParams.get("state");
      if (returnedState === null || !sameSecret(returnedState, pending.state)) {
        throw new OidcFailure(
          "state_mismatch",
          returnedState === null ? "callback has no state" : "callback state differs",
        );
      }
      const as = await guard("discovery", discover);
      const client = clientFor(as);
      const params = await guard("callback", async () =>
        oauth.validateAuthResponse(as, client, callback, pending.state),
      );
      const tokens = await guard("token", async () => {
        const response = await oauth.authorizationCodeGrantRequest(
          as,
          client,
          clientAuth(as),
          params,
          options.redirectUri,
          pending.codeVerifier,
          http,
        );
        await failOnServerError(response, "token endpoint");
        const processed = await oauth.processAuthorizationCodeResponse(
          await issuerFor(as, response),
          client,
          response,
          {
            expectedNonce: pending.nonce,
            requireIdToken: true,
          },
        );
        // The claims are checked above; the signature too, with the provider's published keys
        // (jwks_uri, cached per discovery): TLS alone would vouch for the token only where the
        // connection is TLS, and a plain-http loopback provider or a TLS-terminating proxy is not.
        await oauth.validateApplicationLevelSignature(as, response, http);
        return processed;
      });
      const idClaims = parseClaims("id_token", oauth.getValidatedIdTokenClaims(tokens));

      let claims = idClaims;
      // Providers that follow the spec's default keep profile claims out of the ID token when they
      // issue an access token; those come from userinfo, bound to the ID token's subject.
      if ((idClaims.email === undefined || idClaims.name === undefined) && as.userinfo_endpoint) {
        const info = await guard("userinfo", async () => {
          const response = await oauth.userInfoRequest(as, client, tokens.access_token, http);
          await failOnServerError(response, "userinfo endpoint");
          return oauth.processUserInfoResponse(as, client, idClaims.sub, response);
        });
        // The signed ID token wins where both speak.
        claims = { ...parseClaims("userinfo", info), ...withoutUndefined(idClaims) };
      }
      const email = claims.email ?? null;
      return {
        // The discovered issuer, whichever name the token used: identities are kept under one.
        issuer: as.issuer,
        subject: idClaims.sub,
        email,
        emailVerified: email !== null && (claims.email_verified === true || claims.email_verified === "true"),
        name: claims.name ?? null,
      };
    },
  };
}

/** The `iss` of a token response's ID token, unverified; undefined when there is none to read. */
function unverifiedIdTokenIssuer(body: string): string | undefined {
  try {
    const idToken = (JSON.parse(body) as { id_token?: unknown }).id_token;
    if (typeof idToken !== "string") return undefined;
    const payload = JSON.parse(Buffer.from(idToken.split(".")[1] ?? "", "base64url").toString("utf8")) as {
      iss?: unknown;
    };
    return typeof payload.iss === "string" ? payload.iss : undefined;
  } catch {
    return undefined;
  }
}

/** A provider answering 5xx is down for now, like one that does not answer: `unreachable`. */
async function failOnServerError(response: Response, what: string): Promise<void> {
  if (response.status < 500) return;
  await response.body?.cancel();
  throw new TransportError(`${what} answered ${response.status}`);
}

function parseClaims(source: "id_token" | "userinfo", raw: unknown): IdentityClaims {
  const claims = IdentityClaims(raw);
  if (claims instanceof type.errors) {
    const reason = source === "id_token" ? "id_token_invalid" : "invalid_response";
    throw new OidcFailure(reason, `${source} claims: ${claims.summary}`);
  }
  return claims;
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

type Stage = "discovery" | "callback" | "token" | "userinfo";

/** Runs one stage of the flow and turns whatever it throws into an OidcFailure. */
async function guard<T>(stage: Stage, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw classify(stage, err);
  }
}

function classify(stage: Stage, err: unknown): OidcFailure {
  if (err instanceof OidcFailure) return err;
  if (isTransport(err)) return new OidcFailure("unreachable", `${stage}: ${describeTransport(err)}`);
  if (err instanceof oauth.AuthorizationResponseError) {
    return new OidcFailure(
      "idp_error",
      `${stage}: ${err.error}${err.error_description ? ` (${err.error_description})` : ""}`,
    );
  }
  if (err instanceof oauth.ResponseBodyError) {
    const what = `${stage}: ${err.error}${err.error_description ? ` (${err.error_description})` : ""}`;
    return new OidcFailure(err.error === "invalid_grant" ? "invalid_grant" : "idp_error", what);
  }
  if (err instanceof oauth.WWWAuthenticateChallengeError) {
    // The library leaves this response's body unread; release it.
    err.response.body?.cancel().catch(() => {});
    const challenge = err.cause[0];
    const error = challenge?.parameters.error ?? "authentication challenge";
    return new OidcFailure("idp_error", `${stage}: ${err.status} ${error}`);
  }
  if (err instanceof oauth.OperationProcessingError || err instanceof oauth.UnsupportedOperationError) {
    return new OidcFailure(
      stage === "token" && aboutIdToken(err) ? "id_token_invalid" : "invalid_response",
      `${stage}: ${describe(err)}`,
    );
  }
  // oauth4webapi throws TypeErrors for arguments it cannot use; here that means the provider's
  // metadata or answer left out something required.
  return new OidcFailure("invalid_response", `${stage}: ${err instanceof Error ? err.message : String(err)}`);
}

/** Whether a token-response failure is the ID token's (its claims, header, signature algorithm or absence). */
function aboutIdToken(err: oauth.OperationProcessingError | oauth.UnsupportedOperationError): boolean {
  if (err.code === oauth.JWT_CLAIM_COMPARISON || err.code === oauth.JWT_TIMESTAMP_CHECK) return true;
  return /\bJWT\b|ID Token|"id_token"/.test(err.message);
}

/** The library's message plus the claim it compared, never the cause (which holds tokens). */
function describe(err: oauth.OperationProcessingError | oauth.UnsupportedOperationError): string {
  const cause = err.cause as { claim?: unknown; attribute?: unknown } | undefined;
  const field =
    typeof cause?.claim === "string" ? cause.claim : typeof cause?.attribute === "string" ? cause.attribute : undefined;
  return field ? `${err.message} [${field}]` : err.message;
}

function isTransport(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof TransportError || e.name === "TimeoutError" || e.name === "AbortError") return true;
  }
  return false;
}

function describeTransport(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err instanceof TransportError) return err.message;
  if (err.name === "TimeoutError" || err.name === "AbortError") return "timed out";
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && !err.message.startsWith(code) ? `${code}: ${err.message}` : err.message;
}

function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}
