/**
 * The organisation's webhooks: its endpoints (GET /api/webhooks), a new one (POST /api/webhooks:
 * its signing secret shown once), and the dead letters, each sent again on request
 * (GET /api/webhooks/dead-letters, POST /api/webhooks/dead-letters/:id/retry). An endpoint's own
 * page has its deliveries, the test event and the secret's rotation. Needs `webhooks.manage`.
 */
import { useState } from "preact/hooks";
import { ApiError, api } from "../../api.ts";
import { when } from "../../format.ts";
import { me } from "../../session.ts";
import { Field, Loading, messageOf, Notice, StatusBadge, TableRegion, useApi } from "../../ui.tsx";
import { DeveloperNav, NotGranted, ShownOnce } from "./developer-nav.tsx";
import { type Delivery, EVENT_TYPES, type Webhook, type WebhookWithSecret } from "./webhook-types.ts";

function CreateWebhook({ onCreated }: { onCreated: (hook: WebhookWithSecret) => void }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [types, setTypes] = useState<string[]>([]);
  const [error, setError] = useState<string>();
  const [urlError, setUrlError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const toggle = (t: string) => setTypes((now) => (now.includes(t) ? now.filter((x) => x !== t) : [...now, t]));

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setUrlError(undefined);
    try {
      const hook = await api.post<WebhookWithSecret>("/api/webhooks", {
        url: url.trim(),
        event_types: types,
        ...(description.trim() ? { description: description.trim() } : {}),
      });
      setUrl("");
      setDescription("");
      setTypes([]);
      onCreated(hook);
    } catch (err) {
      const named = err instanceof ApiError ? err.details.find((d) => d.field === "body.url") : undefined;
      if (named) setUrlError(`The URL ${named.rule}.`);
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} aria-label="Add a webhook">
      <div class="form-grid">
        <Field
          label="Endpoint URL"
          type="url"
          value={url}
          onInput={setUrl}
          required
          error={urlError}
          hint="Where the server POSTs signed events (https in production)."
        />
        <Field label="Description" value={description} onInput={setDescription} maxLength={500} />
      </div>
      <fieldset>
        <legend>Event types (none: all of them)</legend>
        <div class="checks">
          {EVENT_TYPES.map((t) => (
            <label key={t}>
              <input type="checkbox" checked={types.includes(t)} onChange={() => toggle(t)} />
              {t}
            </label>
          ))}
        </div>
      </fieldset>
      {error && <Notice kind="error">{error}</Notice>}
      <p class="form-actions">
        <button type="submit" disabled={busy}>
          Add webhook
        </button>
      </p>
    </form>
  );
}

function Endpoints({ hooks }: { hooks: Webhook[] }) {
  if (hooks.length === 0) return <p>No webhooks yet.</p>;
  return (
    <TableRegion label="Webhook endpoints">
      <table>
        <caption class="visually-hidden">Webhook endpoints</caption>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Events</th>
            <th scope="col">State</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {hooks.map((h) => (
            <tr key={h.id}>
              <td>
                <a href={`/developer/webhooks/${encodeURIComponent(h.id)}`}>
                  <code>{h.url}</code>
                </a>
                {h.description && <div class="muted">{h.description}</div>}
              </td>
              <td>{h.event_types.length === 0 ? "all" : h.event_types.join(", ")}</td>
              <td>
                {h.enabled ? "enabled" : `disabled${h.disabled_reason ? `: ${h.disabled_reason}` : ""}`}
                {h.circuit_breaker && h.circuit_breaker.state !== "closed" && (
                  <div class="muted">circuit {h.circuit_breaker.state.replace("_", " ")}</div>
                )}
              </td>
              <td>{when(h.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}

function DeadLetters({ hooks }: { hooks: Webhook[] }) {
  const dead = useApi<{ dead_letters: Delivery[] }>("/api/webhooks/dead-letters?limit=100");
  const [said, setSaid] = useState<{ kind: "error" | "success"; text: string }>();
  const [busy, setBusy] = useState<string>();
  const urlOf = (id: string) => hooks.find((h) => h.id === id)?.url ?? id;
  const retry = async (d: Delivery) => {
    setBusy(d.delivery_id);
    setSaid(undefined);
    try {
      await api.post(`/api/webhooks/dead-letters/${encodeURIComponent(d.delivery_id)}/retry`);
      setSaid({ kind: "success", text: `Delivery ${d.delivery_id} is queued again with a fresh retry budget.` });
      dead.reload();
    } catch (err) {
      setSaid({ kind: "error", text: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <>
      {said && <Notice kind={said.kind}>{said.text}</Notice>}
      {dead.loading && !dead.data && <Loading />}
      {dead.error && <Notice kind="error">{messageOf(dead.error)}</Notice>}
      {dead.data && dead.data.dead_letters.length === 0 && (
        <p>No dead letters: every delivery arrived or is on its way.</p>
      )}
      {dead.data && dead.data.dead_letters.length > 0 && (
        <TableRegion label="Dead-lettered deliveries">
          <table>
            <caption class="visually-hidden">Dead-lettered deliveries</caption>
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Event</th>
                <th scope="col">Attempts</th>
                <th scope="col">Last answer</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {dead.data.dead_letters.map((d) => (
                <tr key={d.delivery_id}>
                  <td>
                    <code>{d.delivery_id}</code>
                    <div class="muted">{when(d.updated_at)}</div>
                  </td>
                  <td>
                    <a href={`/developer/webhooks/${encodeURIComponent(d.webhook_id)}`}>
                      <code>{urlOf(d.webhook_id)}</code>
                    </a>
                  </td>
                  <td>{d.event_type}</td>
                  <td>{d.attempts}</td>
                  <td>
                    <StatusBadge status={d.state} /> {d.last_status ?? d.last_error ?? "—"}
                  </td>
                  <td>
                    <button
                      type="button"
                      class="button-quiet"
                      disabled={busy === d.delivery_id}
                      onClick={() => retry(d)}
                      aria-label={`Retry delivery ${d.delivery_id}`}
                    >
                      Retry
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableRegion>
      )}
    </>
  );
}

function Webhooks() {
  const hooks = useApi<{ webhooks: Webhook[] }>("/api/webhooks");
  const [created, setCreated] = useState<WebhookWithSecret>();
  return (
    <>
      {created && (
        <ShownOnce
          label="Signing secret"
          copyLabel="Copy the signing secret"
          value={created.secret}
          onDone={() => setCreated(undefined)}
        >
          <p class="once-title">
            For <a href={`/developer/webhooks/${encodeURIComponent(created.id)}`}>{created.url}</a>: check each
            delivery's signature with it.
          </p>
        </ShownOnce>
      )}
      <CreateWebhook
        onCreated={(hook) => {
          setCreated(hook);
          hooks.reload();
        }}
      />
      <h2>Endpoints</h2>
      {hooks.loading && !hooks.data && <Loading />}
      {hooks.error && <Notice kind="error">{messageOf(hooks.error)}</Notice>}
      {hooks.data && <Endpoints hooks={hooks.data.webhooks} />}
      <h2>Dead letters</h2>
      <DeadLetters hooks={hooks.data?.webhooks ?? []} />
    </>
  );
}

export default function WebhooksPage() {
  const canManage = me.value?.permissions.includes("webhooks.manage") ?? false;
  return (
    <section class="developer">
      <h1>Webhooks</h1>
      <DeveloperNav />
      {canManage ? <Webhooks /> : <NotGranted what="manage the organisation's webhooks" permission="webhooks.manage" />}
    </section>
  );
}
