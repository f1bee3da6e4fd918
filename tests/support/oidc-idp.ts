/**
 * A real OpenID Connect provider for tests: oidc-provider (the certified implementation) in this
 * process, on 127.0.0.1 and a free port, with one confidential client whose redirect URIs the test
 * gives, PKCE (S256) required, and a fixed set of accounts. `login` plays the browser with plain
 * HTTP: it follows the authorization URL, submits the development login form as the given user,
 * submits the consent form, and returns the URL the provider redirects to (the app's callback, with
 * `code`, `state` and `iss`). Every step waits on an HTTP answer, never on a timer.
 *
 * oidc-provider prints warnings on start (unsupported runtime under Bun, development-only storage
 * and interactions); they are expected for a test fixture.
 *
 * @example
 * const idp = await startTestIdp({
 *   client: { clientId: "aragora", clientSecret: "s3cret", redirectUris: ["http://127.0.0.1:9/cb"] },
 *   users: [{ sub: "u-1", email: "ada@example.com", emailVerified: true, name: "Ada" }],
 * });
 * const started = await client.begin("/");            // the app's authorization URL
 * const callback = await idp.login(started.url, "u-1"); // http://127.0.0.1:9/cb?code=...&state=...
 * await idp.stop();
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { promisify } from "node:util";
import Provider, { type Account } from "oidc-provider";

export interface IdpUser {
  sub: string;
  email: string;
  emailVerified: boolean;
  name: string;
}

export interface IdpClient {
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
}

export interface StartIdpOptions {
  client: IdpClient;
  /** More clients, for tests that need a token issued to someone else. */
  otherClients?: IdpClient[];
  users: IdpUser[];
  /**
   * Put email and name in the ID token as Google does. By default the provider follows the spec's
   * default: an ID token issued with an access token carries only `sub`, and the profile claims come
   * from the userinfo endpoint.
   */
  claimsInIdToken?: boolean;
}

export interface TestIdp {
  /** The issuer identifier, `http://127.0.0.1:<port>`. */
  issuer: string;
  port: number;
  /** Logs in as `sub` and consents; returns the redirect back to the client (the app's callback). */
  login(authorizationUrl: string | URL, sub: string): Promise<URL>;
  /** Reaches the login page, then cancels; returns the redirect back with `error=access_denied`. */
  deny(authorizationUrl: string | URL): Promise<URL>;
  /** How many requests each path has answered (e.g. `/token`, `/me`). */
  hits(path: string): number;
  /**
   * Rewrites the token endpoint's successful answers (the parsed JSON body) until called again with
   * undefined: a provider, or a network between it and the client, that lies about the tokens.
   */
  tamperTokens(rewrite: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined): void;
  stop(): Promise<void>;
}

const generateKeyPairAsync = promisify(generateKeyPair);

/** One signing key per test process: RSA generation is slow and the key's identity does not matter. */
let signingKey: Promise<Record<string, unknown>> | undefined;

function rsaSigningKey(): Promise<Record<string, unknown>> {
  signingKey ??= generateKeyPairAsync("rsa", { modulusLength: 2048 }).then(({ privateKey }) => ({
    ...privateKey.export({ format: "jwk" }),
    kid: "test-idp-rs256",
    alg: "RS256",
    use: "sig",
  }));
  return signingKey;
}

function clientMetadata(client: IdpClient): Record<string, unknown> {
  return {
    client_id: client.clientId,
    client_secret: client.clientSecret,
    redirect_uris: client.redirectUris,
    grant_types: ["authorization_code"],
    response_types: ["code"],
  };
}

