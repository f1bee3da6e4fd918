/**
 * The signed-in person's account security: whether two-step verification (a TOTP authenticator)
 * is on, and the ways to change it, each through the API's /api/auth/mfa routes:
 *
 * - off: set it up with the password again (enroll), then scan the QR code (or type the key) and
 *   confirm with a first code; the recovery codes are shown once, to save now;
 * - on: make new recovery codes (a current code), or turn it off (the password and a code or a
 *   recovery code).
 *
 * A session keeps the factors it signed in with: after turning MFA on, the page says this session
 * has none yet and offers to sign in again (back to `?next=`, e.g. the admin page that sent the
 * person here). The server's refusals are shown at the fields they name.
 */
import "./account.css";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { loadMe, me } from "../../session.ts";
import { SignInAgainButton } from "../../sign-in-again.tsx";
import { Field, Loading, messageOf, Notice, useApi } from "../../ui.tsx";
import { nextPath } from "../auth/after-sign-in.ts";
import { type PlacedError, placeError } from "./field-errors.ts";
import { QrCode } from "./qr-code.tsx";

/** GET /api/auth/mfa/status. */
interface MfaStatus {
  enabled: boolean;
  enabled_at: string | null;
  pending: boolean;
  recovery_codes_left: number;
}

/** POST /api/auth/mfa/totp/enroll. */
interface Enrolment {
  secret: string;
  otpauth_uri: string;
  expires_in: number;
}

/** What the page shows: the status and its forms, an enrolment under way, or new recovery codes. */
type Step =
  | { kind: "status" }
  | { kind: "enrolling"; enrolment: Enrolment }
  | { kind: "codes"; codes: string[]; after: "enabled" | "regenerated" };

const PASSWORD = "body.password";
const CODE = "body.code";
const RECOVERY_CODE = "body.recovery_code";

/** Refusals of no field, in a person's words (the server's own speak of its routes). */
const BY_CODE: Record<string, string> = {
  no_pending_enrolment:
    "This set-up has expired (a key waits 15 minutes for its first code): cancel, and set up again.",
  mfa_already_enabled: "Two-step verification is on already (from another tab?): reload this page.",
  mfa_not_enabled: "Two-step verification is off already (from another tab?): reload this page.",
};

/** A code as typed (spaces, a dash an app shows between the halves) as the server reads it. */
const digits = (code: string) => code.replace(/[\s-]+/g, "");

/**
 * The secret in groups of four, as authenticator apps show keys (they ignore the spaces).
 *
 * @example grouped("JBSWY3DPEHPK3PXP"); // "JBSW Y3DP EHPK 3PXP"
 */
export function grouped(secret: string): string {
  return secret.match(/.{1,4}/g)?.join(" ") ?? secret;
}

