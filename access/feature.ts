/**
 * The access feature: accounts, organisations, sessions and API keys (the store, the first start,
 * the /api/auth routes, an organisation's members and invitations under /api/org) and the {@link Authenticator} the shell asks who each request is. Started
 * first: every other feature's routes are behind it.
 *
 * The access-token secret is ARAGORA_JWT_SECRET; without one (never in production, which config.ts
 * refuses) a random secret is made once and kept in `<data dir>/jwt.secret`, mode 0600, so tokens
 * survive a restart.
 *
 * @example
 * const access = await accessFeature(ctx);
 * createHttpApp({ ..., authenticator: access.authenticator, routes: [access.routes] });
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Elysia } from "elysia";
import type { AuditRecorder } from "../runtime/audit.ts";
import type { Feature, FeatureContext } from "../runtime/feature.ts";
import { createTokenSigner } from "../runtime/security/jwt.ts";
import { createLoginBackoff } from "../runtime/security/login-backoff.ts";
import { JWT_SECRET_FILE, loadOrCreateSecretFile } from "../runtime/security/secret-file.ts";
import { openAccessStore } from "./access-store.ts";
import { openAuditLog, storeRecorder } from "./audit-log.ts";
import { auditRoutes } from "./audit-routes.ts";
import { type AccessAuthenticator, createAccessAuthenticator } from "./authenticator.ts";
import { directoryRoutes } from "./directory-routes.ts";
import { invitationAcceptance } from "./invitations.ts";
import { memberRoutes } from "./member-routes.ts";
import { mfaAndImpersonation } from "./mfa-and-impersonation.ts";
import { oauthSignIn } from "./oauth/sign-in.ts";
import { type OrganisationScope, organisationScopes } from "./organisation-scopes.ts";
import { accessRoutes } from "./routes.ts";
import { Sessions } from "./sessions.ts";
import { firstStart } from "./setup.ts";

/** The issuer and audience of Aragora's access tokens. */
export const TOKEN_ISSUER = "aragora";
export const TOKEN_AUDIENCE = "aragora-api";

export interface AccessFeature extends Feature {
  authenticator: AccessAuthenticator;
  /** Where every feature records what the audit log keeps (sign-ins, keys, roles, admin and ops actions). */
  audit: AuditRecorder;
  /**
   * The first organisation and its default workspace: where the operator token acts unless
   * `X-Org-ID` names another. One object for the process's life.
   */
  firstOrganisation: OrganisationScope;
  /** The scope of `orgId` (synchronous once known), or undefined when there is no such organisation. */
  organisationScope(orgId: string): OrganisationScope | undefined | Promise<OrganisationScope | undefined>;
}

/**
 * The access-token secret: the configured one, else the data directory's (made on first use).
 *
 * @example const secret = accessTokenSecret(config, dataDir);
 */
export function accessTokenSecret(config: FeatureContext["config"], dataDir: string): string {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  if (config.env === "production") throw new Error("ARAGORA_JWT_SECRET is required when ARAGORA_ENV=production");
  return loadOrCreateSecretFile(join(dataDir, JWT_SECRET_FILE), () => randomBytes(48).toString("base64url"));
}

export async function accessFeature(ctx: FeatureContext): Promise<AccessFeature> {
  const { config, log, dataDir } = ctx;
  const store = await openAccessStore(ctx.store);
  const auditLog = await openAuditLog(ctx.store).catch(async (err) => {
    await store.close();
    throw err;
  });
  try {
    const signer = createTokenSigner({
      secret: accessTokenSecret(config, dataDir),
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      accessTtlSeconds: config.jwtExpiryHours * 3600,
    });
    const audit = storeRecorder(auditLog, log);
    const first = await firstStart(store, { dataDir, log });
    const authenticator = createAccessAuthenticator(store, signer, { log });
    const sessions = new Sessions({ store, signer, refreshTtlSeconds: config.refreshTokenExpiryDays * 86_400 });
    const backoff = createLoginBackoff();
    const invited = invitationAcceptance({ store, audit });
    const secondFactor = await mfaAndImpersonation({
      store: ctx.store,
      sealer: ctx.sealer,
      accounts: store,
      sessions,
      signer,
      backoff,
      audit,
      log,
      authenticator,
    });
    const oauth = await oauthSignIn({
      config,
      log,
      store: ctx.store,
      sealer: ctx.sealer,
      accounts: store,
      sessions,
      secondFactor: secondFactor.mfa,
      audit,
    }).catch(async (err) => {
      await secondFactor.close();
      throw err;
    });
    return {
      name: "access",
      authenticator,
      audit,
      firstOrganisation: Object.freeze({ orgId: first.orgId, workspaceId: first.workspaceId }),
      organisationScope: organisationScopes(store),
      routes: new Elysia({ name: "aragora-access" })
        .use(
          accessRoutes({
            store,
            sessions,
            authenticator,
            backoff,
            setupToken: first.setupToken,
            secondFactor: secondFactor.mfa,
            config,
            log,
            audit,
            invited,
          }),
        )
        .use(memberRoutes({ store, authenticator, invited, config, log, audit }))
        .use(secondFactor.routes)
        .use(oauth.routes)
        .use(auditRoutes({ auditLog }))
        .use(directoryRoutes({ store })),
      stop: async () => {
        await Promise.allSettled([oauth.close(), secondFactor.close()]);
        await Promise.all([store.close(), auditLog.close()]);
      },
    };
  } catch (err) {
    await Promise.all([store.close(), auditLog.close()]);
    throw err;
  }
}
