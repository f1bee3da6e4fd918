/**
 * The console's small building blocks: labelled fields, buttons, notices read out by screen
 * readers, and a hook that loads an API answer. Pages compose these so every form has labels,
 * every error is announced, and every load shows that it is loading.
 *
 * @example
 * const keys = useApi<{ keys: ApiKey[] }>("/api/auth/api-keys");
 * <Field label="Email" type="email" value={email} onInput={setEmail} autoComplete="username" required />
 * <Notice kind="error">{error}</Notice>
 * <StatusBadge status="timed_out" />  // "timed out", in the alarming colours
 * <TableRegion label="API keys"><table>…</table></TableRegion>
 */
import type { ComponentChildren } from "preact";
import { useEffect, useId, useState } from "preact/hooks";
import { ApiError, api } from "./api.ts";

export interface FieldProps {
  label: string;
  value: string;
  onInput: (value: string) => void;
  type?: "text" | "email" | "password" | "search" | "url" | "number";
  name?: string;
  autoComplete?: string;
  inputMode?: "text" | "numeric" | "email";
  required?: boolean;
  /** Shown under the field and tied to it (aria-describedby). */
  hint?: string;
  /** The server's complaint about this field: shown, and the field marked invalid. */
  error?: string;
  pattern?: string;
  maxLength?: number;
}

/** A labelled input. */
export function Field(props: FieldProps) {
  const id = useId();
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        // Preact types each input type apart; any of these takes the attributes given here.
        type={(props.type ?? "text") as "text"}
        value={props.value}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
        autoComplete={props.autoComplete}
        inputMode={props.inputMode}
        required={props.required}
        pattern={props.pattern}
        maxLength={props.maxLength}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={described || undefined}
      />
      {props.hint && (
        <p class="hint" id={`${id}-hint`}>
          {props.hint}
        </p>
      )}
      {props.error && (
        <p class="field-error" id={`${id}-error`}>
          {props.error}
        </p>
      )}
    </div>
  );
}

/** A message for the person: errors are announced at once (role=alert), the rest politely. */
export function Notice({ kind, children }: { kind: "error" | "info" | "success"; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** A region still loading. */
export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      {label}
    </p>
  );
}

/** What an error says to a person: the server's message, with the request id to quote for a 5xx. */
export function messageOf(err: unknown): string {
  if (err instanceof ApiError) {
    return err.status >= 500 && err.requestId ? `${err.message} (request ${err.requestId})` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The state of one GET: loading, its answer, or its error; `reload` asks again. */
export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | Error | undefined;
  loading: boolean;
  reload: () => void;
}

/**
 * GET `path` when the component shows (and again when `path` changes or `reload` is called).
 *
 * @example const debates = useApi<{ debates: DebateSummary[] }>("/api/debates?limit=20");
 */
export function useApi<T>(path: string): Loaded<T> {
  const [state, setState] = useState<Omit<Loaded<T>, "reload">>({ data: undefined, error: undefined, loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    const abort = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    api.get<T>(path, abort.signal).then(
      (data) => setState({ data, error: undefined, loading: false }),
      (error: Error) => {
        if (error.name !== "AbortError") setState({ data: undefined, error, loading: false });
      },
    );
    return () => abort.abort();
  }, [path, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}

/** How worrying a status is: the colour of its badge. */
export type StatusTone = "good" | "warn" | "bad";

const BAD_STATUS = /^(open|failed|error|unhealthy|broken|cancelled|timed_out|dead)/;
const WARN_STATUS = /^(half_open|waiting|paused|degraded|running|pending|stopped|in_progress|retrying)/;

/**
 * The tone of a status word, whatever its case: failures loud, states still moving amber, the
 * rest (completed, delivered, closed, healthy…) calm.
 *
 * @example toneOf("DEAD_LETTERED") // "bad"
 * @example toneOf("half_open") // "warn"
 */
export function toneOf(status: string): StatusTone {
  const word = status.toLowerCase();
  return BAD_STATUS.test(word) ? "bad" : WARN_STATUS.test(word) ? "warn" : "good";
}

/**
 * A status as a badge, the one way every page shows one: the word in lower case with spaces
 * (`label` when the page words it itself), coloured by {@link toneOf} (or `tone`). The colour only
 * repeats what the word says, so nothing is told by colour alone.
 *
 * @example <StatusBadge status="DEAD_LETTERED" />   // "dead lettered", red
 * @example <StatusBadge status="running" label="Live" />
 */
export function StatusBadge({ status, label, tone }: { status: string; label?: string; tone?: StatusTone }) {
  return (
    <span class={`badge badge-${tone ?? toneOf(status)}`} data-status={status}>
      {label ?? status.toLowerCase().replaceAll("_", " ")}
    </span>
  );
}

/**
 * A wide table's frame: it scrolls sideways on a narrow screen, and as a named region that takes
 * the keyboard's focus its hidden columns can be scrolled to without a mouse (WCAG 2.1.1).
 * Positioned, so a visually hidden caption stays inside it instead of widening the page. A named
 * <section> is the region role itself (HTML-AAM), so no role attribute is needed.
 *
 * @example <TableRegion label="Usage per agent"><table>…</table></TableRegion>
 */
export function TableRegion({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrolling region must be reachable by keyboard (WCAG 2.1.1).
    <section class="table-region" aria-label={label} tabIndex={0}>
      {children}
    </section>
  );
}
