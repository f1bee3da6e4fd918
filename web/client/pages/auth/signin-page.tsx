/**
 * Sign-in: email and password; for an account with MFA, a second step asking for the code of its
 * authenticator app (or a recovery code). A provider's sign-in (OAuth) with MFA comes back here
 * with `?mfa=required`: its challenge is in a cookie, so only the code is asked for. A refused
 * provider sign-in comes back with `?error=<code>`.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import type { PageProps } from "../../route.ts";
import { navigate } from "../../router.ts";
import { loadMe, me } from "../../session.ts";
import { Field, messageOf, Notice } from "../../ui.tsx";
import { nextPath } from "./after-sign-in.ts";

/** A provider the server offers (GET /api/auth/oauth/providers). */
interface Provider {
  name: string;
  label: string;
  start_url: string;
}

/**
 * The provider buttons: links that leave for the provider (a page load) and come back to this page
 * with where to go next, so a second step (`mfa=required`) is asked for here.
 */
function ProviderButtons({ next }: { next: string }) {
  const [providers, setProviders] = useState<Provider[]>([]);
  useEffect(() => {
    api.get<{ providers: Provider[] }>("/api/auth/oauth/providers").then(
      (answer) => setProviders(answer.providers),
      // No list, no buttons: the password form still works.
      () => setProviders([]),
    );
  }, []);
  if (providers.length === 0) return null;
  const returnTo = `/signin?next=${encodeURIComponent(next)}`;
  return (
    <div class="providers">
      <p class="or">or</p>
      {providers.map((p) => (
        <a
          key={p.name}
          class="button button-secondary"
          href={`${p.start_url}?return_to=${encodeURIComponent(returnTo)}`}
        >
          Sign in with {p.label}
        </a>
      ))}
    </div>
  );
}

interface Challenge {
  mfa_required: true;
  challenge_token: string;
  expires_in: number;
  methods: string[];
}

/** What a provider's refusal (`?error=`) means to the person. */
const PROVIDER_ERRORS: Record<string, string> = {
  access_denied: "The sign-in was cancelled at the provider.",
  signup_closed: "No account here matches that identity, and sign-up is closed: ask an owner for an account.",
};

export default function SignInPage({ query }: PageProps) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const [useRecovery, setUseRecovery] = useState(false);
  // The second step: a challenge from the password sign-in, or "cookie" after a provider's.
  const [challenge, setChallenge] = useState<string | "cookie" | undefined>(
    query.get("mfa") === "required" ? "cookie" : undefined,
  );
  const [error, setError] = useState<string | undefined>(
    query.get("error")
      ? (PROVIDER_ERRORS[query.get("error") as string] ?? `Sign-in refused: ${query.get("error")}.`)
      : undefined,
  );
  const [busy, setBusy] = useState(false);

  // The second step replaces the form: the code field takes the focus the password field had.
  useEffect(() => {
    if (challenge !== undefined)
      document.querySelector<HTMLInputElement>("input[name=code], input[name=recovery_code]")?.focus();
  }, [challenge, useRecovery]);

  // Already signed in (a reload, a bookmark): straight on.
  useEffect(() => {
    if (me.value) navigate(nextPath(query), { replace: true });
  }, [me.value]);

  const signedIn = async () => {
    await loadMe();
    navigate(nextPath(query), { replace: true });
  };

  const submitPassword = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const answer = await api.post<Challenge | { access_token: string }>("/api/auth/sign-in", { email, password });
      setPassword("");
      if ("mfa_required" in answer) setChallenge(answer.challenge_token);
      else await signedIn();
    } catch (err) {
      setError(
        err instanceof ApiError && err.code === "invalid_credentials" ? "Wrong email or password." : messageOf(err),
      );
    } finally {
      setBusy(false);
    }
  };

  const submitCode = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    const proof = useRecovery ? { recovery_code: code.trim() } : { code: code.replace(/\s+/g, "") };
    try {
      await api.post("/api/auth/mfa/verify", challenge === "cookie" ? proof : { challenge_token: challenge, ...proof });
      await signedIn();
    } catch (err) {
      setCode("");
      if (err instanceof ApiError && err.code === "invalid_mfa_challenge") {
        setChallenge(undefined);
        setError("The sign-in took too long: enter your password again.");
      } else if (err instanceof ApiError && err.code === "invalid_mfa_code") {
        setError(useRecovery ? "Wrong recovery code." : "Wrong code: enter the 6 digits your app shows now.");
      } else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (challenge !== undefined) {
    return (
      <section class="narrow">
        <h1>Two-step verification</h1>
        <p>
          {useRecovery
            ? "Enter one of the recovery codes you saved when you turned on two-step verification. Each works once."
            : "Enter the 6-digit code your authenticator app shows for Aragora."}
        </p>
        {error && <Notice kind="error">{error}</Notice>}
        <form onSubmit={submitCode} class="stack">
          <Field
            label={useRecovery ? "Recovery code" : "Code"}
            name={useRecovery ? "recovery_code" : "code"}
            value={code}
            onInput={setCode}
            autoComplete="one-time-code"
            inputMode={useRecovery ? "text" : "numeric"}
            required
          />
          <button type="submit" disabled={busy}>
            Verify
          </button>
        </form>
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
      </section>
    );
  }

  return (
    <section class="narrow">
      <h1>Sign in</h1>
      {error && <Notice kind="error">{error}</Notice>}
      <form onSubmit={submitPassword} class="stack">
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onInput={setEmail}
          autoComplete="username"
          required
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
          required
        />
        <button type="submit" disabled={busy}>
          Sign in
        </button>
      </form>
      <ProviderButtons next={nextPath(query)} />
      <p class="muted">
        First start of this server? <a href="/setup">Claim the owner account</a> with the setup token.
      </p>
    </section>
  );
}
