/**
 * OAuth / OpenID Connect sign-in end to end: real server processes (the `oidc` provider pointed at
 * a real oidc-provider on 127.0.0.1 by OIDC_OAUTH_ISSUER, Google configured by its GOOGLE_OAUTH_*
 * variables), the browser played by hand, one redirect at a time, with its own cookies. Each
 * defence has a test that would pass the attack through if the defence were gone: the state bound
 * to the browser's cookie and used once, its expiry, PKCE, the nonce, the ID token's audience and
 * signature, the return URL's allowed hosts, and linking only on an email the provider verified.
 * An account with MFA on gets no session from the provider alone: the second factor is asked
 * through the challenge cookie, and only then is the browser signed in.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync, sign } from "node:crypto";
import { createServer } from "node:net";
import { createOidcClient } from "../../access/oauth/oidc-client.ts";
import { type IdpUser, startTestIdp, type TestIdp } from "../support/oidc-idp.ts";
import type { TestServer } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable, type TempDatabase } from "../support/services.ts";
import { claimsOf, type Enrolled, enrolMfa, totpCode, wrongCode } from "./mfa-support.ts";
import {
  call,
  claimOwner,
  noSecretsLogged,
  PASSWORD,
  seenSecrets,
  signIn,
  startAccessServer,
  usersCli,
} from "./support.ts";

const CLIENT_ID = "aragora";
const CLIENT_SECRET = "aragora-oidc-client-secret-5c1e9b";
const OTHER = {
  clientId: "other-app",
  clientSecret: "other-app-secret-77d0e2",
  redirectUris: ["http://127.0.0.1:4000/callback"],
};
const GOOGLE_CLIENT_ID = "1234567890-abc.apps.googleusercontent.com";
const GOOGLE_SECRET = "google-client-secret-a7f3e0";
const ERROR_URL = "https://app.example.com/sign-in?from=oauth";
const SUCCESS_URL = "/signed-in";

/** Verified email; has a password account on the main server before signing in with the provider. */
const ADA: IdpUser = { sub: "ada-7f3e", email: "ada@example.com", emailVerified: true, name: "Ada Lovelace" };
/** Verified email, no account anywhere: sign-up makes one where it is open. */
const CAROL: IdpUser = { sub: "carol-5d21", email: "carol@example.com", emailVerified: true, name: "Carol" };
/** The provider has not verified this email; an account with it exists on the main server. */
const BOB: IdpUser = { sub: "bob-19c2", email: "bob@example.com", emailVerified: false, name: "Bob" };
/** Signs in through the provider in the attacks; its sign-ins would succeed but for the defence tested. */
const DAN: IdpUser = { sub: "dan-0a4b", email: "dan@example.com", emailVerified: true, name: "Dan" };
/** Another person at the same provider asserting Ada's address, verified (an address that changed hands). */
const ADA_TWIN: IdpUser = { sub: "ada-twin-91d0", email: "ada@example.com", emailVerified: true, name: "Ada?" };
/** Verified email, no account: signs in twice at once, the first time. */
const EVE: IdpUser = { sub: "eve-66c0", email: "eve@example.com", emailVerified: true, name: "Eve" };
/** Verified email; has a password account with MFA on before signing in with the provider. */
const FAY: IdpUser = { sub: "fay-2b8e", email: "fay@example.com", emailVerified: true, name: "Fay" };

let idp: TestIdp;
/** Sign-up open; the main server of the suite. */
let server: TestServer;
/** Sign-up closed, sign-ins expire after 1 s. */
let closed: TestServer;
/** The port kept for the PostgreSQL suite's server, and the variables every server gets. */
let pgPort: number;
let oauthEnv: (port: number) => Record<string, string>;

const callbackOf = (port: number) => `http://127.0.0.1:${port}/api/auth/oauth/oidc/callback`;

