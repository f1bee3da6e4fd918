/**
 * One webhook endpoint: its settings, a test event sent through the same durable path as real
 * ones (POST /api/webhooks/:id/test), the signing secret's rotation with an overlap during which
 * the old one still signs (POST /api/webhooks/:id/rotate-secret: the new secret shown once),
 * enabling, disabling and removing it, and its delivery log, newest first, each delivery with its
 * attempts (GET /api/webhooks/:id/deliveries), refreshed while a delivery is on its way.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { navigate } from "../../router.ts";
import { me } from "../../session.ts";
import { Field, Loading, messageOf, Notice, StatusBadge, TableRegion, useApi } from "../../ui.tsx";
import { DeveloperNav, NotGranted, ShownOnce } from "./developer-nav.tsx";
import type { Delivery, Webhook, WebhookWithSecret } from "./webhook-types.ts";

/** How often the log is read again while a delivery is still pending or retrying. */
const REFRESH_MS = 1500;

function Attempts({ delivery }: { delivery: Delivery }) {
  const history = delivery.history ?? [];
  if (history.length === 0) return <span class="muted">no attempt yet</span>;
  return (
    <ol class="attempts" aria-label={`Attempts of ${delivery.delivery_id}`}>
      {history.map((a) => (
        <li key={a.attempt}>
          {when(a.at)}: {a.status !== null ? `HTTP ${a.status}` : "no answer"}
          {a.error && ` (${a.error})`}, {Math.round(a.latency_ms)} ms
        </li>
      ))}
    </ol>
  );
}

