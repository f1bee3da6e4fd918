/**
 * OAuth / OpenID Connect sign-in as the access feature mounts it: the configured providers
 * (providers.ts), the started sign-ins waiting for their callback (pending-store.ts, in the
 * database, so any node may take the callback), the identity table (identity-store.ts) and the
 * /api/auth/oauth routes (routes.ts).
 *
 * @example
 * const oauth = await oauthSignIn({ config, log, store: ctx.store, sealer: ctx.sealer, accounts, sessions, secondFactor: mfa, audit });
 * app.use(oauth.routes);
 * await oauth.close(); // at shutdown
 */
import type { AuditRecorder } from "../../runtime/audit.ts";
import type { Logger } from "../../runtime/log.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import type { Store } from "../../runtime/store/store.ts";
import type { AccessStore } from "../access-store.ts";
import type { SecondFactor } from "../mfa.ts";
import type { Sessions } from "../sessions.ts";
import { openIdentityStore } from "./identity-store.ts";
import { openPendingStore } from "./pending-store.ts";
import { configuredProviders, type ProvidersConfig } from "./providers.ts";
import { type OAuthRoutesDeps, oauthRoutes } from "./routes.ts";

export interface OAuthSignInDeps {
  config: ProvidersConfig & OAuthRoutesDeps["config"];
  log: Logger;
  store: Pick<Store, "openRepo">;
  /** Seals the PKCE code verifiers of started sign-ins. */
  sealer: FieldSealer;
  accounts: AccessStore;
  sessions: Sessions;
  /** Asked after the account is found: with MFA on, the sign-in waits for its code. */
  secondFactor: Pick<SecondFactor, "challengeFor">;
  audit: AuditRecorder;
}

export interface OAuthSignIn {
  routes: ReturnType<typeof oauthRoutes>;
  close(): Promise<void>;
}

/**
 * Makes the sign-in routes for the configured providers (with none, the routes answer 404 naming
 * the variables to set).
 *
 * @example const oauth = await oauthSignIn(deps);
 */
export async function oauthSignIn(deps: OAuthSignInDeps): Promise<OAuthSignIn> {
  const { config, log } = deps;
  const providers = configuredProviders(config);
  const identities = await openIdentityStore(deps.store);
  const pending = await openPendingStore(deps.store, deps.sealer, { ttlMs: config.oauthStateTtlSeconds * 1000 });
  if (providers.size > 0) {
    log.info(
      { providers: [...providers].map(([name, client]) => ({ name, issuer: client.issuer })) },
      "OAuth sign-in providers configured",
    );
  }
  return {
    routes: oauthRoutes({
      providers,
      pending,
      identities,
      accounts: deps.accounts,
      sessions: deps.sessions,
      secondFactor: deps.secondFactor,
      audit: deps.audit,
      config,
      log,
    }),
    close: async () => {
      await Promise.all([identities.close(), pending.close()]);
    },
  };
}
