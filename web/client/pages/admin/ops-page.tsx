/**
 * The playbook runs, newest first, refreshed every few seconds while any is unfinished; each
 * links to its live page (steps, approve / resume / cancel). Ops is the platform operator's.
 */
import { useEffect } from "preact/hooks";
import { when } from "../../format.ts";
import { StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, isOperator, Loaded, Table } from "./admin-frame.tsx";
import { FINISHED, type RunSummary } from "./ops-types.ts";

export default function OpsPage() {
  const runs = useApi<{ runs: RunSummary[] }>("/api/ops/runs?limit=50");
  const unfinished = runs.data?.runs.some((r) => !FINISHED.has(r.status)) ?? false;
  useEffect(() => {
    if (!unfinished) return;
    const timer = setInterval(runs.reload, 3000);
    return () => clearInterval(timer);
  }, [unfinished]);
  return (
    <AdminFrame title="Ops runs">
      {!isOperator() && (
        <p>Ops runs are the platform operator's: the server refuses them to an organisation's admin.</p>
      )}
      <Loaded state={runs}>
        {({ runs: list }) =>
          list.length === 0 ? (
            <p>
              No runs yet. Start one with <code>ops run</code> or POST /api/ops/runs.
            </p>
          ) : (
            <Table caption="Playbook runs" head={["Run", "Playbook", "Status", "Current step", "Started", "Finished"]}>
              {list.map((r) => (
                <tr key={r.id}>
                  <td>
                    <a href={`/admin/ops/${encodeURIComponent(r.id)}`} class="mono">
                      {r.id}
                    </a>
                  </td>
                  <td>
                    {r.playbook}
                    {r.dry_run && " (dry run)"}
                  </td>
                  <td>
                    <StatusBadge status={r.status} />
                  </td>
                  <td>{r.current_step ?? ""}</td>
                  <td>{when(r.created_at)}</td>
                  <td>{when(r.finished_at)}</td>
                </tr>
              ))}
            </Table>
          )
        }
      </Loaded>
    </AdminFrame>
  );
}
