/**
 * The frame of every admin page: its one heading and the admin console's own navigation. A
 * session that did not pass a second factor never gets here: the outlet shows it how to get one
 * instead (mfa-required.tsx), since the admin API refuses it with 403 mfa_required.
 *
 * @example
 * <AdminFrame title="Schedulers"><Table .../></AdminFrame>
 * <Loaded state={useApi<X>("/api/admin/x")}>{(x) => <p>{x.name}</p>}</Loaded>
 */
import "./admin.css";
import type { ComponentChildren } from "preact";
import { here } from "../../router.ts";
import { me } from "../../session.ts";
import { type Loaded as LoadedState, Loading, messageOf, Notice, TableRegion } from "../../ui.tsx";

/** The admin pages; `operator`: the platform's, whose API an organisation's admin is refused (not shown to them). */
const LINKS: { label: string; href: string; operator: boolean }[] = [
  { label: "Overview", href: "/admin", operator: false },
  { label: "System", href: "/admin/system", operator: true },
  { label: "Ops runs", href: "/admin/ops", operator: true },
  { label: "Schedulers", href: "/admin/schedulers", operator: true },
  { label: "Organisations and users", href: "/admin/people", operator: true },
  { label: "Audit log", href: "/admin/audit", operator: false },
  { label: "Keys and access", href: "/admin/security", operator: true },
];

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

/**
 * An ISO instant as its time of day with seconds (a run's steps are seconds apart); "—" for none.
 *
 * @example clock("2026-12-05T01:02:03Z"); // "01:02:03"
 */
export function clock(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : clockFormat.format(date);
}

/** Whether the signed-in person holds the platform's operator role (ops, impersonation, every organisation). */
export const isOperator = () => me.value?.roles.includes("operator") === true || me.value?.user?.is_operator === true;

export function AdminFrame({ title, children }: { title: string; children: ComponentChildren }) {
  const path = here.value.path;
  const current = (href: string) =>
    href === "/admin" ? path === "/admin" : path === href || path.startsWith(`${href}/`);
  return (
    <section class="admin">
      <h1>{title}</h1>
      <nav aria-label="Admin console">
        <ul class="admin-nav">
          {LINKS.filter((l) => !l.operator || isOperator()).map((l) => (
            <li key={l.href}>
              <a href={l.href} aria-current={current(l.href) ? "page" : undefined}>
                {l.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {children}
    </section>
  );
}

/** One API answer: loading, its error (announced), or `children` of its data. */
export function Loaded<T>({ state, children }: { state: LoadedState<T>; children: (data: T) => ComponentChildren }) {
  if (state.error) return <Notice kind="error">{messageOf(state.error)}</Notice>;
  if (state.data === undefined) return <Loading />;
  return <>{children(state.data)}</>;
}

/** A table with a caption (hidden visually when the heading above already says it) that scrolls sideways on a phone. */
export function Table({ caption, head, children }: { caption: string; head: string[]; children: ComponentChildren }) {
  return (
    <TableRegion label={caption}>
      <table>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {head.map((h) => (
              <th key={h} scope="col">
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </TableRegion>
  );
}
