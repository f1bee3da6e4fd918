/**
 * A fake OAuth 2.0 authorization server's token endpoint (RFC 6749 section 6, the refresh_token
 * grant) and a protected resource that takes bearer tokens (RFC 6750), over real HTTP, with the
 * faults of ./fake-receiver.ts.
 *
 * - `POST /oauth/token`, `application/x-www-form-urlencoded`: the client authenticates with HTTP
 *   Basic (client_secret_basic, id and secret form-urlencoded first, RFC 6749 2.3.1) or in the body
 *   (client_secret_post), not both; `grant_type=refresh_token` and the current refresh token
 *   answer 200 `{access_token, token_type: "Bearer", expires_in, refresh_token?, scope}` with
 *   `Cache-Control: no-store`; errors are 400 `{error, error_description}` (`invalid_request`,
 *   `unsupported_grant_type`, `invalid_grant`) or 401 `invalid_client` with `WWW-Authenticate`.
 *   With `rotate`, each refresh issues a new refresh token and the old one stops working.
 * - `POST /api/messages`: 201 with a valid, unexpired bearer token; 401 with
 *   `WWW-Authenticate: Bearer error="invalid_token"` otherwise.
 *
 * @example
 * const as = await startFakeTokenServer({ clientId: "c", clientSecret: "s", refreshToken: "r0" });
 * as.expireAccessTokens(); // the next resource call is a 401: the client must refresh
 */
import { randomBytes } from "node:crypto";
import { type FakeReceiver, type Fault, type ReceivedRequest, type Reply, startFakeReceiver } from "./fake-receiver.ts";

export interface FakeTokenServerOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  /** The refresh token the client starts with. */
  readonly refreshToken: string;
  /** Issue a new refresh token at each refresh, revoking the old (default true). */
  readonly rotate?: boolean;
  /** Lifetime of an access token, in seconds (default 3600). */
  readonly accessTtlSeconds?: number;
}

export interface FakeTokenServer extends FakeReceiver {
  readonly tokenUrl: string;
  readonly resourceUrl: string;
  /** The refresh token that works now. */
  currentRefreshToken(): string;
  /** Access tokens issued so far. */
  readonly issued: string[];
  /** Every access token issued so far stops working (as if their lifetime had passed). */
  expireAccessTokens(): void;
  /** The refresh token stops working (the user revoked the grant). */
  revokeRefreshToken(): void;
  /** Bodies the resource accepted, parsed, with the token that posted them. */
  readonly messages: Array<{ token: string; body: unknown }>;
  readonly faults: {
    serverError(): Fault;
    rateLimited(retryAfterSeconds: number): Fault;
    gone(): Fault;
    slow(delayMs: number): Fault;
    redirect(location: string): Fault;
    reset(): Fault;
  };
}

const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };
const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json;charset=UTF-8", ...headers },
  body: JSON.stringify(body),
});
const oauthError = (status: number, error: string, description: string, headers: Record<string, string> = {}) =>
  json(status, { error, error_description: description }, { ...NO_STORE, ...headers });

/** The client id and secret of an HTTP Basic header, form-urldecoded; undefined when malformed. */
function basicCredentials(header: string | undefined): [string, string] | undefined {
  const m = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? "");
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) return undefined;
  const un = (s: string) => decodeURIComponent(s.replaceAll("+", " "));
  return [un(decoded.slice(0, colon)), un(decoded.slice(colon + 1))];
}

/**
 * Starts the token server and resource; see the module comment.
 *
 * @example const as = await startFakeTokenServer({ clientId: "c", clientSecret: "s", refreshToken: "r0" });
 */
export async function startFakeTokenServer(options: FakeTokenServerOptions): Promise<FakeTokenServer> {
  const rotate = options.rotate ?? true;
  const ttl = options.accessTtlSeconds ?? 3600;
  let refreshToken: string | undefined = options.refreshToken;
  const valid = new Set<string>();
  const issued: string[] = [];
  const messages: Array<{ token: string; body: unknown }> = [];
  const token = () => randomBytes(18).toString("base64url");

  const tokenEndpoint = (req: ReceivedRequest): Reply => {
    if (req.method !== "POST") return oauthError(400, "invalid_request", "the token endpoint takes POST");
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return oauthError(400, "invalid_request", "the body must be application/x-www-form-urlencoded");
    }
    const form = new URLSearchParams(req.body);
    const basic = basicCredentials(req.headers.authorization);
    const inBody = form.has("client_secret");
    if (basic !== undefined && inBody)
      return oauthError(400, "invalid_request", "more than one client authentication method");
    const [id, secret] = basic ?? [form.get("client_id") ?? "", form.get("client_secret") ?? ""];
    if (id !== options.clientId || secret !== options.clientSecret) {
      return oauthError(401, "invalid_client", "client authentication failed", {
        "www-authenticate": 'Basic realm="token"',
      });
    }
    if (form.get("grant_type") !== "refresh_token") {
      return oauthError(400, "unsupported_grant_type", `grant_type ${form.get("grant_type")} is not supported`);
    }
    const presented = form.get("refresh_token");
    if (presented === null || presented === "") return oauthError(400, "invalid_request", "refresh_token is required");
    if (refreshToken === undefined || presented !== refreshToken) {
      return oauthError(400, "invalid_grant", "the refresh token is invalid, expired or revoked");
    }
    const access = token();
    valid.add(access);
    issued.push(access);
    const body: Record<string, unknown> = {
      access_token: access,
      token_type: "Bearer",
      expires_in: ttl,
      scope: "messages.write",
    };
    if (rotate) {
      refreshToken = token();
      body.refresh_token = refreshToken;
    }
    return json(200, body, NO_STORE);
  };

  const resource = (req: ReceivedRequest): Reply => {
    const m = /^Bearer ([A-Za-z0-9\-._~+/]+=*)$/.exec(req.headers.authorization ?? "");
    const presented = m?.[1];
    if (presented === undefined || !valid.has(presented)) {
      return json(
        401,
        { error: "invalid_token" },
        {
          "www-authenticate": `Bearer realm="messages", error="invalid_token", error_description="the access token expired"`,
        },
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(req.body);
    } catch {
      return json(400, { error: "invalid_json" });
    }
    messages.push({ token: presented, body });
    return json(201, { id: `msg-${messages.length}` });
  };

  const receiver = await startFakeReceiver({
    answer: (req) => {
      const path = req.path.split("?")[0];
      if (path === "/oauth/token") return tokenEndpoint(req);
      if (path === "/api/messages") return resource(req);
      return json(404, { error: "not_found" });
    },
  });
  return {
    ...receiver,
    tokenUrl: `${receiver.url}/oauth/token`,
    resourceUrl: `${receiver.url}/api/messages`,
    currentRefreshToken: () => refreshToken ?? "",
    issued,
    messages,
    expireAccessTokens: () => valid.clear(),
    revokeRefreshToken: () => {
      refreshToken = undefined;
    },
    faults: {
      serverError: () => ({ kind: "respond", reply: oauthError(503, "temporarily_unavailable", "try again later") }),
      rateLimited: (s) => ({
        kind: "respond",
        reply: oauthError(429, "slow_down", "too many requests", { "retry-after": String(s) }),
      }),
      gone: () => ({ kind: "respond", reply: json(410, { error: "gone" }) }),
      slow: (delayMs) => ({ kind: "slow", delayMs }),
      redirect: (location) => ({ kind: "redirect", location }),
      reset: () => ({ kind: "reset" }),
    },
  };
}