beforeAll(async () => {
  // The provider must know the servers' callback URLs before either starts, and the servers their
  // issuer: the servers get ports chosen beforehand.
  const [mainPort, closedPort] = await Promise.all([freePort(), freePort()]);
  pgPort = await freePort();
  idp = await startTestIdp({
    client: {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      redirectUris: [callbackOf(mainPort), callbackOf(closedPort), callbackOf(pgPort)],
    },
    otherClients: [OTHER],
    users: [ADA, ADA_TWIN, BOB, CAROL, DAN, EVE, FAY],
  });
  oauthEnv = (port: number) => ({
    OIDC_OAUTH_ISSUER: idp.issuer,
    OIDC_OAUTH_CLIENT_ID: CLIENT_ID,
    OIDC_OAUTH_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_OAUTH_REDIRECT_URI: callbackOf(port),
    OAUTH_SUCCESS_URL: SUCCESS_URL,
    OAUTH_ERROR_URL: ERROR_URL,
    OAUTH_ALLOWED_REDIRECT_HOSTS: "app.example.com",
  });
  [server, closed] = await Promise.all([
    startAccessServer({
      timeoutMs: 60_000,
      args: ["--api-port", String(mainPort)],
      env: {
        ...oauthEnv(mainPort),
        ARAGORA_SIGNUP: "open",
        GOOGLE_OAUTH_CLIENT_ID: GOOGLE_CLIENT_ID,
        GOOGLE_OAUTH_CLIENT_SECRET: GOOGLE_SECRET,
        GOOGLE_OAUTH_REDIRECT_URI: "https://aragora.example.com/api/auth/oauth/google/callback",
      },
    }),
    startAccessServer({
      timeoutMs: 60_000,
      args: ["--api-port", String(closedPort)],
      env: { ...oauthEnv(closedPort), ARAGORA_SIGNUP: "closed", ARAGORA_OAUTH_STATE_TTL_S: "1" },
    }),
  ]);
  await claimOwner(server, ADA.email);
  const bob = await usersCli(server, ["create", "--email", BOB.email, "--role", "member"], `${PASSWORD}\n`);
  expect(bob.code).toBe(0);
  await claimOwner(closed, DAN.email);
  // Two servers starting on a loaded machine (the CI runner shares its cores) can take a while.
}, 90_000);

afterAll(async () => {
  idp.tamperTokens(undefined);
  const secrets = [CLIENT_SECRET, OTHER.clientSecret, GOOGLE_SECRET, PASSWORD, ...Browser.secrets, ...seenSecrets];
  for (const s of [server, closed]) {
    if (!s) continue;
    expect(noSecretsLogged(s, secrets)).toEqual([]);
    expect(await s.stop()).toBe(0);
  }
  await idp?.stop();
});

/** Where a redirect went, and the cookies it set (name to value; "" for a cleared one). */
interface Hop {
  status: number;
  location: URL;
  cookies: Map<string, string>;
  setCookie: string[];
}

/** A JSON answer to the browser, and the cookies it set (as in {@link Hop}). */
interface Posted {
  status: number;
  body: Record<string, unknown>;
  cookies: Map<string, string>;
  setCookie: string[];
}

/**
 * One browser: its cookies for the Aragora server, kept and sent as a browser would (the provider's
 * pages keep theirs inside `idp.login`). Every hop is one request, redirects not followed.
 */
class Browser {
  /** Every code, state and token the suite's browsers handled, to look for in the logs. */
  static readonly secrets = new Set<string>();
  readonly jar = new Map<string, string>();

  constructor(private readonly target: TestServer) {}

  async get(url: string | URL, extraCookies: Record<string, string> = {}): Promise<Hop> {
    const res = await fetch(url, { redirect: "manual", headers: this.cookieHeader(extraCookies) });
    const setCookie = res.headers.getSetCookie();
    const set = this.keep(setCookie);
    const location = res.headers.get("location");
    await res.body?.cancel();
    if (location === null) throw new Error(`${res.status} without a Location from ${url}`);
    return { status: res.status, location: new URL(location, this.target.api), cookies: set, setCookie };
  }

