/**
 * The generic OAuth 2.0 connector: posts a debate's outcome as JSON to an API that takes bearer
 * tokens (RFC 6750), keeping its access token fresh with the refresh token grant (RFC 6749
 * section 6) against the API's token endpoint, through oauth4webapi. Every request, the token
 * endpoint's included, goes through the {@link SendOutbound} it is given (the guarded sender in
 * production): a token endpoint is a URL someone else chose too.
 *
 * The access token is refreshed when there is none, when it expires within a minute, and once
 * when the API answers 401 `invalid_token` to one it still thought valid. A server that rotates
 * refresh tokens returns a new one with the access token: the caller must store the returned
 * {@link OAuth2Secrets} (the integration store's `refresh_token` operation) before anything else,
 * since the old refresh token no longer works.
 *
 * @example
 * const { delivery, secrets } = await postToOAuth2Api(send, settings, stored, outcome);
 * if (secrets !== stored) await store.refreshToken(orgId, id, secrets);
 */
import * as oauth from "oauth4webapi";
import type { SendOutbound } from "../../runtime/http/outbound.ts";
import type { DebateOutcome } from "../../schemas/integrations.ts";
import { type ConnectorDelivery, deliveryOf, deliveryOfError, retryAfterMs } from "./connector-delivery.ts";

/** The settings of an OAuth2 integration that are not secret. */
export interface OAuth2Settings {
  readonly tokenUrl: string;
  /** Where outcomes are POSTed, with `Authorization: Bearer`. */
  readonly resourceUrl: string;
  readonly clientId: string;
  /** How the client authenticates to the token endpoint (RFC 6749 2.3.1). */
  readonly authMethod: "client_secret_basic" | "client_secret_post";
  /** Scope to ask for at refresh; none: what the grant had. */
  readonly scope?: string;
}

/** The secrets of an OAuth2 integration: sealed at rest, never answered by the API. */
export interface OAuth2Secrets {
  readonly clientSecret: string;
  readonly refreshToken: string;
  readonly accessToken?: string;
  /** Epoch milliseconds when the access token expires; none: unknown (used until refused). */
  readonly accessExpiresAt?: number;
}

export interface OAuth2PostResult {
  readonly delivery: ConnectorDelivery;
  /** The secrets after the post: the same object when nothing was refreshed. */
  readonly secrets: OAuth2Secrets;
  /** Nothing was posted: {@link OAuth2PostOptions.mayPost} said no after a refresh (`delivery` is a retry). */
  readonly fenced?: true;
}

export interface OAuth2PostOptions {
  readonly timeoutMs?: number;
  /** Wall-clock epoch milliseconds (default Date.now). */
  readonly now?: () => number;
  /**
   * Asked after a token refresh, just before the post: false (the node's delivery lease lapsed
   * while the refresh waited) posts nothing and answers `fenced`. Default: always.
   */
  readonly mayPost?: () => boolean;
}

/** An access token this close to its expiry is refreshed first. */
const EXPIRY_MARGIN_MS = 60_000;

/** oauth4webapi's fetch, over the sender: the library never opens a connection of its own. */
function fetchThrough(send: SendOutbound, timeoutMs: number) {
  return async (url: string, init: RequestInit): Promise<Response> => {
    const body =
      init.body instanceof URLSearchParams ? init.body.toString() : typeof init.body === "string" ? init.body : "";
    const res = await send({
      url,
      method: init.method === "GET" ? "GET" : "POST",
      headers: Object.fromEntries(new Headers(init.headers).entries()),
      body,
      timeoutMs,
    });
    return new Response(res.status === 204 || res.status === 304 ? null : res.body, {
      status: res.status,
      headers: res.headers,
    });
  };
}

class RefreshFailed extends Error {
  constructor(readonly delivery: ConnectorDelivery) {
    super(delivery.detail);
  }
}

