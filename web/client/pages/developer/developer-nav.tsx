/**
 * The developer portal's own navigation: its sections, the current one marked (aria-current), and
 * the gear shared by its pages (a labelled select, a copy button, a secret shown once).
 *
 * @example
 * <DeveloperNav />
 * <CopyButton text={key} label="Copy the key" />
 * <ShownOnce label="API key" copyLabel="Copy the API key" value={created.key} onDone={() => setCreated(undefined)} />
 */
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { here } from "../../router.ts";
import { Notice } from "../../ui.tsx";
import "./developer.css";

/** The portal's sections. */
export const SECTIONS: { label: string; href: string }[] = [
  { label: "API keys", href: "/developer" },
  { label: "Usage", href: "/developer/usage" },
  { label: "Webhooks", href: "/developer/webhooks" },
  { label: "Integrations", href: "/developer/integrations" },
  { label: "Quick start", href: "/developer/quick-start" },
];

/** The section links; a page below a section (/developer/webhooks/wh-1) marks its section. */
export function DeveloperNav() {
  const path = here.value.path.replace(/\/$/, "");
  const current = (href: string) =>
    href === "/developer" ? path === "/developer" : path === href || path.startsWith(`${href}/`);
  return (
    <nav aria-label="Developer" class="subnav">
      <ul>
        {SECTIONS.map((s) => (
          <li key={s.href}>
            <a href={s.href} aria-current={current(s.href) ? "page" : undefined}>
              {s.label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}

/** A labelled select. */
export function Select<T extends string>(props: {
  label: string;
  value: T;
  options: readonly { value: T; label: string }[];
  onChange: (value: T) => void;
  hint?: string;
}) {
  const id = useId();
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <select
        id={id}
        value={props.value}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value as T)}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
      >
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
    </div>
  );
}

/**
 * Copies `text` to the clipboard: the Clipboard API where the page may use it (HTTPS, localhost),
 * else the selection and the older copy command; says which happened (politely, for screen readers).
 */
export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const [said, setSaid] = useState<string>();
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    let copied = false;
    try {
      await navigator.clipboard.writeText(text);
      copied = true;
    } catch {
      // No Clipboard API (plain http on another host): a hidden textarea and the copy command.
      const area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.className = "visually-hidden";
      document.body.append(area);
      area.select();
      copied = document.execCommand("copy");
      area.remove();
    }
    setSaid(copied ? "Copied." : "The browser refused: select the text and copy it yourself.");
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setSaid(undefined), 4000);
  };
  return (
    <span class="copy">
      <button type="button" class="button-quiet" onClick={copy}>
        {label}
      </button>
      <span role="status" class="copy-status">
        {said ?? ""}
      </span>
    </span>
  );
}

/**
 * A secret the server answers once (an API key, a signing secret): shown with a copy button and
 * the warning that it will not be shown again, until the person says they have it.
 */
export function ShownOnce(props: {
  label: string;
  /** The copy button's name: "Copy the API key". */
  copyLabel: string;
  value: string;
  onDone: () => void;
  children?: ComponentChildren;
}) {
  return (
    <Notice kind="success">
      <p class="once-title">
        <strong>{props.label}</strong>: copy it now, it will not be shown again.
      </p>
      <p class="once-value">
        <code data-secret="">{props.value}</code>
      </p>
      {props.children}
      <p class="once-actions">
        <CopyButton text={props.value} label={props.copyLabel} />
        <button type="button" class="button-quiet" onClick={props.onDone}>
          Done
        </button>
      </p>
    </Notice>
  );
}

/** What a page shows when the person's role does not grant `permission`. */
export function NotGranted({ what, permission }: { what: string; permission: string }) {
  return (
    <Notice kind="info">
      Your role cannot {what} (it needs the <code>{permission}</code> permission). Ask an owner or an admin of your
      organisation.
    </Notice>
  );
}
