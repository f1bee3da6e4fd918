/**
 * The credentials the emergency key rotation revokes (`auth.revoke_issued`, ops/action.ts's
 * IssuedCredentials): the access store's API keys and sessions issued in a window, each revocation
 * recorded in the audit log of the organisation it was in. Servers notice within a second (they
 * read a key's row and a user's revoked sessions at most a second old).
 *
 * @example
 * const credentials = await openIssuedCredentials(store, log);
 * await credentials.revokeIssued({ from, to }, "ops run r-20261204-ab12cd34", "key compromise");
 */
import { openAccessStore } from "../access/access-store.ts";
import { openAuditLog, storeRecorder } from "../access/audit-log.ts";
import type { IssuedCredentials } from "../ops/action.ts";
import type { Logger } from "../runtime/log.ts";
import type { Store } from "../runtime/store/index.ts";

export async function openIssuedCredentials(store: Store, log: Logger): Promise<IssuedCredentials> {
  const access = await openAccessStore(store);
  const auditLog = await openAuditLog(store);
  const audit = storeRecorder(auditLog, log);
  return {
    async revokeIssued(window, by, reason) {
      const revoked = await access.revokeIssuedBetween(window.from, window.to, new Date());
      const orgs = new Set([...revoked.apiKeys.map((k) => k.orgId), ...revoked.sessions.map((s) => s.orgId)]);
      for (const orgId of orgs) {
        const keys = revoked.apiKeys.filter((k) => k.orgId === orgId);
        const sessions = revoked.sessions.filter((s) => s.orgId === orgId);
        await audit.record({
          action: "credentials.revoked",
          outcome: "success",
          actor: { kind: "operator", userId: null },
          orgId,
          detail: {
            reason,
            by,
            issued_from: window.from.toISOString(),
            issued_to: window.to.toISOString(),
            api_keys: keys.length,
            api_key_ids: keys
              .map((k) => k.id)
              .join(",")
              .slice(0, 500),
            sessions: sessions.length,
          },
        });
      }
      log.warn(
        { api_keys: revoked.apiKeys.length, sessions: revoked.sessions.length, from: window.from, to: window.to },
        `revoked the credentials issued in the window: ${reason}`,
      );
      return { apiKeys: revoked.apiKeys.length, sessions: revoked.sessions.length };
    },
    async close() {
      await Promise.all([access.close(), auditLog.close()]);
    },
  };
}
