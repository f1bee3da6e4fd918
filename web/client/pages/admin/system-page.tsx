/**
 * The server's inner state: the actor tree (mailboxes, restarts) with recent dead letters, the
 * circuit breakers of agents and of the organisation's webhook endpoints, the most recent server
 * errors with the request id to look up in the logs, and the rate limits with the callers nearest to them.
 */
import { when } from "../../format.ts";
import { StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, Loaded, Table } from "./admin-frame.tsx";

interface ActorNode {
  path: string;
  name: string;
  kind: string;
  status: string;
  mailboxDepth: number;
  restarts: number;
  children: ActorNode[];
}

interface AgentBreaker {
  name: string;
  state: string;
  failures: number;
  last_failure: string | null;
  seconds_until_half_open: number | null;
  fallback: string | null;
}

interface Webhook {
  id: string;
  url: string;
  enabled: boolean;
  circuit_breaker?: { state: string; failures?: number; consecutive_failures?: number } | null;
}

interface ServerError {
  request_id: string;
  at: string;
  method: string;
  route?: string;
  path?: string;
  status: number;
  error?: string;
  message?: string;
}

interface RateLimits {
  store: string;
  policies: { name: string; per: string; enabled: boolean; limit: number; window_s: number; env: string }[];
  nearest: { policy: string; caller: unknown; remaining: number; limit: number }[];
}

function ActorTree({ node }: { node: ActorNode }) {
  return (
    <li>
      <span class="mono">{node.name}</span> <span class="muted">{node.kind}</span> <StatusBadge status={node.status} />
      {node.mailboxDepth > 0 && ` · mailbox ${node.mailboxDepth}`}
      {node.restarts > 0 && ` · restarts ${node.restarts}`}
      {node.children.length > 0 && (
        <ul>
          {node.children.map((c) => (
            <ActorTree key={c.path} node={c} />
          ))}
        </ul>
      )}
    </li>
  );
}

/** A rate-limit caller as a person reads it: its kind, then what names it ("user u-1", "ip 127.0.0.1"). */
function callerText(caller: unknown): string {
  if (caller === null || typeof caller !== "object") return String(caller ?? "");
  const { kind, ...rest } = caller as Record<string, unknown>;
  const parts = Object.values(rest).filter((v) => v !== null && v !== undefined && v !== "");
  return [kind, ...parts].map(String).join(" ");
}

export default function SystemPage() {
  const actors = useApi<{ tree: ActorNode; dead_letters?: Record<string, unknown>[] }>("/api/admin/actors");
  const breakers = useApi<{ summary: Record<string, number>; breakers: AgentBreaker[] }>(
    "/api/system/circuit-breakers",
  );
  const webhooks = useApi<{ webhooks: Webhook[] }>("/api/webhooks");
  const errors = useApi<{ errors: ServerError[]; total: number; capacity: number }>("/api/system/errors");
  const limits = useApi<RateLimits>("/api/system/rate-limits");
  return (
    <AdminFrame title="System">
      <h2>Actor tree</h2>
      <Loaded state={actors}>
        {(a) => (
          <>
            <ul class="tree" aria-label="Actors">
              <ActorTree node={a.tree} />
            </ul>
            <p class="muted">Recent dead letters: {a.dead_letters?.length ?? 0}</p>
          </>
        )}
      </Loaded>
      <h2>Agent circuit breakers</h2>
      <Loaded state={breakers}>
        {(b) => (
          <Table caption="Agent circuit breakers" head={["Agent", "State", "Failures", "Last failure", "Fallback"]}>
            {b.breakers.map((x) => (
              <tr key={x.name}>
                <td>{x.name}</td>
                <td>
                  <StatusBadge status={x.state} />
                  {x.seconds_until_half_open !== null && ` (half-open in ${x.seconds_until_half_open} s)`}
                </td>
                <td>{x.failures}</td>
                <td>{when(x.last_failure)}</td>
                <td>{x.fallback ?? ""}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
      <h2>Webhook circuit breakers</h2>
      <Loaded state={webhooks}>
        {(w) => {
          const list = w.webhooks;
          return list.length === 0 ? (
            <p>The organisation has no webhook endpoints.</p>
          ) : (
            <Table caption="Webhook endpoints and their breakers" head={["Endpoint", "Enabled", "Breaker"]}>
              {list.map((e) => (
                <tr key={e.id}>
                  <td class="mono">{e.url}</td>
                  <td>{e.enabled ? "yes" : "no"}</td>
                  <td>{e.circuit_breaker ? <StatusBadge status={e.circuit_breaker.state} /> : "not running"}</td>
                </tr>
              ))}
            </Table>
          );
        }}
      </Loaded>
      <h2>Recent errors</h2>
      <Loaded state={errors}>
        {(e) =>
          e.errors.length === 0 ? (
            <p>No server errors since this node started.</p>
          ) : (
            <Table caption="Recent server errors" head={["At", "Request id", "Request", "Status", "Message"]}>
              {e.errors.map((x) => (
                <tr key={x.request_id}>
                  <td>{when(x.at)}</td>
                  <td class="mono">{x.request_id}</td>
                  <td>
                    {x.method} {x.route ?? x.path}
                  </td>
                  <td>{x.status}</td>
                  <td>{x.message ?? x.error ?? ""}</td>
                </tr>
              ))}
            </Table>
          )
        }
      </Loaded>
      <h2>Rate limits</h2>
      <Loaded state={limits}>
        {(r) => (
          <>
            <p class="muted">Counted in the {r.store} store.</p>
            <Table caption="Rate limit policies" head={["Policy", "Per", "Limit", "Setting"]}>
              {r.policies.map((p) => (
                <tr key={p.name}>
                  <td>{p.name}</td>
                  <td>{p.per.replaceAll("_", " ")}</td>
                  <td>{p.enabled ? `${p.limit} per ${p.window_s} s` : "off"}</td>
                  <td class="mono">{p.env}</td>
                </tr>
              ))}
            </Table>
            <h3>Callers nearest their limit</h3>
            {r.nearest.length === 0 ? (
              <p>No caller is near a limit.</p>
            ) : (
              <Table caption="Callers nearest their limit" head={["Policy", "Caller", "Remaining", "Limit"]}>
                {r.nearest.map((n) => (
                  <tr key={`${n.policy} ${callerText(n.caller)}`}>
                    <td>{n.policy}</td>
                    <td class="mono">{callerText(n.caller)}</td>
                    <td>{n.remaining}</td>
                    <td>{n.limit}</td>
                  </tr>
                ))}
              </Table>
            )}
          </>
        )}
      </Loaded>
    </AdminFrame>
  );
}
