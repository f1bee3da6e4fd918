/**
 * Where a request came from, as the audit log records it: the client's address as the listener
 * saw it (never a forwarded header, which any caller can write) and the request's id, plus who
 * made it when a principal is on the request.
 *
 * @example
 * .post("/x", async ({ request, server }) => {
 *   await audit.record({ action: "thing.done", outcome: "success", ...auditedRequest(request, server) });
 * })
 */
import { type AuditActor, actorOf } from "../audit.ts";
import type { Principal } from "./principal.ts";
import { stateOf } from "./request-state.ts";

/** What Elysia's `server` offers a route: the peer address of a request. */
export type PeerServer = { requestIP(request: Request): { address: string } | null } | null | undefined;

/**
 * The client's address of `request` (the TCP peer), or null when the listener does not know it
 * (a request handled in process).
 *
 * @example const ip = clientAddress(request, server); // "127.0.0.1"
 */
export function clientAddress(request: Request, server: unknown): string | null {
  try {
    return (server as PeerServer)?.requestIP(request)?.address ?? null;
  } catch {
    // app.handle() in a test has no socket to ask.
    return null;
  }
}

/**
 * The client's address and the request id of `request`.
 *
 * @example await audit.record({ action, outcome, actor: ANONYMOUS, orgId: null, ...requestOrigin(request, server) });
 */
export function requestOrigin(request: Request, server: unknown): { ip: string | null; requestId: string | null } {
  return { ip: clientAddress(request, server), requestId: stateOf(request)?.id ?? null };
}

/**
 * Who made `request` (its principal, which a route with a permission has), in which organisation,
 * from where, under which request id: the common part of an audit event.
 *
 * @example await audit.record({ action: "key.revoked", outcome: "success", ...auditedRequest(request, server), target });
 */
export function auditedRequest(
  request: Request,
  server: unknown,
): { actor: AuditActor; orgId: string | null; ip: string | null; requestId: string | null } {
  const principal: Principal | undefined = stateOf(request)?.principal;
  return {
    actor: principal === undefined ? { kind: "anonymous", userId: null } : actorOf(principal),
    orgId: principal?.orgId ?? null,
    ...requestOrigin(request, server),
  };
}
