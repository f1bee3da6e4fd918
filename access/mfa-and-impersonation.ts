/**
 * The access feature's second factor and impersonation, made together from what the feature
 * already has: the MFA store on the server's database, the {@link SecondFactor} the sign-in asks,
 * and their routes (/api/auth/mfa/*, POST /api/admin/impersonate, the console's
 * POST /api/auth/impersonation and /api/auth/impersonation/stop).
 *
 * @example
 * const extra = await mfaAndImpersonation({ store: ctx.store, sealer: ctx.sealer, accounts, sessions, signer, backoff, audit, log });
 * app.use(accessRoutes({ ..., secondFactor: extra.mfa }).use(extra.routes));
 * await extra.close(); // at stop
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../runtime/audit.ts";
import type { Logger } from "../runtime/log.ts";
import type { FieldSealer } from "../runtime/security/field-sealer.ts";
import type { TokenSigner } from "../runtime/security/jwt.ts";
import type { LoginBackoff } from "../runtime/security/login-backoff.ts";
import type { Store } from "../runtime/store/store.ts";
import type { AccessStore } from "./access-store.ts";
import type { AccessAuthenticator } from "./authenticator.ts";
import { impersonationRoutes } from "./impersonation-routes.ts";
import { impersonationSessionRoutes } from "./impersonation-session-routes.ts";
import { SecondFactor } from "./mfa.ts";
import { mfaRoutes } from "./mfa-routes.ts";
import { openMfaStore } from "./mfa-store.ts";
import { sessionAnswer } from "./session-answer.ts";
import type { Sessions } from "./sessions.ts";

export interface MfaAndImpersonationDeps {
  store: Pick<Store, "openRepo">;
  /** Seals the TOTP secrets at rest. */
  sealer: FieldSealer;
  accounts: AccessStore;
  sessions: Sessions;
  signer: TokenSigner;
  backoff: LoginBackoff;
  audit: AuditRecorder;
  log: Logger;
  /** Forgets a user's cached state when a reused refresh token revoked one of their sessions. */
  authenticator: Pick<AccessAuthenticator, "forgetUser">;
}

/**
 * The second factor, its routes and the impersonation route.
 *
 * @example const { mfa, routes, close } = await mfaAndImpersonation(deps);
 */
export async function mfaAndImpersonation(deps: MfaAndImpersonationDeps) {
  const { accounts, sessions, signer, backoff, audit, log, authenticator } = deps;
  const store = await openMfaStore(deps.store, deps.sealer);
  const mfa = new SecondFactor({ store, accounts, sessions, backoff, audit, log });
  const answer = sessionAnswer(accounts);
  const routes = new Elysia({ name: "aragora-mfa-and-impersonation" })
    .use(mfaRoutes({ mfa, accounts, answer }))
    .use(impersonationRoutes({ accounts, signer, audit, log }))
    .use(impersonationSessionRoutes({ accounts, signer, sessions, answer, audit, log, authenticator }));
  return { mfa, routes, close: () => store.close() };
}
