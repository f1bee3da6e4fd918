/**
 * The frame around every page: a skip link, the "Acting as" banner while an operator views the
 * console as a user (with its Stop button), the header with the navigation (Debates and
 * Developer for anyone signed in, Admin for admins, owners and operators), the theme toggle, who
 * is signed in, a link to their account's security (a person's, not the operator token's) and the
 * sign-out button; then the page in <main>.
 *
 * @example <Layout><Outlet /></Layout>
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { here, navigate } from "./router.ts";
import { isAdmin, type Me, me, signOut, stopViewingAs } from "./session.ts";
import { theme, toggleTheme } from "./theme.ts";
import { messageOf, Notice } from "./ui.tsx";

/** The navigation: label, where it goes, and whether the signed-in person sees it. */
const NAV: { label: string; href: string; shown: () => boolean }[] = [
  { label: "Debates", href: "/debates", shown: () => true },
  { label: "Developer", href: "/developer", shown: () => true },
  { label: "Admin", href: "/admin", shown: () => isAdmin.value },
];

function SignOutButton() {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const onClick = async () => {
    setBusy(true);
    try {
      await signOut();
      navigate("/signin", { replace: true });
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <button type="button" class="button-quiet" onClick={onClick} disabled={busy}>
        Sign out
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </>
  );
}

/** Says on every page that an operator is acting as this user, and takes them back to their own session. */
function ActingBanner({ who, by }: { who: Me; by: NonNullable<Me["impersonated_by"]> }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const stop = async () => {
    setBusy(true);
    setError(undefined);
    try {
      await stopViewingAs();
      navigate("/admin/security");
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  const user = who.user?.name || who.user?.email || "this user";
  return (
    <section class="acting-banner" aria-label="Acting as a user">
      <p>
        Acting as <strong>{user}</strong> for <strong>{by.name || by.email}</strong> — what you do is done as them, and
        recorded under your name.
      </p>
      <button type="button" onClick={stop} disabled={busy}>
        Stop
      </button>
      {error && <Notice kind="error">{error}</Notice>}
    </section>
  );
}

export function Layout({ children }: { children: ComponentChildren }) {
  const who = me.value;
  const path = here.value.path;
  const dark = theme.value === "dark";
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      {who?.impersonated_by && <ActingBanner who={who} by={who.impersonated_by} />}
      <header class="site-header">
        <a class="brand" href={who ? "/debates" : "/signin"}>
          Aragora
        </a>
        {who && (
          <nav aria-label="Main">
            <ul>
              {NAV.filter((item) => item.shown()).map((item) => {
                const current = path === item.href || path.startsWith(`${item.href}/`);
                return (
                  <li key={item.href}>
                    <a href={item.href} aria-current={current ? "page" : undefined}>
                      {item.label}
                    </a>
                  </li>
                );
              })}
            </ul>
          </nav>
        )}
        <div class="header-tools">
          <button
            type="button"
            class="button-quiet"
            onClick={toggleTheme}
            aria-pressed={dark}
            title={dark ? "Use the light theme" : "Use the dark theme"}
          >
            Dark theme
          </button>
          {who && (
            <>
              <span class="who" title={who.user?.email}>
                {who.user?.name ?? "Operator"} <span class="muted">· {who.organisation.name}</span>
              </span>
              {who.user && (
                <a
                  class="header-link"
                  href="/account/security"
                  aria-current={path.startsWith("/account/") ? "page" : undefined}
                >
                  Account
                </a>
              )}
              <SignOutButton />
            </>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
