/**
 * The playbook runs, newest first; each links to its live page (steps as they go, approve /
 * resume / cancel). The list asks again every few seconds while a run is moving (running, or
 * waiting at a gate someone may pass) and the tab is in view: a paused or finished run changes
 * only through an operator, and a hidden tab needs no news. Ops is the platform operator's.
 */
import { useEffect } from "preact/hooks";
import { when } from "../../format.ts";
import { StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, isOperator, Loaded, Table } from "./admin-frame.tsx";
import type { RunSummary } from "./ops-types.ts";

/** How often the list is asked again while a run moves. */
const REFRESH_MS = 5000;
const MOVING = new Set<RunSummary["status"]>(["running", "waiting_approval"]);

export default function OpsPage() {
  const runs = useApi<{ runs: RunSummary[] }>("/api/ops/runs?limit=50");
  const moving = runs.data?.runs.some((r) => MOVING.has(r.status)) ?? false;
  useEffect(() => {
    if (!moving) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") runs.reload();
    }, REFRESH_MS);
    // Back in view: the news at once, not at the next tick.
    const onShow = () => document.visibilityState === "visible" && runs.reload();
    document.addEventListener("visibilitychange", onShow);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onShow);
    };
  }, [moving]);
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
