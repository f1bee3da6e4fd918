/**
 * "Sign in again": ends this session and opens sign-in, which comes back to `next` afterwards. A
 * session keeps the factors it was signed in with, so this is how a person who has just turned on
 * MFA (or signed in without it) gets a session that passed it, which the admin API asks for.
 *
 * @example <SignInAgainButton next="/admin/audit" />
 */
import { useState } from "preact/hooks";
import { navigate } from "./router.ts";
import { signOut } from "./session.ts";
import { messageOf, Notice } from "./ui.tsx";

export function SignInAgainButton({ next, label = "Sign in again" }: { next: string; label?: string }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const onClick = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await signOut(() => navigate(`/signin?next=${encodeURIComponent(next)}`, { replace: true }));
    } catch (err) {
      setError(messageOf(err));
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" onClick={onClick} disabled={busy}>
        {label}
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </>
  );
}
