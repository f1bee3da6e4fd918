/**
 * Tickets for the WebSocket upgrade: a browser cannot put an Authorization header on one, and a
 * long-lived token must not travel in a URL (logs, history, Referer). POST /api/auth/ws-ticket
 * gives an authenticated caller a ticket, `ara_wst_...`, that stands for its principal once,
 * within 30 s: `ws://host/ws?ticket=ara_wst_...`.
 *
 * @example
 * const { ticket } = await (await fetch("/api/auth/ws-ticket", { method: "POST", headers })).json();
 * new WebSocket(`wss://aragora.example/ws?ticket=${ticket}`);
 */
import { type } from "arktype";
import type { Principal } from "../runtime/http/principal.ts";
import { PERMISSIONS, ROLES } from "../runtime/security/rbac.ts";
import { lazy } from "../schemas/lazy.ts";

export const WS_TICKET_PREFIX = "ara_wst_";
export const WS_TICKET_TTL_SECONDS = 30;

const Stored = lazy(() =>
  type({
    kind: "'user' | 'api_key' | 'service' | 'operator'",
    userId: "string | null",
    orgId: "string",
    workspaceId: "string",
    roles: type.enumerated(...ROLES).array(),
    "keyId?": "string",
    "keyHint?": "string",
    "scopes?": type.enumerated(...PERMISSIONS).array(),
    "sessionId?": "string",
    "actor?": { userId: "string" },
    "mfa?": "boolean",
  }),
);

/**
 * What a ticket stores of the principal that asked for it.
 *
 * @example await access.insertWsTicket(hash, ticketPrincipalJson(principal), now, expiresAt);
 */
export function ticketPrincipalJson(p: Principal): string {
  return JSON.stringify({
    kind: p.kind,
    userId: p.userId,
    orgId: p.orgId,
    workspaceId: p.workspaceId,
    roles: p.roles,
    ...(p.keyId === undefined ? {} : { keyId: p.keyId }),
    ...(p.keyHint === undefined ? {} : { keyHint: p.keyHint }),
    ...(p.scopes === undefined ? {} : { scopes: p.scopes }),
    ...(p.sessionId === undefined ? {} : { sessionId: p.sessionId }),
    ...(p.actor === undefined ? {} : { actor: { userId: p.actor.userId } }),
    ...(p.mfa === undefined ? {} : { mfa: p.mfa }),
  });
}

/**
 * The principal a taken ticket stood for, now authenticated `via: "ticket"`.
 *
 * @example const principal = parseTicketPrincipal(json);
 */
export function parseTicketPrincipal(json: string): Principal {
  const stored = Stored.assert(JSON.parse(json));
  return { ...stored, via: "ticket" };
}
