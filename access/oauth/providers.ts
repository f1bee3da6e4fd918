/**
 * The sign-in providers the configuration names, by the name their routes use: `google` (Google,
 * GOOGLE_OAUTH_*) and `oidc` (any OpenID Connect provider by issuer URL, OIDC_OAUTH_*). A provider
 * is configured only when all of its variables are set (runtime/config.ts refuses a partial set).
 *
 * @example
 * const providers = configuredProviders(config);
 * providers.get("google")?.begin("/"); // undefined when Google is not configured
 */
import type { Config } from "../../runtime/config.ts";
import { createOidcClient, type OidcClient } from "./oidc-client.ts";

/** The variables the providers are made from. */
export type ProvidersConfig = Pick<
  Config,
  | "googleOauthClientId"
  | "googleOauthClientSecret"
  | "googleOauthRedirectUri"
  | "oidcOauthIssuer"
  | "oidcOauthClientId"
  | "oidcOauthClientSecret"
  | "oidcOauthRedirectUri"
>;

/**
 * The configured providers' clients by route name; empty when none is configured. Makes no
 * request: each client discovers its provider when a sign-in first needs it.
 *
 * @example
 * for (const [name, client] of configuredProviders(config)) log.info({ provider: name, issuer: client.issuer });
 */
export function configuredProviders(config: ProvidersConfig): Map<string, OidcClient> {
  const providers = new Map<string, OidcClient>();
  if (config.googleOauthClientId && config.googleOauthClientSecret && config.googleOauthRedirectUri) {
    providers.set(
      "google",
      createOidcClient({
        googleDefaults: true,
        clientId: config.googleOauthClientId,
        clientSecret: config.googleOauthClientSecret,
        redirectUri: config.googleOauthRedirectUri,
      }),
    );
  }
  if (
    config.oidcOauthIssuer &&
    config.oidcOauthClientId &&
    config.oidcOauthClientSecret &&
    config.oidcOauthRedirectUri
  ) {
    providers.set(
      "oidc",
      createOidcClient({
        issuer: config.oidcOauthIssuer,
        clientId: config.oidcOauthClientId,
        clientSecret: config.oidcOauthClientSecret,
        redirectUri: config.oidcOauthRedirectUri,
      }),
    );
  }
  return providers;
}