/** A form's state: busy while its request runs, and the refusal placed on its fields. */
function useFormState() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<PlacedError>({ fields: {} });
  const run = async (fields: string[], work: () => Promise<void>) => {
    setBusy(true);
    setError({ fields: {} });
    try {
      await work();
    } catch (err) {
      setError(placeError(err, fields, BY_CODE));
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}

/** The heading of a step: focused when the step appears, so a screen reader and the keyboard start there. */
function StepHeading({ children }: { children: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => ref.current?.focus({ preventScroll: false }), []);
  return (
    <h2 ref={ref} tabIndex={-1}>
      {children}
    </h2>
  );
}

/** Off: the password again, then an enrolment (its key shown once). */
function EnrolForm({ pending, onStarted }: { pending: boolean; onStarted: (e: Enrolment) => void }) {
  const [password, setPassword] = useState("");
  const form = useFormState();
  const submit = (event: Event) => {
    event.preventDefault();
    void form.run([PASSWORD], async () => {
      const enrolment = await api.post<Enrolment>("/api/auth/mfa/totp/enroll", { password });
      setPassword("");
      onStarted(enrolment);
    });
  };
  return (
    <>
      <h2>Set up an authenticator app</h2>
      <p>
        An authenticator app (Google Authenticator, 1Password, Aegis, …) shows a new 6-digit code every 30 seconds. With
        it on, signing in asks for that code after your password, and the admin console opens.
      </p>
      {pending && (
        <p class="muted">
          A set-up was started and not finished; starting again shows a new key and the earlier one stops working.
        </p>
      )}
      {form.error.notice && <Notice kind="error">{form.error.notice}</Notice>}
      <form onSubmit={submit} class="stack">
        <Field
          label="Your password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
          hint="Asked again so that a session left open cannot change how you sign in."
          error={form.error.fields[PASSWORD]}
          required
        />
        <div>
          <button type="submit" disabled={form.busy}>
            Set up
          </button>
        </div>
      </form>
    </>
  );
}

/** An enrolment under way: the QR code and the key, then the first code turns MFA on. */
function ConfirmEnrolment({
  enrolment,
  onConfirmed,
  onCancel,
}: {
  enrolment: Enrolment;
  onConfirmed: (codes: string[]) => void;
  onCancel: () => void;
}) {
  const [code, setCode] = useState("");
  const form = useFormState();
  const minutes = Math.max(1, Math.round(enrolment.expires_in / 60));
  const account = me.value?.user?.email ?? "your account";
  const submit = (event: Event) => {
    event.preventDefault();
    void form.run([CODE], async () => {
      const answer = await api.post<{ recovery_codes: string[] }>("/api/auth/mfa/totp/confirm", { code: digits(code) });
      setCode("");
      onConfirmed(answer.recovery_codes);
    });
  };
  return (
    <>
      <StepHeading>Scan the QR code</StepHeading>
      <ol class="steps">
        <li>Open your authenticator app and add an account.</li>
        <li>Scan this QR code, or type the key below.</li>
        <li>Enter the 6-digit code the app then shows, within {minutes} minutes.</li>
      </ol>
      <div class="enrol-key">
        <QrCode text={enrolment.otpauth_uri} label={`QR code of the authenticator key for ${account}`} />
        <div class="key-text">
          <p class="key-label">Key, to type in by hand</p>
          <p>
            <code class="secret">{grouped(enrolment.secret)}</code>
          </p>
          <p class="hint">Time-based, 6 digits, every 30 seconds. It is shown this once: do not share it.</p>
        </div>
      </div>
      {form.error.notice && <Notice kind="error">{form.error.notice}</Notice>}
      <form onSubmit={submit} class="stack">
        <Field
          label="Code from the app"
          name="code"
          value={code}
          onInput={setCode}
          autoComplete="one-time-code"
          inputMode="numeric"
          error={form.error.fields[CODE]}
          required
        />
        <div class="actions">
          <button type="submit" disabled={form.busy}>
            Turn on
          </button>
          <button type="button" class="button-secondary" onClick={onCancel}>
            Cancel
          </button>
        </div>
      </form>
    </>
  );
}

/** Recovery codes, shown this once: copy or download them now. */
function RecoveryCodes({
  codes,
  after,
  next,
  onDone,
}: {
  codes: string[];
  after: string;
  next: string;
  onDone: () => void;
}) {
  const [copied, setCopied] = useState<string>();
  const text = `Aragora recovery codes for ${me.value?.user?.email ?? "your account"}\nEach signs you in once.\n\n${codes.join("\n")}\n`;
  const download = useMemo(() => URL.createObjectURL(new Blob([text], { type: "text/plain" })), [text]);
  useEffect(() => () => URL.revokeObjectURL(download), [download]);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(codes.join("\n"));
      setCopied("Copied.");
    } catch {
      setCopied("The browser did not allow copying: select the codes and copy them, or download them.");
    }
  };
  return (
    <>
      <StepHeading>{after === "enabled" ? "Two-step verification is on" : "New recovery codes"}</StepHeading>
      <Notice kind="info">
        <strong>Save these recovery codes now.</strong> They are shown this once. Each signs you in once if you lose
        your authenticator app; keep them where you keep passwords.
        {after === "regenerated" && " The earlier codes no longer work."}
      </Notice>
      <ul class="recovery-codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>{c}</li>
        ))}
      </ul>
      <div class="actions">
        <button type="button" class="button-secondary" onClick={copy}>
          Copy the codes
        </button>
        <a class="button button-secondary" href={download} download="aragora-recovery-codes.txt">
          Download the codes
        </a>
      </div>
      {copied && (
        <p role="status" class="hint">
          {copied}
        </p>
      )}
      {after === "enabled" && me.value?.mfa?.session_verified !== true && (
        <>
          <h3>Sign in again</h3>
          <p>
            This session was signed in with your password only, so it has no second factor yet: the admin console asks
            for one. Once the codes are saved, sign in again with a code from your app.
          </p>
          <SignInAgainButton next={next} />
        </>
      )}
      <p>
        <button type="button" class="button-link" onClick={onDone}>
          I have saved them: back to account security
        </button>
      </p>
    </>
  );
}

/** On: new recovery codes in place of the earlier ones, given a current code. */
function RegenerateForm({ onCodes }: { onCodes: (codes: string[]) => void }) {
  const [code, setCode] = useState("");
  const form = useFormState();
  const submit = (event: Event) => {
    event.preventDefault();
    void form.run([CODE], async () => {
      const answer = await api.post<{ recovery_codes: string[] }>("/api/auth/mfa/recovery-codes", {
        code: digits(code),
      });
      setCode("");
      onCodes(answer.recovery_codes);
    });
  };
  return (
    <>
      <h2>New recovery codes</h2>
      <p>Used some, or lost them? New codes replace every earlier one.</p>
      {form.error.notice && <Notice kind="error">{form.error.notice}</Notice>}
      <form onSubmit={submit} class="stack">
        <Field
          label="Code from the app"
          name="code"
          value={code}
          onInput={setCode}
          autoComplete="one-time-code"
          inputMode="numeric"
          error={form.error.fields[CODE]}
          required
        />
        <div>
          <button type="submit" disabled={form.busy}>
            Make new recovery codes
          </button>
        </div>
      </form>
    </>
  );
}