/** Runs the refresh token grant; the new secrets, or throws {@link RefreshFailed} with a verdict. */
async function refresh(
  send: SendOutbound,
  settings: OAuth2Settings,
  secrets: OAuth2Secrets,
  timeoutMs: number,
  now: number,
): Promise<OAuth2Secrets> {
  const as: oauth.AuthorizationServer = {
    issuer: new URL(settings.tokenUrl).origin,
    token_endpoint: settings.tokenUrl,
  };
  const client: oauth.Client = { client_id: settings.clientId };
  const auth =
    settings.authMethod === "client_secret_post"
      ? oauth.ClientSecretPost(secrets.clientSecret)
      : oauth.ClientSecretBasic(secrets.clientSecret);
  const http = {
    [oauth.customFetch]: fetchThrough(send, timeoutMs),
    // The SSRF guard decides whether plain http is allowed (never in production).
    [oauth.allowInsecureRequests]: settings.tokenUrl.startsWith("http:"),
    ...(settings.scope === undefined ? {} : { additionalParameters: { scope: settings.scope } }),
  };
  let response: Response;
  try {
    response = await oauth.refreshTokenGrantRequest(as, client, auth, secrets.refreshToken, http);
  } catch (err) {
    throw new RefreshFailed(deliveryOfError(err));
  }
  if (response.status >= 500 || response.status === 429 || (response.status >= 300 && response.status < 400)) {
    const wait = retryAfterMs(response.headers.get("retry-after"), now);
    throw new RefreshFailed({
      verdict: "retry",
      status: response.status,
      ...(wait === undefined ? {} : { retryAfterMs: wait }),
      detail: `the token endpoint answered ${response.status}`,
    });
  }
  try {
    const tokens = await oauth.processRefreshTokenResponse(as, client, response);
    return {
      clientSecret: secrets.clientSecret,
      refreshToken: tokens.refresh_token ?? secrets.refreshToken,
      accessToken: tokens.access_token,
      ...(tokens.expires_in === undefined ? {} : { accessExpiresAt: now + tokens.expires_in * 1000 }),
    };
  } catch (err) {
    // invalid_grant, invalid_client ...: the grant must be renewed by a person; retrying cannot help.
    const code = err instanceof oauth.ResponseBodyError ? err.error : (err as Error).message;
    throw new RefreshFailed({
      verdict: "rejected",
      status: response.status,
      detail: `the token endpoint refused the refresh (${code})`,
    });
  }
}

/** Whether a 401 says the access token is the problem (RFC 6750 3.1), so a refresh may cure it. */
function tokenRefused(status: number, headers: Headers): boolean {
  if (status !== 401) return false;
  const challenge = headers.get("www-authenticate") ?? "";
  return /^bearer\b/i.test(challenge) && (!/error=/i.test(challenge) || /error="?invalid_token/i.test(challenge));
}

/**
 * Posts `outcome` to the API, refreshing the access token when needed; never throws for a failed
 * delivery. Store `secrets` when it is not the object passed in.
 *
 * @example const { delivery, secrets } = await postToOAuth2Api(send, settings, stored, outcome);
 */
export async function postToOAuth2Api(
  send: SendOutbound,
  settings: OAuth2Settings,
  stored: OAuth2Secrets,
  outcome: DebateOutcome,
  options: OAuth2PostOptions = {},
): Promise<OAuth2PostResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const now = options.now ?? Date.now;
  let secrets = stored;
  const stale = (s: OAuth2Secrets) =>
    s.accessToken === undefined || (s.accessExpiresAt !== undefined && s.accessExpiresAt - EXPIRY_MARGIN_MS <= now());
  try {
    let refreshed = false;
    if (stale(secrets)) {
      secrets = await refresh(send, settings, secrets, timeoutMs, now());
      refreshed = true;
    }
    const body = JSON.stringify({ event: "debate_end", debate: outcome });
    const post = (token: string) =>
      send({
        url: settings.resourceUrl,
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${token}`,
          "user-agent": "Aragora-Integrations",
        },
        body,
        timeoutMs,
      });
    const mayPost = options.mayPost ?? (() => true);
    const fenced = (): OAuth2PostResult => ({
      delivery: { verdict: "retry", detail: "not posted: this node's delivery lease lapsed" },
      secrets,
      fenced: true,
    });
    if (refreshed && !mayPost()) return fenced();
    let response = await post(secrets.accessToken as string);
    if (!refreshed && tokenRefused(response.status, response.headers)) {
      secrets = await refresh(send, settings, secrets, timeoutMs, now());
      if (!mayPost()) return fenced();
      response = await post(secrets.accessToken as string);
    }
    return { delivery: deliveryOf(response, (s) => s >= 200 && s < 300), secrets };
  } catch (err) {
    if (err instanceof RefreshFailed) return { delivery: err.delivery, secrets };
    return { delivery: deliveryOfError(err), secrets };
  }
}