/** Starts the provider; stop it with `stop()` (in `afterAll`). */
export async function startTestIdp(options: StartIdpOptions): Promise<TestIdp> {
  const users = new Map(options.users.map((u) => [u.sub, u]));
  const hits = new Map<string, number>();

  // The issuer names the port, so the socket is bound before the provider exists.
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: [options.client, ...(options.otherClients ?? [])].map(clientMetadata),
    jwks: { keys: [await rsaSigningKey()] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    pkce: { required: () => true },
    claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name"] },
    scopes: ["openid", "email", "profile"],
    conformIdTokenClaims: !options.claimsInIdToken,
    features: { devInteractions: { enabled: true } },
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
    findAccount: (_ctx: unknown, id: string): Account | undefined => {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: user.sub,
        claims: () => ({
          sub: user.sub,
          email: user.email,
          email_verified: user.emailVerified,
          name: user.name,
        }),
      };
    },
  });
  let tamper: ((body: Record<string, unknown>) => Record<string, unknown>) | undefined;
  provider.use(async (ctx, next) => {
    await next();
    if (tamper && ctx.path === "/token" && ctx.status === 200 && typeof ctx.body === "object" && ctx.body !== null) {
      ctx.body = tamper(ctx.body as Record<string, unknown>);
    }
  });
  const handle = provider.callback();
  server.on("request", (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    handle(req, res);
  });

  const drive = (authorizationUrl: string | URL, as: { login: string } | "deny") =>
    driveBrowser(issuer, new URL(authorizationUrl), as);

  return {
    issuer,
    port,
    login(authorizationUrl, sub) {
      if (!users.has(sub)) throw new Error(`test IdP: no user "${sub}"`);
      return drive(authorizationUrl, { login: sub });
    },
    deny: (authorizationUrl) => drive(authorizationUrl, "deny"),
    hits: (path) => hits.get(path) ?? 0,
    tamperTokens(rewrite) {
      tamper = rewrite;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The browser's part of the code flow, one HTTP exchange at a time with its own cookie jar: follow
 * redirects within the provider, answer the login page (or cancel it) and the consent page, and stop
 * at the first redirect that leaves the provider.
 */
async function driveBrowser(issuer: string, start: URL, as: { login: string } | "deny"): Promise<URL> {
  const origin = new URL(issuer).origin;
  if (start.origin !== origin) throw new Error(`test IdP: ${start.href} is not on ${origin}`);
  const jar = new CookieJar();
  let url = start;
  let res = await jar.fetch(url);
  // Authorization, login page, login post, resume, consent page, consent post, resume: seven hops.
  for (let hop = 0; hop < 12; hop++) {
    if (res.status >= 300 && res.status < 400) {
      const location = res.headers.get("location");
      await res.body?.cancel();
      if (!location) throw new Error(`test IdP: ${res.status} without Location at ${url.pathname}`);
      const next = new URL(location, url);
      if (next.origin !== origin) return next;
      url = next;
      res = await jar.fetch(url);
      continue;
    }
    const html = await res.text();
    const prompt = /name="prompt" value="(login|consent)"/.exec(html)?.[1];
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    if (res.status !== 200 || !prompt || !action) {
      const text = html
        .replace(/<style[\s\S]*?<\/style>|<[^>]+>/g, " ")
        .replace(/\s+/g, " ")
        .trim();
      throw new Error(`test IdP: ${res.status} at ${url.pathname}: ${text.slice(0, 300)}`);
    }
    if (as === "deny") {
      url = new URL(`${url.pathname.replace(/\/$/, "")}/abort`, url);
      res = await jar.fetch(url);
      continue;
    }
    const form: Record<string, string> =
      prompt === "login"
        ? { prompt, login: as.login, password: "any password: dev interactions check none" }
        : { prompt };
    url = new URL(action, url);
    res = await jar.fetch(url, { method: "POST", body: new URLSearchParams(form) });
  }
  throw new Error(`test IdP: no redirect back to the client after 12 hops (last at ${url.pathname})`);
}

/** Just enough of a browser's cookie store for one flow: name, value and path; no expiry clock. */
class CookieJar {
  private readonly cookies = new Map<string, { name: string; value: string; path: string }>();

  async fetch(url: URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = [...this.cookies.values()]
      .filter((c) => pathMatches(url.pathname, c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
    if (cookie) headers.set("cookie", cookie);
    const res = await fetch(url, { ...init, headers, redirect: "manual" });
    for (const line of res.headers.getSetCookie()) this.store(line, url);
    return res;
  }

  private store(line: string, url: URL): void {
    const [pair = "", ...attributes] = line.split(";").map((s) => s.trim());
    const eq = pair.indexOf("=");
    if (eq <= 0) return;
    const name = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    let path = url.pathname.replace(/\/[^/]*$/, "") || "/";
    let expired = value === "";
    for (const attribute of attributes) {
      const [key = "", val = ""] = attribute.split("=");
      if (key.toLowerCase() === "path" && val.startsWith("/")) path = val;
      if (key.toLowerCase() === "max-age" && Number(val) <= 0) expired = true;
      if (key.toLowerCase() === "expires" && Date.parse(val) <= Date.now()) expired = true;
    }
    const key = `${name}\n${path}`;
    if (expired) this.cookies.delete(key);
    else this.cookies.set(key, { name, value, path });
  }
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
