/**
 * The frame around every page: a skip link, the header with the navigation (Debates and
 * Developer for anyone signed in, Admin for admins, owners and operators), the theme toggle, who
 * is signed in, a link to their account's security (a person's, not the operator token's) and the
 * sign-out button; then the page in <main>.
 *
 * @example <Layout><Outlet /></Layout>
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { here, navigate } from "./router.ts";
import { isAdmin, me, signOut } from "./session.ts";
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

export function Layout({ children }: { children: ComponentChildren }) {
  const who = me.value;
  const path = here.value.path;
  const dark = theme.value === "dark";
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
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
