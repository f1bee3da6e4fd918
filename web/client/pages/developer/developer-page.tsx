/**
 * The developer portal's start: the organisation's API keys (GET /api/auth/api-keys: listed
 * without the keys; POST /api/auth/api-key: made, the key shown once with a copy button;
 * DELETE /api/auth/api-keys/:id: revoked), its own provider keys (GET /api/org/provider-keys, last
 * four characters only), and where the API is documented (the Swagger UI).
 */
import { useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { when } from "../../format.ts";
import { me } from "../../session.ts";
import { Field, Loading, messageOf, Notice, TableRegion, useApi } from "../../ui.tsx";
import { DeveloperNav, NotGranted, Select, ShownOnce } from "./developer-nav.tsx";

type Role = "viewer" | "member" | "admin" | "owner";
const ROLES: Role[] = ["viewer", "member", "admin", "owner"];

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  last_four: string;
  role: Role;
  kind: "user" | "service";
  scopes: string[];
  created_at: string;
  last_used_at: string | null;
}

interface CreatedKey extends Omit<ApiKey, "last_used_at"> {
  key: string;
}

/** The organisation role of the person (the highest), which a key may not exceed. */
function ownRank(): number {
  const roles = me.value?.roles ?? [];
  if (roles.includes("operator")) return ROLES.length - 1;
  return Math.max(-1, ...roles.map((r) => ROLES.indexOf(r as Role)));
}

function CreateKey({ onCreated }: { onCreated: (key: CreatedKey) => void }) {
  const rank = ownRank();
  const allowed = ROLES.filter((_, i) => i <= rank);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>(allowed.includes("member") ? "member" : (allowed[0] ?? "viewer"));
  const [kind, setKind] = useState<"user" | "service">("user");
  const [error, setError] = useState<string>();
  const [nameError, setNameError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setNameError(undefined);
    try {
      const created = await api.post<CreatedKey>("/api/auth/api-key", { name: name.trim(), role, kind });
      setName("");
      onCreated(created);
    } catch (err) {
      const named = err instanceof ApiError ? err.details.find((d) => d.field === "body.name") : undefined;
      if (named) setNameError(`The name ${named.rule}.`);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Create an API key">
      <div class="form-grid">
        <Field label="Key name" value={name} onInput={setName} required maxLength={100} error={nameError} />
        <Select
          label="Role"
          value={role}
          onChange={setRole}
          options={allowed.map((r) => ({ value: r, label: r }))}
          hint="At most your own role."
        />
        {rank >= ROLES.indexOf("admin") && (
          <Select
            label="Kind"
            value={kind}
            onChange={setKind}
            options={[
              { value: "user", label: "user (acts as you)" },
              { value: "service", label: "service (outlives you)" },
            ]}
          />
        )}
      </div>
      {error && <Notice kind="error">{error}</Notice>}
      <button type="submit" disabled={busy}>
        Create API key
      </button>
    </form>
  );
}

function KeyTable({ keys, onRevoked }: { keys: ApiKey[]; onRevoked: () => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const revoke = async (key: ApiKey) => {
    if (!confirm(`Revoke the API key "${key.name}"? Whatever uses it stops working within a second.`)) return;
    setBusy(key.id);
    setError(undefined);
    try {
      await api.delete(`/api/auth/api-keys/${encodeURIComponent(key.id)}`);
      onRevoked();
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(undefined);
    }
  };
  if (keys.length === 0) return <p>No API keys yet.</p>;
  return (
    <>
      {error && <Notice kind="error">{error}</Notice>}
      <TableRegion label="API keys">
        <table>
          <caption class="visually-hidden">API keys</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Key</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.map((k) => (
              <tr key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code class="nowrap">
                    {k.prefix}…{k.last_four}
                  </code>
                </td>
                <td>
                  {k.role}
                  {k.kind === "service" && <span class="muted"> · service</span>}
                </td>
                <td>{when(k.created_at)}</td>
                <td>{when(k.last_used_at)}</td>
                <td>
                  <button
                    type="button"
                    class="button-quiet"
                    onClick={() => revoke(k)}
                    disabled={busy === k.id}
                    aria-label={`Revoke ${k.name}`}
                  >
                    Revoke
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

function Keys() {
  const keys = useApi<{ api_keys: ApiKey[] }>("/api/auth/api-keys");
  const [created, setCreated] = useState<CreatedKey>();
  return (
    <>
      {created && (
        <ShownOnce
          label="API key"
          copyLabel="Copy the API key"
          value={created.key}
          onDone={() => setCreated(undefined)}
        >
          <p class="once-title">
            Send it as <code>Authorization: Bearer …</code> or <code>X-API-Key</code>.
          </p>
        </ShownOnce>
      )}
      <CreateKey
        onCreated={(key) => {
          setCreated(key);
          keys.reload();
        }}
      />
      <h3 class="visually-hidden">The organisation's keys</h3>
      {keys.loading && !keys.data && <Loading />}
      {keys.error && <Notice kind="error">{messageOf(keys.error)}</Notice>}
      {keys.data && <KeyTable keys={keys.data.api_keys} onRevoked={keys.reload} />}
    </>
  );
}

interface ProviderKey {
  provider: string;
  last_four: string;
  updated_at: string;
  updated_by: string;
}

function ProviderKeys() {
  const keys = useApi<{ provider_keys: ProviderKey[]; providers: string[] }>("/api/org/provider-keys");
  if (keys.loading) return <Loading />;
  if (keys.error) return <Notice kind="error">{messageOf(keys.error)}</Notice>;
  const list = keys.data?.provider_keys ?? [];
  return (
    <>
      <p>
        The organisation's own keys for model providers: its debates call a provider with its key when it set one, else
        with the server's. Set one with <code>PUT /api/org/provider-keys/&lt;provider&gt;</code> (providers:{" "}
        {(keys.data?.providers ?? []).join(", ")}).
      </p>
      {list.length === 0 ? (
        <p>No provider keys of the organisation's own: the server's keys apply.</p>
      ) : (
        <TableRegion label="Provider keys">
          <table>
            <caption class="visually-hidden">Provider keys</caption>
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Key</th>
                <th scope="col">Set</th>
              </tr>
            </thead>
            <tbody>
              {list.map((k) => (
                <tr key={k.provider}>
                  <td>{k.provider}</td>
                  <td>
                    <code>…{k.last_four}</code>
                  </td>
                  <td>{when(k.updated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </>
  );
}

export default function DeveloperPage() {
  const canManageKeys = me.value?.permissions.includes("keys.manage") ?? false;
  return (
    <section class="developer">
      <h1>Developer</h1>
      <DeveloperNav />
      <p>
        Everything this console does goes through the public API, documented in the <a href="/swagger">Swagger UI</a>{" "}
        (OpenAPI at <a href="/swagger/json">/swagger/json</a>). The <a href="/developer/quick-start">quick start</a> has
        curl and TypeScript to copy.
      </p>
      <h2>API keys</h2>
      {canManageKeys ? <Keys /> : <NotGranted what="manage the organisation's API keys" permission="keys.manage" />}
      <h2>Provider keys</h2>
      {canManageKeys ? (
        <ProviderKeys />
      ) : (
        <NotGranted what="see the organisation's provider keys" permission="keys.manage" />
      )}
    </section>
  );
}
