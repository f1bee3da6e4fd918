/**
 * The answer of every way in that makes a session (setup, sign-up, sign-in, the MFA step, refresh,
 * a password change): the tokens in the JSON body and the same in cookies (cookies.ts), so API
 * clients and browsers use one flow.
 *
 * @example
 * const answer = sessionAnswer(store);
 * return answer(await sessions.start(user, membership), set);
 */
import type { AccessStore, UserRow } from "./access-store.ts";
import { sessionCookies } from "./cookies.ts";
import type { IssuedSession } from "./sessions.ts";

/**
 * A user as the API shows one (never the password hash).
 *
 * @example userBody(user); // { id, email, name, is_operator, created_at }
 */
export function userBody(u: UserRow) {
  return { id: u.id, email: u.email, name: u.name, is_operator: u.isOperator, created_at: u.createdAt.toISOString() };
}

/**
 * The function that answers a new or rotated session: its JSON body (SessionResponse), with the
 * cookies and `cache-control: no-store` set on `set`.
 *
 * @example const answer = sessionAnswer(store); return answer(session, set);
 */
export function sessionAnswer(store: Pick<AccessStore, "organisation" | "workspace">) {
  return async (session: IssuedSession, set: { headers: Record<string, unknown> }) => {
    const [organisation, workspace] = await Promise.all([
      store.organisation(session.membership.orgId),
      store.workspace(session.membership.workspaceId),
    ]);
    set.headers["set-cookie"] = sessionCookies({
      access: session.accessToken,
      accessMaxAge: session.expiresIn,
      refresh: session.refreshToken,
      refreshMaxAge: session.refreshExpiresIn,
      csrf: session.csrfToken,
    });
    // Tokens must never be stored by a cache on the way.
    set.headers["cache-control"] = "no-store";
    return {
      access_token: session.accessToken,
      token_type: "Bearer" as const,
      expires_in: session.expiresIn,
      refresh_token: session.refreshToken,
      refresh_expires_in: session.refreshExpiresIn,
      csrf_token: session.csrfToken,
      user: userBody(session.user),
      organisation: { id: session.membership.orgId, name: organisation?.name ?? "" },
      workspace: { id: session.membership.workspaceId, name: workspace?.name ?? "" },
      role: session.membership.role,
    };
  };
}