function DeliveryLog({ id, version }: { id: string; version: number }) {
  const log = useApi<{ deliveries: Delivery[] }>(`/api/webhooks/${encodeURIComponent(id)}/deliveries?limit=50`);
  useEffect(() => {
    if (version > 0) log.reload();
  }, [version]);
  // While a delivery is on its way, read the log again until each has arrived or given up.
  const moving = log.data?.deliveries.some((d) => d.state !== "DELIVERED" && d.state !== "DEAD_LETTERED") ?? false;
  useEffect(() => {
    if (!moving) return;
    const timer = setTimeout(log.reload, REFRESH_MS);
    return () => clearTimeout(timer);
  }, [moving, log.data]);
  if (log.loading && !log.data) return <Loading />;
  if (log.error) return <Notice kind="error">{messageOf(log.error)}</Notice>;
  const list = log.data?.deliveries ?? [];
  if (list.length === 0) return <p>No deliveries yet: send a test event.</p>;
  return (
    <TableRegion label="Deliveries">
      <table>
        <caption class="visually-hidden">Deliveries</caption>
        <thead>
          <tr>
            <th scope="col">Delivery</th>
            <th scope="col">Event</th>
            <th scope="col">State</th>
            <th scope="col">Attempts</th>
          </tr>
        </thead>
        <tbody>
          {list.map((d) => (
            <tr key={d.delivery_id}>
              <td>
                <code>{d.delivery_id}</code>
                <div class="muted">{when(d.created_at)}</div>
              </td>
              <td>{d.event_type}</td>
              <td>
                <StatusBadge status={d.state} />
                {d.next_attempt_at && d.state === "RETRYING" && <div class="muted">next {when(d.next_attempt_at)}</div>}
              </td>
              <td>
                {d.attempts}
                <Attempts delivery={d} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableRegion>
  );
}

function Endpoint({ hook, reload }: { hook: Webhook; reload: () => void }) {
  const [said, setSaid] = useState<{ kind: "error" | "success"; text: string }>();
  const [secret, setSecret] = useState<string>();
  const [overlap, setOverlap] = useState("");
  const [busy, setBusy] = useState(false);
  const [version, setVersion] = useState(0);
  const path = `/api/webhooks/${encodeURIComponent(hook.id)}`;

  const act = async (what: () => Promise<string | undefined>) => {
    setBusy(true);
    setSaid(undefined);
    try {
      const text = await what();
      if (text) setSaid({ kind: "success", text });
    } catch (err) {
      setSaid({ kind: "error", text: messageOf(err) });
    } finally {
      setBusy(false);
    }
  };
  const sendTest = () =>
    act(async () => {
      const sent = await api.post<{ delivery_id: string }>(`${path}/test`);
      setVersion((v) => v + 1);
      return `Test event queued as delivery ${sent.delivery_id}: follow it in the log below.`;
    });
  const rotate = (event: Event) => {
    event.preventDefault();
    return act(async () => {
      const body = overlap.trim() === "" ? {} : { overlap_seconds: Number(overlap) };
      const rotated = await api.post<WebhookWithSecret>(`${path}/rotate-secret`, body);
      setSecret(rotated.secret);
      setOverlap("");
      reload();
      return undefined;
    });
  };
  const setEnabled = (enabled: boolean) =>
    act(async () => {
      await api.patch(path, { enabled });
      reload();
      return enabled ? "Enabled." : "Disabled: no event is sent to it until it is enabled again.";
    });
  const remove = () => {
    if (!confirm(`Remove the webhook ${hook.url} with its deliveries?`)) return;
    return act(async () => {
      await api.delete(path);
      navigate("/developer/webhooks");
      return undefined;
    });
  };

  return (
    <>
      <p>
        Endpoint: <code>{hook.url}</code>
      </p>
      <dl class="figures">
        <div>
          <dt>Events</dt>
          <dd>{hook.event_types.length === 0 ? "all" : hook.event_types.join(", ")}</dd>
        </div>
        <div>
          <dt>State</dt>
          <dd>
            {hook.enabled ? "enabled" : "disabled"}
            {hook.circuit_breaker && <span class="muted">circuit {hook.circuit_breaker.state.replace("_", " ")}</span>}
          </dd>
        </div>
      </dl>
      {hook.description && <p>{hook.description}</p>}
      {hook.disabled_reason && <Notice kind="info">Disabled: {hook.disabled_reason}</Notice>}
      {hook.previous_secret_expires_at && (
        <p class="muted">The previous secret still signs deliveries until {when(hook.previous_secret_expires_at)}.</p>
      )}
      {said && <Notice kind={said.kind}>{said.text}</Notice>}
      {secret && (
        <ShownOnce
          label="Signing secret"
          copyLabel="Copy the signing secret"
          value={secret}
          onDone={() => setSecret(undefined)}
        />
      )}
      <p class="row-actions">
        <button type="button" onClick={sendTest} disabled={busy || !hook.enabled}>
          Send a test event
        </button>
        <button type="button" class="button-quiet" onClick={() => setEnabled(!hook.enabled)} disabled={busy}>
          {hook.enabled ? "Disable" : "Enable"}
        </button>
        <button type="button" class="button-quiet" onClick={remove} disabled={busy}>
          Remove
        </button>
      </p>
      <h2>Signing secret</h2>
      <form onSubmit={rotate} aria-label="Rotate the signing secret">
        <div class="form-grid">
          <Field
            label="Overlap (seconds)"
            type="number"
            inputMode="numeric"
            value={overlap}
            onInput={setOverlap}
            hint="How long the old secret still signs beside the new one; empty: the server's default, 0: ends it at once."
          />
        </div>
        <button type="submit" class="button-secondary" disabled={busy}>
          Rotate the secret
        </button>
      </form>
      <h2>Delivery log</h2>
      <DeliveryLog id={hook.id} version={version} />
    </>
  );
}

export default function WebhookPage({ params }: PageProps) {
  const canManage = me.value?.permissions.includes("webhooks.manage") ?? false;
  const id = params.id ?? "";
  return (
    <section class="developer">
      <h1>Webhook</h1>
      <DeveloperNav />
      <p>
        <a href="/developer/webhooks">All webhooks</a>
      </p>
      {canManage ? (
        <One id={id} />
      ) : (
        <NotGranted what="manage the organisation's webhooks" permission="webhooks.manage" />
      )}
    </section>
  );
}

function One({ id }: { id: string }) {
  const hook = useApi<Webhook>(`/api/webhooks/${encodeURIComponent(id)}`);
  if (hook.loading && !hook.data) return <Loading />;
  if (hook.error) return <Notice kind="error">{messageOf(hook.error)}</Notice>;
  return hook.data ? <Endpoint hook={hook.data} reload={hook.reload} /> : null;
}
