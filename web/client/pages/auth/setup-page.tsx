/**
 * The first start's claim: the setup token the server printed (and wrote to
 * `<data dir>/setup-token`) makes the owner account of the first organisation. Once claimed the
 * server answers 410 and the page says to sign in instead.
 */
import { useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { navigate } from "../../router.ts";
import { HOME } from "../../routes.ts";
import { loadMe } from "../../session.ts";
import { Field, messageOf, Notice } from "../../ui.tsx";

/** The server's field name for each input, to put its complaint beside the right one. */
type FieldName = "setup_token" | "email" | "password" | "name";

export default function SetupPage() {
  const [token, setToken] = useState("");
  const [name, setName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string>();
  const [claimed, setClaimed] = useState(false);
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<FieldName, string>>>({});
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setFieldErrors({});
    try {
      await api.post("/api/auth/setup", {
        setup_token: token.trim(),
        email,
        password,
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      await loadMe();
      navigate(HOME, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.code === "setup_claimed") setClaimed(true);
      else if (err instanceof ApiError && err.code === "invalid_setup_token") {
        setFieldErrors({ setup_token: "This is not the server's setup token." });
      } else if (err instanceof ApiError && err.details.length > 0) {
        const found: Partial<Record<FieldName, string>> = {};
        for (const d of err.details) found[d.field.replace(/^body\./, "") as FieldName] = `It ${d.rule}.`;
        setFieldErrors(found);
        setError(messageOf(err));
      } else setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  if (claimed) {
    return (
      <section class="narrow">
        <h1>Claim the owner account</h1>
        <Notice kind="info">
          This server's owner account has been claimed already. <a href="/signin">Sign in</a>, or ask an owner for an
          account.
        </Notice>
      </section>
    );
  }

  return (
    <section class="narrow">
      <h1>Claim the owner account</h1>
      <p>
        On its first start the server printed a one-time setup token (it is also in the file <code>setup-token</code> of
        its data directory). It makes you the owner of the first organisation.
      </p>
      {error && <Notice kind="error">{error}</Notice>}
      <form onSubmit={submit} class="stack">
        <Field
          label="Setup token"
          name="setup_token"
          value={token}
          onInput={setToken}
          autoComplete="off"
          required
          error={fieldErrors.setup_token}
        />
        <Field
          label="Your name"
          name="name"
          value={name}
          onInput={setName}
          autoComplete="name"
          error={fieldErrors.name}
        />
        <Field
          label="Email"
          name="email"
          type="email"
          value={email}
          onInput={setEmail}
          autoComplete="username"
          required
          error={fieldErrors.email}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="new-password"
          hint="At least 12 characters."
          required
          error={fieldErrors.password}
        />
        <button type="submit" disabled={busy}>
          Claim the owner account
        </button>
      </form>
    </section>
  );
}
