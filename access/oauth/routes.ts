/**
 * /api/auth/oauth: signing in through an OpenID Connect provider (Google, or any provider by issuer
 * URL), the browser's way in. Both routes are public (signing in cannot need a sign-in) and answer
 * with redirects, never a page:
 *
 * - `GET /:provider/start?return_to=/debates/42` remembers a fresh state, nonce and PKCE verifier
 *   (pending-store.ts, single use, ARAGORA_OAUTH_STATE_TTL_S), binds them to this browser with the
 *   `aragora_oauth_state` cookie, and redirects to the provider. `return_to` is kept only if it is
 *   a path here or a URL on OAUTH_ALLOWED_REDIRECT_HOSTS (redirect-guard.ts), else
 *   OAUTH_SUCCESS_URL takes its place: the route is no open redirect.
 * - `GET /:provider/callback` takes the state once (it must match the browser's cookie), exchanges
 *   the code with the verifier, checks the ID token (signature against the provider's keys, issuer,
 *   audience, nonce, expiry: oidc-client.ts), finds or links or makes the account (accounts.ts),
 *   starts the same session a password sign-in does (cookies.ts) and redirects to the `return_to`
 *   kept at the start. Any failure redirects to OAUTH_ERROR_URL with `?error=<code>` and nothing
 *   else: the provider's own words go to the log, not into a URL.
 * - An account with MFA on is not signed in by the provider alone: the callback sets no session
 *   cookie but the sign-in challenge's (`aragora_mfa_challenge`: HttpOnly, SameSite=Strict, sent
 *   only to /api/auth/mfa, as long as the challenge lives), and redirects to the `return_to` with
 *   `mfa=required` added, so the page asks for the code and finishes with
 *   `POST /api/auth/mfa/verify {code}`. The challenge token itself never goes into a URL.
 *
 * The provider's access and refresh tokens are used for the userinfo call at most and never stored.
 * Every outcome is recorded in the audit log (`auth.signed_in`, method `oauth`); a sign-in whose
 * second factor is pending is `auth.mfa_challenged` (method `oauth`, `mfa: "pending"`), and it is
 * signed in when `mfa.verified` is recorded, as a password sign-in with MFA is.
 *
 * @example
 * app.use(oauthRoutes({ providers, pending, identities, accounts, sessions, secondFactor, audit, config, log }));
 * // browser: GET /api/auth/oauth/google/start?return_to=/debates -> 302 accounts.google.com ...
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import type { AuditEvent, AuditRecorder } from "../../runtime/audit.ts";
import type { Config } from "../../runtime/config.ts";
import { requestOrigin } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl } from "../../runtime/http/permission.ts";
import { stateOf } from "../../runtime/http/request-state.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { AccessStore } from "../access-store.ts";
import { mfaChallengeCookie, readCookie, sessionCookies } from "../cookies.ts";
import type { SecondFactor } from "../mfa.ts";
import type { Sessions } from "../sessions.ts";
import { type AccountRefusal, accountFor, SignInRefused } from "./accounts.ts";
import type { IdentityStore } from "./identity-store.ts";
import { type OidcClient, OidcFailure } from "./oidc-client.ts";
import type { PendingStore } from "./pending-store.ts";
import { safeReturnTo } from "./redirect-guard.ts";

/** The cookie that binds a started sign-in to the browser that started it (its value is the state). */
export const STATE_COOKIE = "aragora_oauth_state";
const STATE_COOKIE_PATH = "/api/auth/oauth";

/** The `error` a failed sign-in sends the browser to OAUTH_ERROR_URL with. */
export type OAuthErrorCode =
  /** The state is missing, unknown, used, expired, or was started in another browser. */
  | "invalid_state"
  /** The user cancelled at the provider. */
  | "access_denied"
  /** The provider reported another error (the client is misconfigured, the provider refused, ...). */
  | "provider_error"
  /** The provider refused the code: used already, expired, or not issued for this sign-in's PKCE verifier. */
  | "invalid_grant"
  /** The ID token failed a check: signature, issuer, audience, nonce or expiry. */
  | "invalid_id_token"
  /** The provider answered outside the protocol. */
  | "invalid_response"
  /** The provider could not be reached in time. */
  | "provider_unreachable"
  /** The account has no organisation to act in. */
  | "no_organisation"
  | AccountRefusal;

