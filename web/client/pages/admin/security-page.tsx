/**
 * Keys and access: the encryption keys (the active key, the configured ids, every store's records
 * per key and in plaintext, problems), and impersonation: an operator with MFA views the console
 * as a user for support ("View as this user": this browser switches to them until Stop, the
 * layout's banner), or gets a short-lived token acting as them for the API; the reason is kept in
 * the audit log.
 */
import { useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { PageProps } from "../../route.ts";
import { navigate } from "../../router.ts";
import { viewAs } from "../../session.ts";
import { Field, messageOf, Notice, StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, isOperator, Loaded, Table } from "./admin-frame.tsx";

interface KeysAnswer {
  configured: boolean;
  active_key_id: string | null;
  key_ids: string[];
  stores: {
    name: string;
    description: string;
    records: number;
    plaintext: number;
    malformed: number;
    by_key: { key_id: string; records: number }[];
  }[];
  ok: boolean;
  problems: (string | { message?: string })[];
}

function Impersonate({ initialUserId }: { initialUserId: string }) {
  const [userId, setUserId] = useState(initialUserId);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [granted, setGranted] = useState<{ access_token: string; expires_in: number }>();
  const ask = () => ({ user_id: userId.trim(), reason: reason.trim() });
  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setGranted(undefined);
    try {
      await what();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  // The browser itself switches to the user (cookies; no token on the page), then shows their console.
  const viewAsUser = (e: Event) => {
    e.preventDefault();
    return run(async () => {
      const { user_id, reason } = ask();
      await viewAs(user_id, reason);
      navigate("/debates");
    });
  };
  const tokenForApi = () => run(async () => setGranted(await api.post("/api/admin/impersonate", ask())));
  return (
    <form class="stack narrow" onSubmit={viewAsUser}>
      <Field label="User id" value={userId} onInput={setUserId} required hint="The id of the account to act as." />
      <Field
        label="Reason"
        value={reason}
        onInput={setReason}
        required
        hint="A ticket number or a sentence: it is kept in the audit log."
      />
      <div class="actions">
        <button type="submit" disabled={busy}>
          View as this user
        </button>
        <button type="button" class="button-quiet" disabled={busy} onClick={tokenForApi}>
          Get an API token
        </button>
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      {granted && (
        <Notice kind="success">
          A token acting as the user for {Math.round(granted.expires_in / 60)} minutes (shown only now; use it as{" "}
          <code>Authorization: Bearer</code>): <span class="mono">{granted.access_token}</span>
        </Notice>
      )}
    </form>
  );
}

export default function SecurityPage({ query }: PageProps) {
  const keys = useApi<KeysAnswer>("/api/admin/keys");
  return (
    <AdminFrame title="Keys and access">
      <h2>Encryption keys</h2>
      <Loaded state={keys}>
        {(k) => (
          <>
            <dl class="facts">
              <dt>Status</dt>
              <dd>
                <StatusBadge status={k.ok ? "ok" : "problems"} tone={k.ok ? "good" : "bad"} />
                {!k.configured && " · no encryption key is configured"}
              </dd>
              <dt>Active key</dt>
              <dd class="mono">{k.active_key_id ?? "none"}</dd>
              <dt>Configured keys</dt>
              <dd class="mono">{k.key_ids.join(", ") || "none"}</dd>
            </dl>
            {k.problems.length > 0 && (
              <Notice kind="error">
                <ul>
                  {k.problems.map((p) => {
                    const text = typeof p === "string" ? p : (p.message ?? JSON.stringify(p));
                    return <li key={text}>{text}</li>;
                  })}
                </ul>
              </Notice>
            )}
            <Table caption="Encrypted stores" head={["Store", "Records", "Per key", "Plaintext", "Malformed"]}>
              {k.stores.map((s) => (
                <tr key={s.name}>
                  <td>
                    {s.name}
                    <br />
                    <span class="muted">{s.description}</span>
                  </td>
                  <td>{s.records}</td>
                  <td class="mono">{s.by_key.map((b) => `${b.key_id}: ${b.records}`).join(", ")}</td>
                  <td>{s.plaintext}</td>
                  <td>{s.malformed}</td>
                </tr>
              ))}
            </Table>
          </>
        )}
      </Loaded>
      <h2>Impersonation</h2>
      <p>
        View the console as a user to see what they see, for support.{" "}
        {isOperator() ? "" : "Only an operator with MFA may. "}Every start and stop is recorded in the audit log with
        its reason. It lasts 15 minutes at most, cannot administer, make keys or change the user's sign-in, and Stop (on
        every page while it lasts) brings your own session back.
      </p>
      {query.get("ended") === "expired" && (
        <Notice kind="info">Viewing as a user ended after its 15 minutes: you are yourself again.</Notice>
      )}
      <Impersonate initialUserId={query.get("user_id") ?? ""} />
    </AdminFrame>
  );
}
