/**
 * What a reused refresh token sets off, wherever one is presented (POST /api/auth/refresh, and the
 * kept-aside operator token at POST /api/auth/impersonation/stop): Sessions.rotate has already
 * revoked its session; here its access tokens stop at once (the authenticator forgets the user's
 * cached state), and the reuse is counted, logged and recorded in the audit log.
 *
 * @example
 * catch (err) { if (err instanceof ReusedRefreshToken) await refreshReused(err, request, deps); throw err; }
 */
import { ANONYMOUS, type AuditRecorder } from "../runtime/audit.ts";
import { requestOrigin } from "../runtime/http/audit-request.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import type { AccessAuthenticator } from "./authenticator.ts";
import type { ReusedRefreshToken } from "./sessions.ts";

export interface RefreshReuseDeps {
  authenticator: Pick<AccessAuthenticator, "forgetUser">;
  audit: AuditRecorder;
  log: Logger;
}

/** Acts on a reused refresh token (see the module's comment); `which` names it in the log line. */
export async function refreshReused(
  err: ReusedRefreshToken,
  request: Request,
  deps: RefreshReuseDeps,
  which = "refresh token",
): Promise<void> {
  metrics.authEvents.inc({ event: "refresh_reused" });
  deps.authenticator.forgetUser(err.userId);
  deps.log.warn({ user_id: err.userId }, `a used ${which} was presented again: its session is revoked`);
  await deps.audit.record({
    action: "auth.refresh_token_reused",
    outcome: "failure",
    actor: ANONYMOUS,
    orgId: err.orgId,
    target: { type: "session", id: err.sessionId },
    ...requestOrigin(request),
    detail: { user_id: err.userId, session_revoked: true },
  });
}