/** The provider errors passed on as themselves; the rest are `provider_error`. */
const FAILURE_CODES: Record<OidcFailure["reason"], OAuthErrorCode> = {
  state_mismatch: "invalid_state",
  invalid_grant: "invalid_grant",
  idp_error: "provider_error",
  id_token_invalid: "invalid_id_token",
  invalid_response: "invalid_response",
  unreachable: "provider_unreachable",
};

export interface OAuthRoutesDeps {
  /** The configured providers' clients, by the name in the routes. */
  providers: ReadonlyMap<string, OidcClient>;
  pending: PendingStore;
  identities: IdentityStore;
  accounts: AccessStore;
  sessions: Sessions;
  /** The second factor: an account with MFA on gets its challenge, not a session. */
  secondFactor: Pick<SecondFactor, "challengeFor">;
  audit: AuditRecorder;
  config: Pick<
    Config,
    "signup" | "oauthSuccessUrl" | "oauthErrorUrl" | "oauthAllowedRedirectHosts" | "oauthStateTtlSeconds"
  >;
  log: Logger;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

const TAGS = ["auth"];
type SetContext = { status?: unknown; headers: Record<string, unknown> };

const ProviderParams = lazy(() => type({ provider: "/^[a-z][a-z0-9_-]{0,31}$/" }));
const StartQuery = lazy(() => type({ "return_to?": "string <= 4096" }));
/** What a provider sends back; providers add their own parameters (Google: scope, authuser, ...), which are ignored. */
const CallbackQuery = lazy(() =>
  type({
    "state?": "string <= 1024",
    "code?": "string <= 4096",
    "iss?": "string <= 2048",
    "error?": "string <= 256",
    "error_description?": "string <= 4096",
  }),
);

/** What a sign-in page needs to offer the configured providers. */
const ProvidersResponse = lazy(() =>
  type({
    providers: type({
      name: type("string").describe("the route name: google or oidc"),
      label: type("string").describe("what a sign-in button says"),
      start_url: type("string").describe("GET it (a page load) to sign in; add ?return_to=<path> to come back there"),
    }).array(),
  }).describe("the sign-in providers this server is configured with (none: an empty list)"),
);

/** What a button says for each provider route name. */
const PROVIDER_LABELS: Record<string, string> = { google: "Google", oidc: "single sign-on (OpenID Connect)" };

/** The 302s' (empty) bodies: what they document is where the Location header points. */
const StartRedirect = lazy(() =>
  type("''").describe(
    "a redirect (Location) to the provider's sign-in page, or to OAUTH_ERROR_URL?error=<code> when its metadata cannot be had",
  ),
);
const CallbackRedirect = lazy(() =>
  type("''").describe(
    "a redirect (Location): signed in (session cookies set), to the start's return_to or OAUTH_SUCCESS_URL; the account has MFA (no session yet: the aragora_mfa_challenge cookie for POST /api/auth/mfa/verify), to the same with mfa=required added; refused, to OAUTH_ERROR_URL?error=<code>",
  ),
);

const stateCookie = (state: string, maxAge: number) =>
  // Lax, not Strict: the callback is a top-level navigation from the provider's site, on which a
  // Strict cookie would not be sent.
  `${STATE_COOKIE}=${state}; Path=${STATE_COOKIE_PATH}; Max-Age=${maxAge}; Secure; HttpOnly; SameSite=Lax`;

/** `target` (a path or an absolute URL) with `name=value` added to its query. */
function withParam(target: string, name: string, value: string): string {
  const relative = target.startsWith("/");
  const url = new URL(target, "https://relative-target.invalid");
  url.searchParams.set(name, value);
  return relative ? `${url.pathname}${url.search}${url.hash}` : url.href;
}

/** `target` with `?error=<code>` added to its query. */
const withError = (target: string, code: OAuthErrorCode): string => withParam(target, "error", code);

/**
 * The /api/auth/oauth routes.
 *
 * @example app.use(oauthRoutes(deps));
 */
export function oauthRoutes(deps: OAuthRoutesDeps) {
  const { providers, pending, identities, accounts, sessions, secondFactor, audit, config, log } = deps;
  const clock = deps.clock ?? Date.now;
  const returnPolicy = { allowedHosts: config.oauthAllowedRedirectHosts, fallback: config.oauthSuccessUrl };

  const clientOf = (name: string): OidcClient => {
    const client = providers.get(name);
    if (client !== undefined) return client;
    const configured = [...providers.keys()];
    throw new HttpError(
      404,
      "not_found",
      `no sign-in provider "${name}": ${configured.length > 0 ? `configured are ${configured.join(", ")}` : "none is configured (GOOGLE_OAUTH_*, OIDC_OAUTH_*)"}`,
    );
  };

  const redirect = (set: SetContext, location: string, cookies: string[]) => {
    set.status = 302;
    set.headers.location = location;
    set.headers["set-cookie"] = cookies;
    // A redirect carrying a session must not be kept by a cache on the way.
    set.headers["cache-control"] = "no-store";
    return "";
  };

  /** Sends the browser to OAUTH_ERROR_URL with `code`, after logging and recording why. */
  const refuse = async (
    failure: { provider: string; code: OAuthErrorCode; why: string; userId?: string | null; email?: string | null },
    context: { set: SetContext; request: Request; cookies: string[] },
  ) => {
    const { provider, code, why } = failure;
    metrics.authEvents.inc({ event: "oauth_sign_in_failed" });
    (stateOf(context.request)?.log ?? log).info(
      { provider, error: code, why, user_id: failure.userId ?? undefined },
      "OAuth sign-in refused",
    );
    const event: AuditEvent = {
      action: "auth.signed_in",
      outcome: "failure",
      actor: { kind: failure.userId ? "user" : "anonymous", userId: failure.userId ?? null },
      orgId: null,
      ...requestOrigin(context.request),
      detail: { method: "oauth", provider, reason: code, ...(failure.email ? { email: failure.email } : {}) },
    };
    await audit.record(event);
    return redirect(context.set, withError(config.oauthErrorUrl, code), context.cookies);
  };

  const offered = {
    providers: [...providers.keys()].map((name) => ({
      name,
      label: PROVIDER_LABELS[name] ?? name,
      start_url: `/api/auth/oauth/${name}/start`,
    })),
  };

  return new Elysia({ name: "aragora-auth-oauth", prefix: "/api/auth/oauth" })
    .use(accessControl)
    .get("/providers", () => offered, {
      permission: "public",
      detail: {
        summary:
          "The sign-in providers this server offers (for a sign-in page's buttons); empty when none is configured",
        tags: TAGS,
      },
      response: responses({ 200: ProvidersResponse }),
    })
    .get(
      "/:provider/start",
      async ({ params, query, set, request }) => {
        const client = clientOf(params.provider);
        const returnTo = safeReturnTo(query.return_to, returnPolicy);
        try {
          const started = await client.begin(returnTo);
          await pending.put(params.provider, started);
          return redirect(set, started.url.href, [stateCookie(started.state, config.oauthStateTtlSeconds)]);
        } catch (err) {
          if (!(err instanceof OidcFailure)) throw err;
          const context = { set, request, cookies: [] };
          return refuse({ provider: params.provider, code: FAILURE_CODES[err.reason], why: err.detail }, context);
        }
      },
      {
        permission: "public",
        params: validated(ProviderParams, "params"),
        query: validated(StartQuery, "query"),
        detail: {
          summary:
            "Start signing in with a provider (google, oidc): redirects to it; return_to (a path here, or a URL on an allowed host) is where the browser lands after",
          tags: TAGS,
        },
        response: responses({ 302: StartRedirect, 404: ErrorBody, 422: ErrorBody }),
      },
    )
    .get(
      "/:provider/callback",
      async ({ params, set, request }) => {
        const provider = params.provider;
        const client = clientOf(provider);
        const url = new URL(request.url);
        // Whatever happens, the browser's state cookie has done its one job.
        const cookies = [stateCookie("", 0)];
        const context = { set, request, cookies };

        const flow = await pending.take(
          provider,
          url.searchParams.get("state"),
          readCookie(request.headers.get("cookie"), STATE_COOKIE),
        );
        if (flow === undefined) {
          const why = "state missing, unknown, used, expired, or started in another browser";
          return refuse({ provider, code: "invalid_state", why }, context);
        }

        let identity: Awaited<ReturnType<OidcClient["complete"]>>;
        try {
          identity = await client.complete(url, flow);
        } catch (err) {
          if (!(err instanceof OidcFailure)) throw err;
          const cancelled = err.reason === "idp_error" && url.searchParams.get("error") === "access_denied";
          const code = cancelled ? "access_denied" : FAILURE_CODES[err.reason];
          return refuse({ provider, code, why: err.detail }, context);
        }

        const now = new Date(clock());
        let outcome: Awaited<ReturnType<typeof accountFor>>;
        try {
          outcome = await accountFor(identity, provider, { identities, accounts, signup: config.signup, now });
        } catch (err) {
          if (!(err instanceof SignInRefused)) throw err;
          const failure = { provider, code: err.code, why: err.message, userId: err.userId, email: identity.email };
          return refuse(failure, context);
        }
        const { user, how } = outcome;
        const [membership] = (await accounts.userState(user.id, now, 0)).memberships;
        if (membership === undefined) {
          const failure = { provider, code: "no_organisation" as const, why: "the account belongs to no organisation" };
          return refuse({ ...failure, userId: user.id, email: identity.email }, context);
        }

        metrics.authEvents.inc({ event: "oauth_sign_in" });
        if (how === "created") metrics.authEvents.inc({ event: "oauth_sign_up" });
        if (how === "linked") metrics.authEvents.inc({ event: "oauth_linked" });
        // The provider is one factor: an account with MFA on still owes its code, as after a password.
        const challenge = await secondFactor.challengeFor(user, membership);
        (stateOf(request)?.log ?? log).info(
          {
            provider,
            user_id: user.id,
            org_id: membership.orgId,
            account: how,
            ...(challenge ? { mfa: "pending" } : {}),
          },
          how === "created" ? "OAuth sign-in: account and organisation made" : "OAuth sign-in",
        );
        if (challenge !== undefined) {
          await audit.record({
            action: "auth.mfa_challenged",
            outcome: "success",
            actor: { kind: "user", userId: user.id },
            orgId: membership.orgId,
            target: { type: "user", id: user.id },
            ...requestOrigin(request),
            detail: { method: "oauth", provider, account: how, mfa: "pending" },
          });
          // No session: the challenge goes in a cookie only /api/auth/mfa reads, never in the URL.
          cookies.push(mfaChallengeCookie(challenge.challenge_token, challenge.expires_in));
          return redirect(set, withParam(flow.returnTo, "mfa", "required"), cookies);
        }
        const session = await sessions.start(user, membership);
        await audit.record({
          action: "auth.signed_in",
          outcome: "success",
          actor: { kind: "user", userId: user.id },
          orgId: membership.orgId,
          target: { type: "user", id: user.id },
          ...requestOrigin(request),
          detail: { method: "oauth", provider, account: how },
        });
        cookies.push(
          ...sessionCookies({
            access: session.accessToken,
            accessMaxAge: session.expiresIn,
            refresh: session.refreshToken,
            refreshMaxAge: session.refreshExpiresIn,
            csrf: session.csrfToken,
          }),
        );
        return redirect(set, flow.returnTo, cookies);
      },
      {
        permission: "public",
        params: validated(ProviderParams, "params"),
        query: validated(CallbackQuery, "query"),
        detail: {
          summary:
            "Where the provider sends the browser back: checks the state (and this browser's cookie), the code and the ID token, signs in (session cookies) and redirects; an account with MFA gets the aragora_mfa_challenge cookie instead and lands with mfa=required",
          tags: TAGS,
        },
        response: responses({ 302: CallbackRedirect, 404: ErrorBody, 422: ErrorBody }),
      },
    );
}
