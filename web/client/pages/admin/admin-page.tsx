/**
 * The admin console's overview: the node's health, the live nodes of the cluster, and the
 * organisation's members and their roles (GET /api/org/members).
 */
import { when } from "../../format.ts";
import { me } from "../../session.ts";
import { StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, isOperator, Loaded, Table } from "./admin-frame.tsx";

interface Member {
  user_id: string;
  email: string;
  name: string;
  role: string;
}

interface Health {
  status: string;
  version: string;
  uptime: number;
}

interface Node {
  node_id: string;
  hostname: string;
  pid: number;
  api_port: number | null;
  version: string;
  started_at: string;
  heartbeat_at: string;
  active_key_id: string | null;
}

/** Seconds as "3 d 4 h", "5 h 2 min", "42 s". */
function duration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d} d ${h} h`;
  if (h > 0) return `${h} h ${m} min`;
  if (m > 0) return `${m} min ${seconds % 60} s`;
  return `${seconds} s`;
}

/** The cluster's live nodes: the platform's (admin.read), so shown to operators only. */
function Nodes() {
  const nodes = useApi<{ live_within_s: number; nodes: Node[] }>("/api/admin/nodes");
  return (
    <>
      <h2>Nodes</h2>
      <Loaded state={nodes}>
        {(n) => (
          <>
            <p class="muted">Nodes whose heartbeat arrived within {n.live_within_s} s.</p>
            <Table caption="Live nodes" head={["Host", "Process", "Version", "Started", "Heartbeat", "Encryption key"]}>
              {n.nodes.map((node) => (
                <tr key={node.node_id}>
                  <td>
                    {node.hostname}
                    {node.api_port !== null && `:${node.api_port}`}
                  </td>
                  <td>{node.pid}</td>
                  <td>{node.version}</td>
                  <td>{when(node.started_at)}</td>
                  <td>{when(node.heartbeat_at)}</td>
                  <td class="mono">{node.active_key_id ?? "none"}</td>
                </tr>
              ))}
            </Table>
          </>
        )}
      </Loaded>
    </>
  );
}

export default function AdminPage() {
  const health = useApi<Health>("/api/health");
  const members = useApi<{ members: Member[] }>("/api/org/members");
  return (
    <AdminFrame title="Admin">
      <p>Organisation: {me.value?.organisation.name}</p>
      <h2>Health</h2>
      <Loaded state={health}>
        {(h) => (
          <dl class="facts">
            <dt>This node</dt>
            <dd>
              <StatusBadge status={h.status} />
            </dd>
            <dt>Version</dt>
            <dd>{h.version}</dd>
            <dt>Up for</dt>
            <dd>{duration(h.uptime)}</dd>
          </dl>
        )}
      </Loaded>
      {isOperator() && <Nodes />}
      <h2>Members</h2>
      <Loaded state={members}>
        {({ members: list }) => (
          <Table caption="Members of the organisation" head={["Name", "Email", "Role"]}>
            {list.map((m) => (
              <tr key={m.user_id}>
                <td>{m.name}</td>
                <td>{m.email}</td>
                <td>{m.role}</td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </AdminFrame>
  );
}
