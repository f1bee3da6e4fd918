/**
 * Who is signed in, as GET /api/auth/me says: `undefined` while the console asks, `null` when no
 * one is. The layout shows the navigation for the roles, and routes.ts's `access` keeps pages
 * from those who may not see them (the API refuses them too: the console only follows).
 *
 * @example
 * await loadMe();
 * if (canAdminister(me.value)) ...
 * await signOut();
 */
import { batch, computed, signal } from "@preact/signals";
import { ApiError, api, errorOf, onSessionLost, stopImpersonation } from "./api.ts";

/** What GET /api/auth/me answers (the fields the console reads). */
export interface Me {
  user: { id: string; email: string; name: string; is_operator?: boolean } | null;
  organisation: { id: string; name: string };
  workspace: { id: string; name: string };
  roles: string[];
  permissions: string[];
  via: string;
  mfa?: { enabled: boolean; session_verified: boolean };
  /** Present while an operator views the console as this user. */
  impersonated_by?: { user_id: string; email: string; name: string };
}

/** The signed-in account; undefined until the first answer, null when signed out. */
export const me = signal<Me | null | undefined>(undefined);

onSessionLost(() => {
  me.value = null;
});

/**
 * Asks the server who the session is; null when it is none (401).
 *
 * @example const who = await loadMe();
 */
export async function loadMe(): Promise<Me | null> {
  try {
    me.value = await api.get<Me>("/api/auth/me");
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
    me.value = null;
  }
  return me.value;
}

/**
 * Ends the session on the server (its cookies are cleared by the answer). `then` runs in the same
 * batch as forgetting who was signed in (a navigation, say): the pages never see the old address
 * without a session, so none sends the person to sign in for it first.
 *
 * @example await signOut(() => navigate("/signin?next=%2Fadmin", { replace: true }));
 */
export async function signOut(then?: () => void): Promise<void> {
  try {
    await api.post("/api/auth/sign-out", {});
  } catch (err) {
    // Already ended on the server: signed out all the same.
    if (!(err instanceof ApiError) || (err.status !== 401 && err.status !== 400)) {
      me.value = null;
      throw err;
    }
  }
  batch(() => {
    then?.();
    me.value = null;
  });
}

/**
 * Switches this browser into viewing the console as `userId` (an operator with MFA; `reason` goes
 * to the audit log); `me` then says who is acted as and by whom. Throws the server's refusal.
 *
 * @example await viewAs("u-0190...", "ticket #4242"); navigate("/debates");
 */
export async function viewAs(userId: string, reason: string): Promise<void> {
  await api.post("/api/auth/impersonation", { user_id: userId, reason });
  await loadMe();
}

/**
 * Stops viewing as a user: the operator's own session is back in the cookies, and in `me`.
 *
 * @example await stopViewingAs(); navigate("/admin/security");
 */
export async function stopViewingAs(): Promise<void> {
  const res = await stopImpersonation();
  // 400: nothing to stop (another tab stopped it already); the page shows whoever is signed in.
  if (!res.ok && res.status !== 400) throw await errorOf(res);
  await loadMe();
}

/** Roles that open the admin console: an organisation's admins and owners, and the platform's operators. */
export const ADMIN_ROLES = ["admin", "owner", "operator"];

/**
 * Whether `who` may open the admin console.
 *
 * @example canAdminister({ roles: ["member"], ... }); // false
 */
export function canAdminister(who: Me | null | undefined): boolean {
  return who?.roles.some((r) => ADMIN_ROLES.includes(r)) ?? false;
}

/** {@link canAdminister} of whoever is signed in. */
export const isAdmin = computed(() => canAdminister(me.value));
