/**
 * The OpenID Connect client against a real provider (oidc-provider on 127.0.0.1): the whole code
 * flow over HTTP, and each way it must fail, provoked at the provider rather than simulated.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { createServer, type Server, type Socket } from "node:net";
import { generateRandomCodeVerifier, generateRandomState } from "oauth4webapi";
import {
  createOidcClient,
  GOOGLE_AUTHORIZATION_ENDPOINT,
  GOOGLE_ISSUER,
  GOOGLE_ISSUER_ALIAS,
  type OidcClientOptions,
  OidcFailure,
  type OidcFailureReason,
} from "../../access/oauth/oidc-client.ts";
import { type IdpUser, startTestIdp, type TestIdp } from "../support/oidc-idp.ts";

const CALLBACK = "http://127.0.0.1:3000/api/auth/oauth/oidc/callback";
const CLIENT = { clientId: "aragora", clientSecret: "aragora-client-secret-3f9a1c", redirectUris: [CALLBACK] };
const OTHER_CALLBACK = "http://127.0.0.1:4000/callback";
const OTHER = { clientId: "other-app", clientSecret: "other-app-secret-77d0e2", redirectUris: [OTHER_CALLBACK] };

const ADA: IdpUser = { sub: "ada-7f3e", email: "ada@example.com", emailVerified: true, name: "Ada Lovelace" };
const BOB: IdpUser = { sub: "bob-19c2", email: "bob@example.com", emailVerified: false, name: "Bob" };

let idp: TestIdp;
/** Puts email and name in the ID token, as Google does. */
let googleLike: TestIdp;

beforeAll(async () => {
  idp = await startTestIdp({ client: CLIENT, otherClients: [OTHER], users: [ADA, BOB] });
  googleLike = await startTestIdp({ client: CLIENT, users: [ADA], claimsInIdToken: true });
});

afterAll(async () => {
  await idp?.stop();
  await googleLike?.stop();
});

function client(overrides: Partial<OidcClientOptions> = {}) {
  return createOidcClient({
    issuer: idp.issuer,
    clientId: CLIENT.clientId,
    clientSecret: CLIENT.clientSecret,
    redirectUri: CALLBACK,
    ...overrides,
  });
}

