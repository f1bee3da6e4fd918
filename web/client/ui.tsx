/**
 * The console's small building blocks: labelled fields, buttons, notices read out by screen
 * readers, and a hook that loads an API answer. Pages compose these so every form has labels,
 * every error is announced, and every load shows that it is loading.
 *
 * @example
 * const keys = useApi<{ keys: ApiKey[] }>("/api/auth/api-keys");
 * <Field label="Email" type="email" value={email} onInput={setEmail} autoComplete="username" required />
 * <Notice kind="error">{error}</Notice>
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
