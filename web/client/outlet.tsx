/**
 * Shows the page the address bar names: finds its route, sends a signed-out visitor of a
 * signed-in page to /signin (and back afterwards), tells someone without the role that they may
 * not open it, shows an admin whose session did not pass MFA how to get one (instead of loading an
 * admin page whose every request the API would refuse), loads the page's chunk, sets the title,
 * and moves focus to the new page's heading so a screen reader announces it.
 *
 * @example <Layout><Outlet /></Layout>
 */
import { useEffect, useState } from "preact/hooks";
import { MfaRequired, needsMfa } from "./mfa-required.tsx";
import type { PageModule, PageRoute } from "./route.ts";
import { here, navigate } from "./router.ts";
import { findRoute, HOME } from "./routes.ts";
import { canAdminister, me } from "./session.ts";
import { Loading, messageOf, Notice } from "./ui.tsx";

const loaded = new Map<PageRoute, PageModule>();
/** Whether a page has been shown since the document loaded (the first keeps the browser's focus). */
let shownOne = false;

/** The sign-in address that comes back to `path` afterwards. */
export const signInFor = (path: string, search: string) =>
  `/signin?next=${encodeURIComponent(path + (search ? `?${search}` : ""))}`;

function NotFound() {
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        Nothing lives at this address. Go to the <a href={HOME}>debates</a>.
      </p>
    </section>
  );
}

function Forbidden({ title }: { title: string }) {
  return (
    <section>
      <h1>{title}</h1>
      <Notice kind="error">
        You do not have access to this page: the admin console needs the admin or owner role in your organisation (or
        the platform's operator role). Ask an owner if you need it.
      </Notice>
    </section>
  );
}

export function Outlet() {
  const { path, query } = here.value;
  const who = me.value;
  const found = path === "/" ? undefined : findRoute(path);
  const route = found?.route;
  const [module, setModule] = useState<PageModule | undefined>(route ? loaded.get(route) : undefined);
  const [failed, setFailed] = useState<string>();

  const mustSignIn = route !== undefined && route.access !== "anyone" && who === null;
  const refused = route?.access === "admin" && who !== undefined && who !== null && !canAdminister(who);
  // The admin API answers such a session 403 mfa_required: the page is not loaded, so it asks nothing.
  const mfaFirst = route?.access === "admin" && !refused && needsMfa(who);

  useEffect(() => {
    // `/` may carry a provider's refusal (OAUTH_ERROR_URL defaults to /?error=...): sign-in shows it.
    if (path === "/") navigate(who ? HOME : `/signin${query.size > 0 ? `?${query}` : ""}`, { replace: true });
    else if (mustSignIn) navigate(signInFor(path, query.toString()), { replace: true });
  }, [path, who, mustSignIn]);

  useEffect(() => {
    document.title = `${route?.title ?? "Not found"} · Aragora`;
    setFailed(undefined);
    if (route === undefined || mfaFirst) return;
    const have = loaded.get(route);
    setModule(() => have);
    if (have) return;
    let current = true;
    route.load().then(
      (m) => {
        loaded.set(route, m);
        if (current) setModule(() => m);
      },
      (err: unknown) => {
        if (current) setFailed(`This page could not be loaded (${messageOf(err)}): reload to try again.`);
      },
    );
    return () => {
      current = false;
    };
  }, [route, mfaFirst]);

  // A page shown after another: focus its heading, as a page load would put the reader at its top.
  // The first page of a load keeps the browser's own start (Tab reaches the skip link first).
  const shown =
    route !== undefined &&
    module !== undefined &&
    loaded.get(route) === module &&
    (route.access === "anyone" || (who !== undefined && who !== null));
  const ready = path !== "/" && (route === undefined || refused || mfaFirst || shown);
  useEffect(() => {
    if (!ready) return;
    if (!shownOne) {
      shownOne = true;
      return;
    }
    const heading = document.querySelector<HTMLElement>("#main h1");
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: true });
    }
  }, [path, ready]);

  if (path === "/") return <Loading />;
  if (route === undefined) return <NotFound />;
  if (route.access !== "anyone" && who === undefined) return <Loading />;
  if (mustSignIn) return <Loading label="Sending you to sign in…" />;
  if (refused) return <Forbidden title={route.title} />;
  if (mfaFirst) {
    const back = path + (query.size > 0 ? `?${query}` : "");
    return <MfaRequired title={route.title} back={back} enrolled={who?.mfa?.enabled === true} />;
  }
  if (failed) return <Notice kind="error">{failed}</Notice>;
  if (module === undefined || loaded.get(route) !== module) return <Loading />;
  const Page = module.default;
  // Keyed by path: another address of the same page (/debates/d-1, /debates/d-2) starts afresh;
  // a change of query alone (filters) keeps the page and its state.
  return <Page key={path} params={found?.params ?? {}} query={query} />;
}