/** The failure a sign-in step ends with; also checks that it carries no secret of the flow. */
async function failure(
  step: Promise<unknown>,
  reason: OidcFailureReason,
  secrets: string[] = [],
): Promise<OidcFailure> {
  let caught: unknown;
  try {
    await step;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(OidcFailure);
  const err = caught as OidcFailure;
  expect({ reason: err.reason, detail: err.detail }).toEqual({ reason, detail: expect.any(String) });
  const shown = `${err.message} ${err.detail} ${JSON.stringify(err)} ${String(err.stack)}`;
  for (const secret of [CLIENT.clientSecret, OTHER.clientSecret, ...secrets]) expect(shown).not.toContain(secret);
  return err;
}

/** A fetch that tells the test what went out and can rewrite what comes back. */
function recordingFetch(rewrite?: (url: string, res: Response) => Promise<Response>) {
  const urls: string[] = [];
  const fetchFn = async (url: string, init: RequestInit) => {
    urls.push(new URL(url).pathname);
    const res = await fetch(url, init);
    return rewrite ? rewrite(url, res) : res;
  };
  return { urls, fetch: fetchFn };
}

describe("the happy path", () => {
  test("begin → provider login and consent → complete gives the verified identity", async () => {
    const oidc = client();
    const userinfoBefore = idp.hits("/me");
    const started = await oidc.begin("/debates/42");
    expect(started.returnTo).toBe("/debates/42");

    const q = started.url.searchParams;
    expect(`${started.url.origin}${started.url.pathname}`).toBe(`${idp.issuer}/auth`);
    expect(q.get("client_id")).toBe(CLIENT.clientId);
    expect(q.get("redirect_uri")).toBe(CALLBACK);
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe("openid email profile");
    expect(q.get("state")).toBe(started.state);
    expect(q.get("nonce")).toBe(started.nonce);
    expect(q.get("code_challenge_method")).toBe("S256");
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(started.codeVerifier)),
    );
    expect(q.get("code_challenge")).toBe(Buffer.from(digest).toString("base64url"));
    expect(q.has("code_verifier")).toBe(false);

    const callback = await idp.login(started.url, ADA.sub);
    expect(`${callback.origin}${callback.pathname}`).toBe(CALLBACK);
    expect(callback.searchParams.get("state")).toBe(started.state);
    expect(callback.searchParams.get("code")).toBeTruthy();

    const identity = await oidc.complete(callback, started);
    expect(identity).toEqual({
      issuer: idp.issuer,
      subject: ADA.sub,
      email: ADA.email,
      emailVerified: true,
      name: ADA.name,
    });
    // This provider keeps email and name out of the ID token, so they came from userinfo.
    expect(idp.hits("/me")).toBe(userinfoBefore + 1);
  });

  test("each sign-in gets its own state, nonce and verifier", async () => {
    const oidc = client();
    const a = await oidc.begin("/");
    const b = await oidc.begin("/");
    expect(new Set([a.state, b.state, a.nonce, b.nonce, a.codeVerifier, b.codeVerifier]).size).toBe(6);
    for (const value of [a.state, a.nonce, a.codeVerifier]) expect(value.length).toBeGreaterThanOrEqual(43);
  });

  test("an email the provider has not verified is reported as unverified", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const identity = await oidc.complete(await idp.login(started.url, BOB.sub), started);
    expect(identity).toMatchObject({ subject: BOB.sub, email: BOB.email, emailVerified: false });
  });

  test("Google defaults: claims straight from the ID token, no userinfo call", async () => {
    const seen = recordingFetch();
    const google = createOidcClient({
      googleDefaults: true,
      issuer: googleLike.issuer,
      clientId: CLIENT.clientId,
      clientSecret: CLIENT.clientSecret,
      redirectUri: CALLBACK,
      fetch: seen.fetch,
    });
    const started = await google.begin("/");
    expect(started.url.searchParams.get("scope")).toBe("openid email profile");
    const identity = await google.complete(await googleLike.login(started.url, ADA.sub), started);
    expect(identity).toEqual({
      issuer: googleLike.issuer,
      subject: ADA.sub,
      email: ADA.email,
      emailVerified: true,
      name: ADA.name,
    });
    // Discovery, the code exchange, and the provider's keys to check the ID token's signature.
    expect(seen.urls).toEqual(["/.well-known/openid-configuration", "/token", "/jwks"]);
  });

  test("Google defaults without an issuer override: begin sends the browser to Google's documented endpoint, no request made", async () => {
    const requests: string[] = [];
    const google = createOidcClient({
      googleDefaults: true,
      clientId: "1234-abc.apps.googleusercontent.com",
      clientSecret: CLIENT.clientSecret,
      redirectUri: "https://aragora.example.com/api/auth/oauth/google/callback",
      fetch: async (url) => {
        requests.push(url);
        throw new TypeError("no network in this test");
      },
    });
    const started = await google.begin("/");
    expect(`${started.url.origin}${started.url.pathname}`).toBe(GOOGLE_AUTHORIZATION_ENDPOINT);
    expect(started.url.searchParams.get("client_id")).toBe("1234-abc.apps.googleusercontent.com");
    expect(started.url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(requests).toEqual([]);
    // The callback needs the provider's metadata: discovery happens then, at Google's issuer.
    await failure(google.complete(`https://x.test/cb?state=${started.state}&code=c`, started), "unreachable");
    expect(requests).toEqual([`${GOOGLE_ISSUER}/.well-known/openid-configuration`]);
  });

  test("the provider's keys are fetched once and reused across sign-ins", async () => {
    const seen = recordingFetch();
    const oidc = client({ fetch: seen.fetch });
    for (let i = 0; i < 2; i++) {
      const started = await oidc.begin("/");
      await oidc.complete(await idp.login(started.url, ADA.sub), started);
    }
    expect(seen.urls.filter((p) => p === "/jwks")).toHaveLength(1);
  });

  test("discovery is fetched once and reused", async () => {
    const seen = recordingFetch();
    const oidc = client({ fetch: seen.fetch });
    await oidc.begin("/");
    await oidc.begin("/");
    const started = await oidc.begin("/");
    await oidc.complete(await idp.login(started.url, ADA.sub), started);
    expect(seen.urls.filter((p) => p === "/.well-known/openid-configuration")).toHaveLength(1);
  });

  test("a failed discovery is not cached: the next sign-in tries again", async () => {
    let calls = 0;
    const oidc = client({
      fetch: (url, init) => (++calls === 1 ? Promise.reject(new TypeError("network down")) : fetch(url, init)),
    });
    await failure(oidc.begin("/"), "unreachable");
    const started = await oidc.begin("/");
    expect(started.url.origin).toBe(idp.issuer);
    expect(calls).toBe(2);
  });
});

