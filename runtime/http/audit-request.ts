/**
 * Where a request came from, as the audit log records it: the client's address as the shell
 * resolved it (client-ip.ts: the peer, or what a trusted proxy forwarded for; never a header an
 * untrusted caller wrote) and the request's id, plus who made it when a principal is on the request.
 *
 * @example
 * .post("/x", async ({ request }) => {
 *   await audit.record({ action: "thing.done", outcome: "success", ...auditedRequest(request) });
 * })
 */
import { type AuditActor, actorOf } from "../audit.ts";
import { clientIpOf, UNKNOWN_ADDRESS } from "./client-ip.ts";
import type { Principal } from "./principal.ts";
import { stateOf } from "./request-state.ts";

/**
 * The client's address and the request id of `request` (null when the shell did not open it, as
 * for a request handled in process).
 *
 * @example await audit.record({ action, outcome, actor: ANONYMOUS, orgId: null, ...requestOrigin(request) });
 */
export function requestOrigin(request: Request): { ip: string | null; requestId: string | null } {
  const ip = clientIpOf(request);
  return { ip: ip === UNKNOWN_ADDRESS ? null : ip, requestId: stateOf(request)?.id ?? null };
}

/**
 * Who made `request` (its principal, which a route with a permission has), in which organisation,
 * from where, under which request id: the common part of an audit event.
 *
 * @example await audit.record({ action: "key.revoked", outcome: "success", ...auditedRequest(request), target });
 */
export function auditedRequest(request: Request): {
  actor: AuditActor;
  orgId: string | null;
  ip: string | null;
  requestId: string | null;
} {
  const principal: Principal | undefined = stateOf(request)?.principal;
  return {
    actor: principal === undefined ? { kind: "anonymous", userId: null } : actorOf(principal),
    orgId: principal?.orgId ?? null,
    ...requestOrigin(request),
  };
}
