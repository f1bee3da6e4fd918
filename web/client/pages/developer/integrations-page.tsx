/**
 * The organisation's integrations: where debates' outcomes are posted (Slack, Discord, Teams
 * incoming webhooks, or an OAuth2-protected endpoint). Listed with their credentials as "set" and
 * last four characters only (GET /api/integrations), added (POST /api/integrations: the
 * credentials are sealed at rest and never answered), removed (DELETE /api/integrations/:id).
 * Needs `integrations.manage`.
 */
import { useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { when } from "../../format.ts";
import { me } from "../../session.ts";
import { Field, Loading, messageOf, Notice, TableRegion, useApi } from "../../ui.tsx";
import { DeveloperNav, NotGranted, Select } from "./developer-nav.tsx";

type Kind = "slack" | "discord" | "teams" | "oauth2";
const KINDS: { value: Kind; label: string }[] = [
  { value: "slack", label: "Slack" },
  { value: "discord", label: "Discord" },
  { value: "teams", label: "Microsoft Teams" },
  { value: "oauth2", label: "OAuth2 endpoint" },
];

interface Integration {
  id: string;
  kind: Kind;
  name: string;
  enabled: boolean;
  disabled_reason: string | null;
  settings: { token_url?: string; resource_url?: string; client_id?: string };
  credentials: Record<string, { set: boolean; last_four: string | null }>;
  created_at: string;
}

/** The form's fields by the server's names (body.<name> in its complaints). */
type Form = Record<
  "name" | "webhook_url" | "token_url" | "resource_url" | "client_id" | "client_secret" | "refresh_token",
  string
>;
const EMPTY: Form = {
  name: "",
  webhook_url: "",
  token_url: "",
  resource_url: "",
  client_id: "",
  client_secret: "",
  refresh_token: "",
};

function CreateIntegration({ onCreated }: { onCreated: () => void }) {
  const [kind, setKind] = useState<Kind>("slack");
  const [form, setForm] = useState<Form>(EMPTY);
  const [errors, setErrors] = useState<Partial<Form>>({});
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (name: keyof Form) => (value: string) => setForm((f) => ({ ...f, [name]: value }));
  const fields: (keyof Form)[] =
    kind === "oauth2" ? ["token_url", "resource_url", "client_id", "client_secret", "refresh_token"] : ["webhook_url"];

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setErrors({});
    try {
      const body: Record<string, string> = { kind, name: form.name.trim() };
      for (const f of fields) if (form[f].trim() !== "") body[f] = form[f].trim();
      await api.post("/api/integrations", body);
      setForm(EMPTY);
      onCreated();
    } catch (err) {
      if (err instanceof ApiError) {
        const found: Partial<Form> = {};
        for (const d of err.details) found[d.field.replace(/^body\./, "") as keyof Form] = `It ${d.rule}.`;
        setErrors(found);
      }
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const label: Record<keyof Form, string> = {
    name: "Integration name",
    webhook_url: "Incoming webhook URL",
    token_url: "Token URL",
    resource_url: "Resource URL",
    client_id: "Client id",
    client_secret: "Client secret",
    refresh_token: "Refresh token",
  };
  const secret = (f: keyof Form) => f === "client_secret" || f === "refresh_token" || f === "webhook_url";
  return (
    <form onSubmit={submit} aria-label="Add an integration">
      <div class="form-grid">
        <Select label="Kind" value={kind} onChange={setKind} options={KINDS} />
        <Field
          label={label.name}
          value={form.name}
          onInput={set("name")}
          required
          maxLength={100}
          error={errors.name}
        />
        {fields.map((f) => (
          <Field
            key={`${kind}-${f}`}
            label={label[f]}
            type={f.endsWith("_url") ? "url" : secret(f) ? "password" : "text"}
            autoComplete="off"
            value={form[f]}
            onInput={set(f)}
            required
            error={errors[f]}
            hint={secret(f) ? "Stored sealed; shown afterwards by its last four characters only." : undefined}
          />
        ))}
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      <button type="submit" disabled={busy}>
        Add integration
      </button>
    </form>
  );
}

function IntegrationTable({ list, onRemoved }: { list: Integration[]; onRemoved: () => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const remove = async (i: Integration) => {
    if (!confirm(`Remove the integration "${i.name}" with its deliveries?`)) return;
    setBusy(i.id);
    setError(undefined);
    try {
      await api.delete(`/api/integrations/${encodeURIComponent(i.id)}`);
      onRemoved();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  };
  if (list.length === 0) return <p>No integrations yet.</p>;
  return (
    <>
      {error && <Notice kind="error">{error}</Notice>}
      <TableRegion label="Integrations">
        <table>
          <caption class="visually-hidden">Integrations</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Kind</th>
              <th scope="col">Credentials</th>
              <th scope="col">State</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((i) => (
              <tr key={i.id}>
                <td>{i.name}</td>
                <td>{KINDS.find((k) => k.value === i.kind)?.label ?? i.kind}</td>
                <td>
                  {Object.entries(i.credentials).map(([name, c]) => (
                    <div key={name}>
                      {name}: {c.set ? <code>…{c.last_four ?? ""}</code> : <span class="muted">not set</span>}
                    </div>
                  ))}
                </td>
                <td>{i.enabled ? "enabled" : `disabled${i.disabled_reason ? `: ${i.disabled_reason}` : ""}`}</td>
                <td>{when(i.created_at)}</td>
                <td>
                  <button
                    type="button"
                    class="button-quiet"
                    disabled={busy === i.id}
                    onClick={() => remove(i)}
                    aria-label={`Remove ${i.name}`}
                  >
                    Remove
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableRegion>
    </>
  );
}

function Integrations() {
  const list = useApi<{ integrations: Integration[] }>("/api/integrations");
  const [added, setAdded] = useState(false);
  return (
    <>
      <p>Each debate's outcome is posted to every enabled integration when the debate ends.</p>
      {added && <Notice kind="success">Integration added.</Notice>}
      <CreateIntegration
        onCreated={() => {
          setAdded(true);
          list.reload();
        }}
      />
      <h2>The organisation's integrations</h2>
      {list.loading && !list.data && <Loading />}
      {list.error && <Notice kind="error">{messageOf(list.error)}</Notice>}
      {list.data && <IntegrationTable list={list.data.integrations} onRemoved={list.reload} />}
    </>
  );
}

export default function IntegrationsPage() {
  const canManage = me.value?.permissions.includes("integrations.manage") ?? false;
  return (
    <section class="developer">
      <h1>Integrations</h1>
      <DeveloperNav />
      {canManage ? (
        <Integrations />
      ) : (
        <NotGranted what="manage the organisation's integrations" permission="integrations.manage" />
      )}
    </section>
  );
}