describe("state", () => {
  test("a callback whose state is not the flow's fails with state_mismatch, before the code is spent", async () => {
    const oidc = client();
    const tokenBefore = idp.hits("/token");
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    const code = callback.searchParams.get("code") as string;

    await failure(oidc.complete(callback, { ...started, state: generateRandomState() }), "state_mismatch", [code]);
    const stateless = new URL(callback);
    stateless.searchParams.delete("state");
    await failure(oidc.complete(stateless, started), "state_mismatch", [code]);
    expect(idp.hits("/token")).toBe(tokenBefore);

    // The code was never sent to the provider, so the real flow still completes.
    expect((await oidc.complete(callback, started)).subject).toBe(ADA.sub);
  });

  test("an error callback with a foreign state is a state_mismatch, not the provider's error", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const denied = await idp.deny(started.url);
    await failure(oidc.complete(denied, { ...started, state: generateRandomState() }), "state_mismatch");
  });
});

describe("the code exchange", () => {
  test("a wrong PKCE verifier: the provider answers invalid_grant", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    const wrong = generateRandomCodeVerifier();
    const err = await failure(oidc.complete(callback, { ...started, codeVerifier: wrong }), "invalid_grant", [
      callback.searchParams.get("code") as string,
      started.codeVerifier,
      wrong,
    ]);
    expect(err.detail).toContain("token: invalid_grant");
  });

  test("a replayed code: the second exchange fails with invalid_grant", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    expect((await oidc.complete(callback, started)).subject).toBe(ADA.sub);
    await failure(oidc.complete(callback, started), "invalid_grant", [callback.searchParams.get("code") as string]);
  });

  test("a wrong client secret: the provider's invalid_client is an idp_error", async () => {
    const oidc = client({ clientSecret: "not-the-secret-0000" });
    const started = await oidc.begin("/");
    const err = await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "idp_error", [
      "not-the-secret-0000",
    ]);
    expect(err.detail).toContain("invalid_client");
  });

  test("the user cancelling at the provider is an idp_error naming access_denied", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const denied = await idp.deny(started.url);
    expect(denied.searchParams.get("error")).toBe("access_denied");
    const err = await failure(oidc.complete(denied, started), "idp_error");
    expect(err.detail).toContain("access_denied");
  });

  test("a callback naming another issuer (mix-up) is refused as invalid_response", async () => {
    const oidc = client();
    const tokenBefore = idp.hits("/token");
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    callback.searchParams.set("iss", "https://evil.example");
    const err = await failure(oidc.complete(callback, started), "invalid_response");
    expect(err.detail).toContain("iss");
    expect(idp.hits("/token")).toBe(tokenBefore);
  });

  test("userinfo about another subject is refused as invalid_response", async () => {
    const oidc = client({
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/me") return res;
        const body = (await res.json()) as Record<string, unknown>;
        return Response.json({ ...body, sub: BOB.sub, email: BOB.email }, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const started = await oidc.begin("/");
    const err = await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "invalid_response");
    expect(err.detail).toContain("userinfo");
  });

  test("a token endpoint answering 503 is unreachable", async () => {
    const oidc = client({
      fetch: async (url, init) =>
        new URL(url).pathname === "/token" ? new Response("down", { status: 503 }) : fetch(url, init),
    });
    const started = await oidc.begin("/");
    await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "unreachable");
  });
});