  /** A JSON POST from this browser's page, with its cookies (a script cannot read HttpOnly ones, the browser sends them). */
  async post(path: string, body: unknown, extraCookies: Record<string, string> = {}): Promise<Posted> {
    const res = await fetch(`${this.target.api}${path}`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/json", ...this.cookieHeader(extraCookies) },
      body: JSON.stringify(body),
    });
    const setCookie = res.headers.getSetCookie();
    const cookies = this.keep(setCookie);
    const answer = (await res.json()) as Record<string, unknown>;
    for (const key of ["access_token", "refresh_token", "csrf_token"]) {
      if (typeof answer[key] === "string") Browser.secrets.add(answer[key]);
    }
    return { status: res.status, body: answer, cookies, setCookie };
  }

  private cookieHeader(extra: Record<string, string>): Record<string, string> {
    const cookies = new Map([...this.jar, ...Object.entries(extra)]);
    const cookie = [...cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    return cookie ? { cookie } : {};
  }

  /** Keeps what Set-Cookie lines set (drops what they clear); the cookies they named. */
  private keep(setCookie: string[]): Map<string, string> {
    const set = new Map<string, string>();
    for (const line of setCookie) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      set.set(name, value);
      if (value === "" || /max-age=0(;|$)/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
      if (value.length >= 16) Browser.secrets.add(value);
    }
    return set;
  }

  /** GET .../start: the provider's authorization URL. */
  async start(query = "", provider = "oidc"): Promise<Hop> {
    const hop = await this.get(`${this.target.api}/api/auth/oauth/${provider}/start${query}`);
    expect(hop.status).toBe(302);
    return hop;
  }

  /** The provider's redirect back, opened in this browser: where the server sends it next. */
  async callback(url: URL, extraCookies: Record<string, string> = {}): Promise<Hop> {
    for (const key of ["code", "state"]) {
      const value = url.searchParams.get(key);
      if (value) Browser.secrets.add(value);
    }
    const hop = await this.get(url, extraCookies);
    expect(hop.status).toBe(302);
    return hop;
  }

  /** Start, sign in at the provider as `user`, come back: the last hop. */
  async signInAs(user: IdpUser, query = ""): Promise<Hop> {
    const started = await this.start(query);
    return this.callback(await idp.login(started.location, user.sub));
  }

  /** GET /api/auth/me with the session cookie. */
  me() {
    const access = this.jar.get("aragora_access");
    return call<{
      user: { id: string; email: string };
      organisation: { id: string; name: string };
      roles: string[];
      mfa: { enabled: boolean; session_verified: boolean };
    }>(this.target, "GET", "/api/auth/me", { headers: access ? { cookie: `aragora_access=${access}` } : {} });
  }
}

/** The error code of a redirect to OAUTH_ERROR_URL (and that it went there). */
function errorOf(hop: Hop): string | null {
  expect(`${hop.location.origin}${hop.location.pathname}`).toBe("https://app.example.com/sign-in");
  expect(hop.location.searchParams.get("from")).toBe("oauth");
  return hop.location.searchParams.get("error");
}

/**
 * The audit entries the server recorded, oldest first, as the operator reads them from
 * GET /api/admin/audit (every organisation's chain and the platform's).
 */
async function auditEvents(target: TestServer) {
  const res = await target.fetch("/api/admin/audit?limit=500");
  expect(res.status).toBe(200);
  const page = (await res.json()) as {
    entries: Array<{
      at: string;
      seq: number;
      org_id: string | null;
      action: string;
      outcome: string;
      detail: Record<string, unknown> | null;
      actor: { kind: string; user_id: string | null };
    }>;
  };
  return page.entries
    .map((e) => ({ ...e, orgId: e.org_id, actor: { kind: e.actor.kind, userId: e.actor.user_id } }))
    .sort((a, b) => a.at.localeCompare(b.at) || a.seq - b.seq);
}

