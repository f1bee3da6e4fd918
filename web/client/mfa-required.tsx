/**
 * What an admin page shows a person whose session did not pass a second factor, in place of the
 * page: the admin API refuses such a session (403 mfa_required), so the page is not loaded and
 * asks nothing of it. Instead it says why, and the way through: set up an authenticator when the
 * account has none, else sign in again with its code; either way back to this page (`next=`).
 *
 * @example if (needsMfa(me.value)) return <MfaRequired title="Audit log" back="/admin/audit" enrolled={false} />;
 */

import type { Me } from "./session.ts";
import { SignInAgainButton } from "./sign-in-again.tsx";

/**
 * Whether `who` is a person whose session did not pass MFA (the operator's token is no person,
 * and the admin API lets it through).
 *
 * @example needsMfa({ user: { ... }, mfa: { enabled: true, session_verified: false }, ... }); // true
 */
export function needsMfa(who: Me | null | undefined): boolean {
  return who?.user != null && who.mfa?.session_verified !== true;
}

export function MfaRequired({ title, back, enrolled }: { title: string; back: string; enrolled: boolean }) {
  return (
    <section class="narrow">
      <h1>{title}</h1>
      <h2>A second factor is needed</h2>
      <p>
        The admin console changes what everyone in the organisation sees, so its API asks for a session that signed in
        with a second factor: a code from an authenticator app, or a recovery code.
      </p>
      {enrolled ? (
        <>
          <p>
            Your account has two-step verification, but this session was signed in without a code. Sign in again and
            enter the code your app shows: you will come back to this page.
          </p>
          <SignInAgainButton next={back} />
        </>
      ) : (
        <>
          <p>
            Your account has no authenticator yet. Set one up (it takes a minute: scan a QR code with an app such as
            Google Authenticator, 1Password or Aegis), then sign in again with its code.
          </p>
          <p>
            <a class="button button-primary" href={`/account/security?next=${encodeURIComponent(back)}`}>
              Set up two-step verification
            </a>
          </p>
        </>
      )}
    </section>
  );
}