/** On: turn it off with the password and a code (or a recovery code). */
function DisableForm({ onDisabled }: { onDisabled: () => void }) {
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [useRecovery, setUseRecovery] = useState(false);
  const form = useFormState();
  const submit = (event: Event) => {
    event.preventDefault();
    const proof = useRecovery ? { recovery_code: code.trim() } : { code: digits(code) };
    void form.run([PASSWORD, CODE, RECOVERY_CODE], async () => {
      await api.post("/api/auth/mfa/disable", { password, ...proof });
      setPassword("");
      setCode("");
      onDisabled();
    });
  };
  return (
    <>
      <h2>Turn off two-step verification</h2>
      <p>Signing in will ask for your password only, and the admin console will not open for you.</p>
      {form.error.notice && <Notice kind="error">{form.error.notice}</Notice>}
      <form onSubmit={submit} class="stack">
        <Field
          label="Your password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
          error={form.error.fields[PASSWORD]}
          required
        />
        <Field
          label={useRecovery ? "Recovery code" : "Code from the app"}
          name={useRecovery ? "recovery_code" : "code"}
          value={code}
          onInput={setCode}
          autoComplete="one-time-code"
          inputMode={useRecovery ? "text" : "numeric"}
          error={form.error.fields[useRecovery ? RECOVERY_CODE : CODE]}
          required
        />
        <p>
          <button
            type="button"
            class="button-link"
            onClick={() => {
              setUseRecovery(!useRecovery);
              setCode("");
            }}
          >
            {useRecovery ? "Use a code from the app instead" : "Use a recovery code instead"}
          </button>
        </p>
        <div>
          <button type="submit" class="button-danger" disabled={form.busy}>
            Turn off
          </button>
        </div>
      </form>
    </>
  );
}

export default function SecurityPage({ query }: PageProps) {
  const status = useApi<MfaStatus>("/api/auth/mfa/status");
  const [step, setStep] = useState<Step>({ kind: "status" });
  const [done, setDone] = useState<string>();
  // Where signing in again leads: the page that sent the person here (an admin page), else here.
  const next = query.has("next") ? nextPath(query) : "/account/security";
  const verified = me.value?.mfa?.session_verified === true;

  const back = (message?: string) => {
    setDone(message);
    setStep({ kind: "status" });
    status.reload();
  };

  return (
    <section class="account">
      <h1>Account security</h1>
      {me.value?.user && (
        <p class="muted">
          Signed in as {me.value.user.name} ({me.value.user.email}).
        </p>
      )}
      {step.kind === "enrolling" && (
        <ConfirmEnrolment
          enrolment={step.enrolment}
          onConfirmed={(codes) => {
            // GET /api/auth/me now says MFA is on (and that this session did not pass it).
            void loadMe().catch(() => {});
            setStep({ kind: "codes", codes, after: "enabled" });
          }}
          onCancel={() => back()}
        />
      )}
      {step.kind === "codes" && (
        <RecoveryCodes codes={step.codes} after={step.after} next={next} onDone={() => back()} />
      )}
      {step.kind === "status" && (
        <>
          {done && <Notice kind="success">{done}</Notice>}
          <h2>Two-step verification</h2>
          {status.error && <Notice kind="error">{messageOf(status.error)}</Notice>}
          {status.data === undefined && !status.error && <Loading />}
          {status.data && (
            <>
              <dl class="facts">
                <dt>Status</dt>
                <dd>
                  {status.data.enabled ? (
                    <span class="badge status-on">on</span>
                  ) : (
                    <span class="badge status-off">off</span>
                  )}
                </dd>
                {status.data.enabled && (
                  <>
                    <dt>On since</dt>
                    <dd>{when(status.data.enabled_at)}</dd>
                    <dt>Recovery codes left</dt>
                    <dd>{status.data.recovery_codes_left}</dd>
                    <dt>This session</dt>
                    <dd>{verified ? "signed in with a code" : "signed in without a code"}</dd>
                  </>
                )}
              </dl>
              {status.data.enabled && !verified && (
                <>
                  <Notice kind="info">
                    This session was signed in without a code, so the admin console refuses it. Sign in again with a
                    code from your app for a session that passed two-step verification.
                  </Notice>
                  <SignInAgainButton next={next} />
                </>
              )}
              {status.data.enabled ? (
                <>
                  <RegenerateForm
                    onCodes={(codes) => {
                      setDone(undefined);
                      setStep({ kind: "codes", codes, after: "regenerated" });
                    }}
                  />
                  <DisableForm
                    onDisabled={() => {
                      void loadMe().catch(() => {});
                      back("Two-step verification is off.");
                    }}
                  />
                </>
              ) : (
                <EnrolForm
                  pending={status.data.pending}
                  onStarted={(enrolment) => {
                    setDone(undefined);
                    setStep({ kind: "enrolling", enrolment });
                  }}
                />
              )}
            </>
          )}
        </>
      )}
    </section>
  );
}