describe("signing in", () => {
  test("a verified email with no account: sign-up is open, so an account and organisation are made; the session is a password sign-in's", async () => {
    const browser = new Browser(server);
    const started = await browser.start("?return_to=/debates/42");
    // The state cookie: bound to this browser, sent on the provider's redirect back (Lax), not readable by scripts.
    const stateCookie = started.setCookie.find((c) => c.startsWith("aragora_oauth_state=")) as string;
    expect(stateCookie).toContain(`aragora_oauth_state=${started.location.searchParams.get("state")}`);
    expect(stateCookie).toMatch(/; Path=\/api\/auth\/oauth; Max-Age=600; Secure; HttpOnly; SameSite=Lax$/);
    expect(started.location.searchParams.get("code_challenge_method")).toBe("S256");
    expect(started.location.searchParams.get("nonce")).toBeTruthy();

    const done = await browser.callback(await idp.login(started.location, CAROL.sub));
    expect(done.location.href).toBe(`${server.api}/debates/42`);
    expect(done.cookies.get("aragora_oauth_state")).toBe("");
    // The same three cookies, with the same attributes, as a password sign-in sets.
    const password = await fetch(`${server.api}/api/auth/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: ADA.email, password: PASSWORD }),
    });
    const attributes = (lines: string[]) =>
      lines
        .filter((l) => !l.startsWith("aragora_oauth_state="))
        .map((l) => l.replace(/=[^;]*/, "=<value>"))
        .sort();
    expect(attributes(done.setCookie)).toEqual(attributes(password.headers.getSetCookie()));

    const me = await browser.me();
    expect(me.status).toBe(200);
    expect(me.body.user.email).toBe(CAROL.email);
    expect(me.body.organisation.name).toBe("Carol's organisation");
    expect(me.body.roles).toEqual(["owner"]);

    // Signing in again finds the same account by the provider's identity.
    const again = new Browser(server);
    await again.signInAs(CAROL);
    expect((await again.me()).body.user.id).toBe(me.body.user.id);

    const made = (await auditEvents(server)).find(
      (e) => e.outcome === "success" && (e.actor as { userId: string }).userId === me.body.user.id,
    );
    expect(made).toMatchObject({
      action: "auth.signed_in",
      orgId: me.body.organisation.id,
      detail: { method: "oauth", provider: "oidc", account: "created" },
    });
  });

  test("an existing account whose email the provider verified is linked, and signed in to", async () => {
    const password = await signIn(server, ADA.email);
    const browser = new Browser(server);
    const done = await browser.signInAs(ADA);
    expect(done.location.href).toBe(`${server.api}${SUCCESS_URL}`);
    const me = await browser.me();
    expect(me.body.user.id).toBe(password.user.id);
    expect(me.body.organisation.id).toBe(password.organisation.id);
    expect(me.body.roles).toEqual(["owner"]);
    expect((await auditEvents(server)).at(-1)).toMatchObject({
      action: "auth.signed_in",
      outcome: "success",
      detail: { method: "oauth", provider: "oidc", account: "linked" },
    });
  });

  test("an account linked to one identity is not linked to a second one of the same provider by email", async () => {
    await new Browser(server).signInAs(ADA);
    const browser = new Browser(server);
    const done = await browser.signInAs(ADA_TWIN);
    expect(errorOf(done)).toBe("account_linked_elsewhere");
    expect((await browser.me()).status).toBe(401);
    // Ada herself still signs in.
    const ada = new Browser(server);
    await ada.signInAs(ADA);
    expect((await ada.me()).body.user.email).toBe(ADA.email);
  });

  test("an email the provider has not verified is not linked to the account that has it", async () => {
    const browser = new Browser(server);
    const done = await browser.signInAs(BOB);
    expect(errorOf(done)).toBe("email_not_verified");
    expect(done.cookies.has("aragora_access")).toBe(false);
    expect((await browser.me()).status).toBe(401);
    expect((await auditEvents(server)).at(-1)).toMatchObject({
      action: "auth.signed_in",
      outcome: "failure",
      actor: { kind: "anonymous", userId: null },
      detail: { method: "oauth", provider: "oidc", reason: "email_not_verified", email: BOB.email },
    });
  });

  test("with sign-up closed, a verified email without an account is refused", async () => {
    const browser = new Browser(closed);
    const done = await browser.signInAs(CAROL);
    expect(errorOf(done)).toBe("signup_closed");
    expect((await browser.me()).status).toBe(401);
  });

  test("the user cancelling at the provider (error=access_denied) ends at OAUTH_ERROR_URL", async () => {
    const browser = new Browser(server);
    const started = await browser.start();
    const denied = await idp.deny(started.location);
    expect(denied.searchParams.get("error")).toBe("access_denied");
    const done = await browser.callback(denied);
    expect(errorOf(done)).toBe("access_denied");
    expect(done.location.searchParams.has("error_description")).toBe(false);
  });

  test("two first sign-ins of one person at once make one account", async () => {
    await twoFirstSignIns(server, EVE);
  });

  test("a deleted account is not signed in to through its identity", async () => {
    await new Browser(server).signInAs(CAROL);
    const deleted = await usersCli(server, ["delete", "--email", CAROL.email]);
    expect(deleted.code).toBe(0);
    const browser = new Browser(server);
    expect(errorOf(await browser.signInAs(CAROL))).toBe("account_disabled");
    expect((await browser.me()).status).toBe(401);
  });

  test("an unknown provider is a 404 naming the configured ones", async () => {
    const res = await call(server, "GET", "/api/auth/oauth/github/start");
    expect(res.status).toBe(404);
    expect(res.body.message).toContain("google, oidc");
  });
});

describe("the state", () => {
  test("a callback whose state is not the one this browser started is refused before the code is spent", async () => {
    const browser = new Browser(server);
    const started = await browser.start();
    const back = await idp.login(started.location, DAN.sub);
    const tokenCalls = idp.hits("/token");
    const forged = new URL(back);
    forged.searchParams.set("state", "a-state-this-server-never-issued-0123456789");
    expect(errorOf(await browser.callback(forged))).toBe("invalid_state");
    expect(idp.hits("/token")).toBe(tokenCalls);
    expect((await browser.me()).status).toBe(401);
  });

  test("a callback from a sign-in started in another browser is refused (login CSRF)", async () => {
    // The attacker starts a sign-in as themselves and sends the provider's redirect to the victim.
    const attacker = new Browser(server);
    const started = await attacker.start();
    const link = await idp.login(started.location, DAN.sub);
    const victim = new Browser(server);
    const tokenCalls = idp.hits("/token");
    const done = await victim.callback(link);
    expect(errorOf(done)).toBe("invalid_state");
    expect(done.cookies.has("aragora_access")).toBe(false);
    expect(idp.hits("/token")).toBe(tokenCalls);
    // A victim with a sign-in of its own under way fares no better.
    const busy = new Browser(server);
    await busy.start();
    const link2 = await idp.login((await attacker.start()).location, DAN.sub);
    expect(errorOf(await busy.callback(link2))).toBe("invalid_state");
  });

  test("a state is used once: the same callback replayed (cookie included) is refused without reaching the provider", async () => {
    const browser = new Browser(server);
    const started = await browser.start();
    const state = started.location.searchParams.get("state") as string;
    const back = await idp.login(started.location, DAN.sub);
    const first = await browser.callback(back);
    expect(first.location.href).toBe(`${server.api}${SUCCESS_URL}`);
    const tokenCalls = idp.hits("/token");
    const replay = await new Browser(server).callback(back, { aragora_oauth_state: state });
    expect(errorOf(replay)).toBe("invalid_state");
    expect(idp.hits("/token")).toBe(tokenCalls);
  });

  test("a sign-in not completed within ARAGORA_OAUTH_STATE_TTL_S is refused", async () => {
    const late = new Browser(closed);
    const started = await late.start();
    await Bun.sleep(1_100);
    expect(errorOf(await late.callback(await idp.login(started.location, DAN.sub)))).toBe("invalid_state");
    // The same sign-in in time goes through: it was the delay that was refused.
    const prompt = new Browser(closed);
    expect((await prompt.signInAs(DAN)).location.href).toBe(`${closed.api}${SUCCESS_URL}`);
    expect((await prompt.me()).body.user.email).toBe(DAN.email);
  });
});

describe("the code and the ID token", () => {
  test("a code injected into another sign-in: the provider refuses it for that sign-in's PKCE verifier", async () => {
    // The attacker's browser has a sign-in of its own under way; a code stolen from the victim's
    // sign-in is pasted into its callback, with its own state and cookie.
    const victim = new Browser(server);
    const stolen = (await idp.login((await victim.start()).location, DAN.sub)).searchParams.get("code") as string;
    const attacker = new Browser(server);
    const own = await idp.login((await attacker.start()).location, DAN.sub);
    own.searchParams.set("code", stolen);
    const tokenCalls = idp.hits("/token");
    const done = await attacker.callback(own);
    expect(errorOf(done)).toBe("invalid_grant");
    expect(idp.hits("/token")).toBe(tokenCalls + 1);
    expect((await attacker.me()).status).toBe(401);
  });

  test("an ID token carrying another nonce is refused", async () => {
    const browser = new Browser(server);
    const started = await browser.start();
    // The authorization request is altered on its way to the provider.
    started.location.searchParams.set("nonce", "a-nonce-of-another-sign-in-0123456789");
    const done = await browser.callback(await idp.login(started.location, DAN.sub));
    expect(errorOf(done)).toBe("invalid_id_token");
    expect((await browser.me()).status).toBe(401);
  });

  test("a genuine ID token issued to another client (audience), with this sign-in's nonce, is refused", async () => {
    const browser = new Browser(server);
    const started = await browser.start();
    const nonce = started.location.searchParams.get("nonce") as string;

    // The other application signs the same person in, with the nonce copied from ours.
    let foreign = "";
    const other = createOidcClient({
      issuer: idp.issuer,
      clientId: OTHER.clientId,
      clientSecret: OTHER.clientSecret,
      redirectUri: OTHER.redirectUris[0] as string,
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        if (new URL(url).pathname !== "/token") return res;
        const body = (await res.json()) as { id_token: string };
        foreign = body.id_token;
        return Response.json(body, { status: res.status, headers: res.headers });
      },
    });
    const otherStarted = await other.begin("/");
    otherStarted.url.searchParams.set("nonce", nonce);
    await other.complete(await idp.login(otherStarted.url, DAN.sub), { ...otherStarted, nonce });
    expect(foreign).not.toBe("");
    Browser.secrets.add(foreign);

    idp.tamperTokens((body) => ({ ...body, id_token: foreign }));
    try {
      const done = await browser.callback(await idp.login(started.location, DAN.sub));
      expect(errorOf(done)).toBe("invalid_id_token");
    } finally {
      idp.tamperTokens(undefined);
    }
    expect((await browser.me()).status).toBe(401);
  });

  test("an ID token whose claims are right but whose signature is not the provider's is refused", async () => {
    const forger = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    idp.tamperTokens((body) => {
      const [header, payload] = String(body.id_token).split(".");
      const signature = sign("sha256", Buffer.from(`${header}.${payload}`), forger).toString("base64url");
      Browser.secrets.add(String(body.id_token));
      return { ...body, id_token: `${header}.${payload}.${signature}` };
    });
    const browser = new Browser(server);
    try {
      expect(errorOf(await browser.signInAs(DAN))).toBe("invalid_id_token");
    } finally {
      idp.tamperTokens(undefined);
    }
    expect((await browser.me()).status).toBe(401);
  });
});

describe("an account with MFA on", () => {
  const SESSION_COOKIES = ["aragora_access", "aragora_refresh", "aragora_csrf"];
  let fay: { id: string } & Enrolled;

  beforeAll(async () => {
    const made = await usersCli(server, ["create", "--email", FAY.email, "--role", "member"], `${PASSWORD}\n`);
    expect(made.code).toBe(0);
    const session = await signIn(server, FAY.email);
    fay = { id: session.user.id, ...(await enrolMfa(server, session)) };
  });

  /** Fay signs in at the provider: the callback's hop, checked to be the pending second factor's. */
  async function pendingSignIn(browser: Browser, query = "") {
    const hop = await browser.signInAs(FAY, query);
    for (const name of SESSION_COOKIES) expect(hop.cookies.has(name)).toBe(false);
    const line = hop.setCookie.find((c) => c.startsWith("aragora_mfa_challenge=")) as string;
    expect(line).toMatch(
      /^aragora_mfa_challenge=ara_mfa_[^;]+; Path=\/api\/auth\/mfa; Max-Age=300; Secure; SameSite=Strict; HttpOnly$/,
    );
    const challenge = hop.cookies.get("aragora_mfa_challenge") as string;
    seenSecrets.add(challenge);
    // The challenge is never in a URL.
    expect(hop.location.href).not.toContain(challenge);
    expect(hop.location.href).not.toContain("ara_mfa_");
    return { hop, challenge };
  }

  test("the provider alone gives no session: the browser lands on return_to with mfa=required and the challenge cookie; a code finishes it", async () => {
    const browser = new Browser(server);
    const { hop, challenge } = await pendingSignIn(browser, `?return_to=${encodeURIComponent("/debates/7?tab=votes")}`);
    expect(hop.location.href).toBe(`${server.api}/debates/7?tab=votes&mfa=required`);
    expect(hop.cookies.get("aragora_oauth_state")).toBe("");
    expect((await browser.me()).status).toBe(401);
    // Neither is the challenge a credential of its own.
    expect((await call(server, "GET", "/api/auth/me", { token: challenge })).status).toBe(401);

    const trail = (await auditEvents(server)).filter((e) => e.actor.userId === fay.id);
    expect(trail.at(-1)).toMatchObject({
      action: "auth.mfa_challenged",
      outcome: "success",
      detail: { method: "oauth", provider: "oidc", account: "linked", mfa: "pending" },
    });
    // Not signed in yet: no OAuth auth.signed_in success (her password sign-in before enrolling is one).
    const signedIn = trail.filter((e) => e.action === "auth.signed_in" && e.outcome === "success");
    expect(signedIn.map((e) => e.detail?.method ?? "password")).toEqual(["password"]);

    // A wrong code is refused, and signs nobody in; the challenge waits for the right one.
    const wrong = await browser.post("/api/auth/mfa/verify", { code: wrongCode(fay.secret) });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toBe("invalid_mfa_code");
    for (const name of SESSION_COOKIES) expect(wrong.cookies.has(name)).toBe(false);
    expect((await browser.me()).status).toBe(401);

    // The right code, the challenge from the cookie: signed in as a cookie sign-in is.
    const done = await browser.post("/api/auth/mfa/verify", { code: totpCode(fay.secret, 1) });
    expect(done.status).toBe(200);
    for (const name of SESSION_COOKIES) expect(done.cookies.get(name)).toBeTruthy();
    const cleared = done.setCookie.find((c) => c.startsWith("aragora_mfa_challenge=")) as string;
    expect(cleared).toMatch(/^aragora_mfa_challenge=; Path=\/api\/auth\/mfa; Max-Age=0;/);
    expect(browser.jar.has("aragora_mfa_challenge")).toBe(false);
    // The JSON answer is there too, the same session.
    expect(done.body.access_token).toBe(done.cookies.get("aragora_access"));
    expect(claimsOf(done.body.access_token as string).amr).toContain("otp");
    const me = await browser.me();
    expect(me.status).toBe(200);
    expect(me.body.user.id).toBe(fay.id);
    expect(me.body.mfa).toEqual({ enabled: true, session_verified: true });
    const verified = (await auditEvents(server)).filter((e) => e.actor.userId === fay.id).at(-1);
    expect(verified).toMatchObject({ action: "mfa.verified", outcome: "success", detail: { method: "totp" } });

    // The cookie worked once: sent again (even with a good recovery code), the challenge is gone.
    const again = await new Browser(server).post(
      "/api/auth/mfa/verify",
      { recovery_code: fay.recoveryCodes[0] },
      { aragora_mfa_challenge: challenge },
    );
    expect(again.status).toBe(401);
    expect(again.body.error).toBe("invalid_mfa_challenge");
    expect(again.body.details).toEqual([
      { field: "cookies.aragora_mfa_challenge", rule: expect.stringContaining("OAuth sign-in") },
    ]);
    for (const name of SESSION_COOKIES) expect(again.cookies.has(name)).toBe(false);
  });

  test("the body's challenge_token wins over the cookie; without either, 422 names the field", async () => {
    const browser = new Browser(server);
    const { challenge } = await pendingSignIn(browser);
    const junk = await browser.post("/api/auth/mfa/verify", {
      challenge_token: "ara_mfa_not-this-one",
      recovery_code: fay.recoveryCodes[1],
    });
    expect(junk.status).toBe(401);
    expect(junk.body.error).toBe("invalid_mfa_challenge");
    expect(junk.body.details).toEqual([{ field: "body.challenge_token", rule: expect.any(String) }]);

    const neither = await new Browser(server).post("/api/auth/mfa/verify", { code: "123456" });
    expect(neither.status).toBe(422);
    expect(neither.body.details).toEqual([{ field: "body.challenge_token", rule: expect.any(String) }]);
    const both = await browser.post("/api/auth/mfa/verify", { code: "123456", recovery_code: "AAAA-BBBB-CCCC-DDDD" });
    expect(both.status).toBe(422);

    // The cookie's challenge was untouched by all that: a recovery code finishes it.
    const done = await browser.post("/api/auth/mfa/verify", { recovery_code: fay.recoveryCodes[1] });
    expect(done.status).toBe(200);
    expect((await browser.me()).body.user.id).toBe(fay.id);
    expect(challenge).toStartWith("ara_mfa_");
  });
});

describe("where the browser is sent back (no open redirect)", () => {
  test("return_to on an allowed host is kept", async () => {
    const done = await new Browser(server).signInAs(
      DAN,
      `?return_to=${encodeURIComponent("https://app.example.com/after?x=1")}`,
    );
    expect(done.location.href).toBe("https://app.example.com/after?x=1");
  });

  test.each([
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example",
    "https://app.example.com@evil.example/",
    "https://app.example.com.evil.example/",
    "javascript:alert(1)",
  ])("return_to %p lands on OAUTH_SUCCESS_URL instead", async (target) => {
    const done = await new Browser(server).signInAs(DAN, `?return_to=${encodeURIComponent(target)}`);
    expect(done.location.href).toBe(`${server.api}${SUCCESS_URL}`);
  });
});

describe("Google", () => {
  test("GOOGLE_OAUTH_* configure the google provider: start redirects to Google with the client, callback and S256", async () => {
    const browser = new Browser(server);
    const started = await browser.start("", "google");
    const url = started.location;
    expect(`${url.origin}${url.pathname}`).toBe("https://accounts.google.com/o/oauth2/v2/auth");
    const q = url.searchParams;
    expect(q.get("client_id")).toBe(GOOGLE_CLIENT_ID);
    expect(q.get("redirect_uri")).toBe("https://aragora.example.com/api/auth/oauth/google/callback");
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe("openid email profile");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(q.get("nonce")).toBeTruthy();
    expect(browser.jar.get("aragora_oauth_state")).toBe(q.get("state") as string);
    expect(url.href).not.toContain(GOOGLE_SECRET);
  });

  test("a Google state does not complete an oidc sign-in", async () => {
    const browser = new Browser(server);
    const google = await browser.start("", "google");
    const state = google.location.searchParams.get("state") as string;
    const fake = new URL(`${server.api}/api/auth/oauth/oidc/callback?code=x&state=${state}`);
    expect(errorOf(await browser.callback(fake))).toBe("invalid_state");
  });
});

describe.skipIf(!(await postgresAvailable()))("on PostgreSQL", () => {
  let db: TempDatabase;
  let pgServer: TestServer;
  /** A second node on the same database, with the same redirect URI (as behind one balancer). */
  let pgTwin: TestServer;

  beforeAll(async () => {
    db = await createTempPostgresDatabase();
    pgServer = await startAccessServer({
      timeoutMs: 60_000,
      args: ["--api-port", String(pgPort)],
      env: { ...oauthEnv(pgPort), DATABASE_URL: db.url, ARAGORA_SIGNUP: "open" },
    });
    pgTwin = await startAccessServer({
      timeoutMs: 60_000,
      env: { ...oauthEnv(pgPort), DATABASE_URL: db.url, ARAGORA_SIGNUP: "open" },
    });
    await claimOwner(pgServer, ADA.email);
  }, 90_000);
  afterAll(async () => {
    for (const node of [pgServer, pgTwin]) {
      if (!node) continue;
      expect(noSecretsLogged(node, [CLIENT_SECRET, ...Browser.secrets])).toEqual([]);
      expect(await node.stop()).toBe(0);
    }
    await db?.drop();
  });

  test("a sign-in started on one node finishes on another (the balancer sent the callback there), once", async () => {
    const owner = await signIn(pgServer, ADA.email);
    const browser = new Browser(pgServer);
    const started = await browser.start();
    const link = await idp.login(started.location, ADA.sub);
    // The provider sends the browser to the public callback URL; the balancer picks the other node.
    const onTwin = new URL(link);
    onTwin.host = new URL(pgTwin.api).host;
    const hop = await browser.callback(onTwin);
    expect(hop.location.href).toBe(`${pgServer.api}${SUCCESS_URL}`);
    expect((await browser.me()).body.user.id).toBe(owner.user.id);
    // The state was used up for every node.
    const again = new URL(link);
    expect(errorOf(await browser.callback(again))).toBe("invalid_state");
  });

  test("a verified email links the existing account; a new person gets an account, found again next time", async () => {
    const owner = await signIn(pgServer, ADA.email);
    const ada = new Browser(pgServer);
    await ada.signInAs(ADA);
    expect((await ada.me()).body.user.id).toBe(owner.user.id);

    const carol = new Browser(pgServer);
    await carol.signInAs(CAROL);
    const first = await carol.me();
    expect(first.body.organisation.name).toBe("Carol's organisation");
    const again = new Browser(pgServer);
    await again.signInAs(CAROL);
    expect((await again.me()).body.user.id).toBe(first.body.user.id);
  });

  test("an unverified email is refused", async () => {
    expect(errorOf(await new Browser(pgServer).signInAs(BOB))).toBe("email_not_verified");
  });

  test("two first sign-ins of one person at once make one account", async () => {
    await twoFirstSignIns(pgServer, EVE);
  });
});

/**
 * Two browsers of `user` come back from the provider at the same moment, before either has an
 * account: both are signed in, to one account (the loser of the race signs in to the winner's).
 */
async function twoFirstSignIns(target: TestServer, user: IdpUser): Promise<void> {
  const browsers = [new Browser(target), new Browser(target)];
  const links = await Promise.all(browsers.map(async (b) => idp.login((await b.start()).location, user.sub)));
  const hops = await Promise.all(browsers.map((b, i) => b.callback(links[i] as URL)));
  for (const hop of hops) expect(hop.location.href).toBe(`${target.api}${SUCCESS_URL}`);
  const ids = await Promise.all(browsers.map(async (b) => (await b.me()).body.user.id));
  expect(ids[0]).toBe(ids[1] as string);
}

/** A port free now (bound, then released), for a server that must know it before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