describe("the ID token", () => {
  test("a nonce other than the flow's fails with id_token_invalid", async () => {
    const oidc = client();
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    const err = await failure(
      oidc.complete(callback, { ...started, nonce: "another-flows-nonce" }),
      "id_token_invalid",
    );
    expect(err.detail).toContain("nonce");
  });

  test("an ID token issued to another client (audience) fails with id_token_invalid", async () => {
    // A genuine ID token from the same provider, for the other client, with a nonce the test knows.
    let foreignIdToken = "";
    const other = createOidcClient({
      issuer: idp.issuer,
      clientId: OTHER.clientId,
      clientSecret: OTHER.clientSecret,
      redirectUri: OTHER_CALLBACK,
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/token") return res;
        const body = (await res.json()) as { id_token: string };
        foreignIdToken = body.id_token;
        return Response.json(body, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const otherStarted = await other.begin("/");
    await other.complete(await idp.login(otherStarted.url, ADA.sub), otherStarted);
    expect(foreignIdToken).not.toBe("");

    // Our token response carries that ID token instead of ours: everything else about it is valid.
    const oidc = client({
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/token") return res;
        const body = (await res.json()) as Record<string, unknown>;
        return Response.json({ ...body, id_token: foreignIdToken }, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const started = await oidc.begin("/");
    const callback = await idp.login(started.url, ADA.sub);
    const err = await failure(oidc.complete(callback, { ...started, nonce: otherStarted.nonce }), "id_token_invalid", [
      foreignIdToken,
    ]);
    expect(err.detail).toContain("aud");
  });

  test("an ID token with the right claims but signed by another key fails with id_token_invalid", async () => {
    // Everything an attacker who can rewrite the token response controls: the claims are the
    // genuine ones (issuer, audience, nonce, subject), the header names the provider's key id.
    const forger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    let forged = "";
    const oidc = client({
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/token") return res;
        const body = (await res.json()) as { id_token: string };
        forged = resign(body.id_token, forger);
        return Response.json({ ...body, id_token: forged }, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const started = await oidc.begin("/");
    const err = await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "id_token_invalid");
    expect(forged).not.toBe("");
    expect(err.detail).toContain("signature");
    expect(err.message).not.toContain(forged);
  });

  test("an ID token with alg none fails with id_token_invalid", async () => {
    const oidc = client({
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/token") return res;
        const body = (await res.json()) as { id_token: string };
        const [, payload] = body.id_token.split(".");
        const unsigned = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${payload}.`;
        return Response.json({ ...body, id_token: unsigned }, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const started = await oidc.begin("/");
    await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "id_token_invalid");
  });

  test("an expired ID token fails with id_token_invalid", async () => {
    // The provider's ID tokens live 10 minutes; this client's clock is two hours ahead.
    const oidc = client({ now: () => Date.now() + 2 * 3_600_000 });
    const started = await oidc.begin("/");
    const err = await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "id_token_invalid");
    expect(err.detail).toContain("exp");
  });

  test("a token response without an ID token fails with id_token_invalid", async () => {
    const oidc = client({
      fetch: recordingFetch(async (url, res) => {
        if (new URL(url).pathname !== "/token") return res;
        const { id_token: _dropped, ...body } = (await res.json()) as Record<string, unknown>;
        return Response.json(body, { status: res.status, headers: res.headers });
      }).fetch,
    });
    const started = await oidc.begin("/");
    await failure(oidc.complete(await idp.login(started.url, ADA.sub), started), "id_token_invalid");
  });
});

describe("reaching the provider", () => {
  test("a closed port gives unreachable, quickly", async () => {
    const port = await closedPort();
    const oidc = client({ issuer: `http://127.0.0.1:${port}` });
    const t0 = performance.now();
    const err = await failure(oidc.begin("/"), "unreachable");
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(err.detail).toContain("discovery");
  });

  test("a provider that accepts the connection and never answers gives unreachable after timeoutMs", async () => {
    const silent = await silentServer();
    try {
      const oidc = client({ issuer: `http://127.0.0.1:${silent.port}`, timeoutMs: 300 });
      const t0 = performance.now();
      const err = await failure(oidc.begin("/"), "unreachable");
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(err.detail).toContain("timed out");
      expect(silent.connections()).toBeGreaterThan(0);
    } finally {
      await silent.stop();
    }
  });

  test("discovery answering 503 is unreachable; answering 404 is invalid_response", async () => {
    const answering = (status: number) =>
      client({ fetch: async () => new Response("{}", { status, headers: { "content-type": "application/json" } }) });
    await failure(answering(503).begin("/"), "unreachable");
    await failure(answering(404).begin("/"), "invalid_response");
  });

  test("discovery that names another issuer is invalid_response", async () => {
    // The same server under another name: it publishes the issuer http://127.0.0.1:<port>.
    const oidc = client({ issuer: idp.issuer.replace("127.0.0.1", "localhost") });
    const err = await failure(oidc.begin("/"), "invalid_response");
    expect(err.detail).toContain("issuer");
  });
});

describe("configuration", () => {
  const base = { clientId: "c", clientSecret: "s", redirectUri: CALLBACK };

  test("Google defaults point at accounts.google.com unless the issuer is overridden", () => {
    expect(createOidcClient({ ...base, googleDefaults: true }).issuer).toBe(GOOGLE_ISSUER);
    expect(createOidcClient({ ...base, googleDefaults: true, issuer: "https://idp.test" }).issuer).toBe(
      "https://idp.test",
    );
  });

  test("an issuer over plain http off loopback, or none at all, is refused at construction", () => {
    expect(() => createOidcClient({ ...base, issuer: "http://idp.example.com" })).toThrow(TypeError);
    expect(() => createOidcClient({ ...base, issuer: "ftp://idp.example.com" })).toThrow(TypeError);
    expect(() => createOidcClient({ ...base, issuer: "not a url" })).toThrow(TypeError);
    expect(() => createOidcClient(base)).toThrow(TypeError);
    expect(() => createOidcClient({ ...base, issuer: "http://127.0.0.1:9" })).not.toThrow();
  });

  test("scopes without openid, or missing credentials, are refused", () => {
    const issuer = "https://idp.example.com";
    expect(() => createOidcClient({ ...base, issuer, scopes: ["email"] })).toThrow(/openid/);
    expect(() => createOidcClient({ ...base, issuer, clientSecret: "" })).toThrow(/clientSecret/);
    expect(() => createOidcClient({ ...base, issuer, redirectUri: "/callback" })).toThrow(/redirectUri/);
  });
});

describe("Google's two issuer names", () => {
  // Google documents that its ID tokens' iss is "https://accounts.google.com" or
  // "accounts.google.com". Its real endpoints are not reachable from a test: a provider speaking
  // for Google's issuer answers through the client's fetch, with its own keys and real signatures.
  const GOOGLE_CALLBACK = "https://aragora.example.com/api/auth/oauth/google/callback";

  function google(overrides: Partial<OidcClientOptions> = {}) {
    const provider = fakeProvider(overrides.issuer ?? GOOGLE_ISSUER);
    const oidc = createOidcClient({
      googleDefaults: true,
      clientId: "1234-abc.apps.googleusercontent.com",
      clientSecret: CLIENT.clientSecret,
      redirectUri: GOOGLE_CALLBACK,
      fetch: provider.fetch,
      ...overrides,
    });
    return { oidc, provider };
  }

  /** A whole sign-in whose ID token says `iss` (and is signed by `signer`, default the provider's key). */
  async function signInWith(
    { oidc, provider }: ReturnType<typeof google>,
    iss: string,
    signer?: KeyObject,
  ): Promise<unknown> {
    const started = await oidc.begin("/");
    provider.next = { iss, nonce: started.nonce, ...(signer ? { signer } : {}) };
    return oidc.complete(`${GOOGLE_CALLBACK}?state=${started.state}&code=4%2F0A-code`, started);
  }

  test("an ID token whose iss is accounts.google.com or https://accounts.google.com signs in, under the one issuer", async () => {
    const client = google();
    for (const iss of [GOOGLE_ISSUER_ALIAS, GOOGLE_ISSUER]) {
      expect(await signInWith(client, iss)).toEqual({
        issuer: GOOGLE_ISSUER,
        subject: "1098765432",
        email: "ada@gmail.com",
        emailVerified: true,
        name: "Ada",
      });
    }
    // The alias changes which name is compared, not whether the token is Google's: a forged one fails.
    const forger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const err = await failure(signInWith(client, GOOGLE_ISSUER_ALIAS, forger), "id_token_invalid");
    expect(err.detail).toContain("signature");
  });

  test.each([
    "http://accounts.google.com",
    "https://accounts.google.com/",
    "accounts.google.com.evil.example",
    "evil.example",
    "ACCOUNTS.GOOGLE.COM",
  ])("Google refuses an ID token whose iss is %p", async (iss) => {
    const err = await failure(signInWith(google(), iss), "id_token_invalid");
    expect(err.detail).toContain("iss");
  });

  test("another provider's issuer has no alias: its scheme-less name, or Google's, is refused", async () => {
    const other = fakeProvider("https://login.example.com");
    const oidc = createOidcClient({
      issuer: "https://login.example.com",
      clientId: "1234-abc.apps.googleusercontent.com",
      clientSecret: CLIENT.clientSecret,
      redirectUri: GOOGLE_CALLBACK,
      fetch: other.fetch,
    });
    expect(await signInWith({ oidc, provider: other }, "https://login.example.com")).toMatchObject({
      issuer: "https://login.example.com",
    });
    for (const iss of ["login.example.com", GOOGLE_ISSUER_ALIAS]) {
      await failure(signInWith({ oidc, provider: other }, iss), "id_token_invalid");
    }
    // Google's defaults pointed at another issuer (as the suites do) take no alias either.
    const elsewhere = google({ issuer: "https://login.example.com" });
    expect(await signInWith(elsewhere, "https://login.example.com")).toMatchObject({ subject: "1098765432" });
    for (const iss of ["login.example.com", GOOGLE_ISSUER_ALIAS]) {
      await failure(signInWith(elsewhere, iss), "id_token_invalid");
    }
  });
});

describe("the test provider itself", () => {
  test("it requires PKCE: an authorization request without a challenge comes back with an error", async () => {
    const started = await client().begin("/");
    started.url.searchParams.delete("code_challenge");
    started.url.searchParams.delete("code_challenge_method");
    const callback = await idp.login(started.url, ADA.sub);
    expect(callback.searchParams.get("error")).toBe("invalid_request");
    expect(callback.searchParams.get("code")).toBeNull();
  });

  test("it refuses a redirect URI the client did not register", async () => {
    const started = await client({ redirectUri: "http://127.0.0.1:3000/elsewhere" }).begin("/");
    await expect(idp.login(started.url, ADA.sub)).rejects.toThrow(/redirect_uri/);
  });
});

/**
 * A provider for `issuer` answered through a client's fetch: discovery, its keys, and a token
 * endpoint whose ID token (RS256, its own key) carries the `iss` and nonce set in `next`.
 */
function fakeProvider(issuer: string) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...publicKey.export({ format: "jwk" }), kid: "k1", alg: "RS256", use: "sig" };
  const base = new URL(issuer).origin;
  const state = { next: { iss: issuer, nonce: "", signer: undefined as KeyObject | undefined } };
  const fetchFn = async (url: string, init: RequestInit): Promise<Response> => {
    const path = new URL(url).pathname;
    if (url === `${issuer}/.well-known/openid-configuration`) {
      return Response.json({
        issuer,
        authorization_endpoint: `${base}/o/oauth2/v2/auth`,
        token_endpoint: `${base}/token`,
        jwks_uri: `${base}/certs`,
        response_types_supported: ["code"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
      });
    }
    if (path === "/certs") return Response.json({ keys: [jwk] });
    if (path === "/token" && init.method === "POST") {
      const clientId = decodeURIComponent(
        Buffer.from(String(new Headers(init.headers).get("authorization")).slice(6), "base64")
          .toString()
          .split(":")[0] ?? "",
      );
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        iss: state.next.iss,
        aud: clientId,
        sub: "1098765432",
        iat: now,
        exp: now + 3600,
        nonce: state.next.nonce,
        email: "ada@gmail.com",
        email_verified: true,
        name: "Ada",
      };
      const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
      const unsigned = `${encode({ alg: "RS256", kid: "k1", typ: "JWT" })}.${encode(claims)}`;
      const signature = sign("sha256", Buffer.from(unsigned), state.next.signer ?? privateKey).toString("base64url");
      return Response.json({
        access_token: "ya29.fake-access-token",
        token_type: "Bearer",
        expires_in: 3599,
        id_token: `${unsigned}.${signature}`,
      });
    }
    return new Response("not found", { status: 404 });
  };
  return {
    fetch: fetchFn,
    set next(value: { iss: string; nonce: string; signer?: KeyObject }) {
      state.next = { signer: undefined, ...value };
    },
  };
}

/** The same JWT (header and claims unchanged) signed with `key` instead of its issuer's key. */
function resign(jwt: string, key: KeyObject): string {
  const [header, payload] = jwt.split(".");
  const signature = sign("sha256", Buffer.from(`${header}.${payload}`), key).toString("base64url");
  return `${header}.${payload}.${signature}`;
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never writes a byte. */
async function silentServer(): Promise<{ port: number; connections(): number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    port,
    connections: () => accepted,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
