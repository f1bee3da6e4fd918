/**
 * Every schedule the server runs: when it runs next, how its last run went, its totals, and a
 * "Run now" button (POST /api/admin/schedulers/:name/run; its next scheduled run is unchanged).
 */
import { useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import { messageOf, Notice, StatusBadge, useApi } from "../../ui.tsx";
import { AdminFrame, Loaded, Table } from "./admin-frame.tsx";

interface Scheduler {
  name: string;
  description: string;
  schedule: string;
  running: boolean;
  running_since: string | null;
  next_run_at: string | null;
  last_run: { started_at?: string; finished_at?: string; outcome?: string; error?: string | null } | null;
  stats: { runs: number; failures: number; items: number };
}

export default function SchedulersPage() {
  const schedulers = useApi<{ schedulers: Scheduler[] }>("/api/admin/schedulers");
  const [outcome, setOutcome] = useState<{ kind: "error" | "success"; text: string }>();
  const [busy, setBusy] = useState<string>();
  const runNow = async (name: string) => {
    setBusy(name);
    setOutcome(undefined);
    try {
      await api.post(`/api/admin/schedulers/${encodeURIComponent(name)}/run`, {});
      setOutcome({ kind: "success", text: `${name}: started.` });
    } catch (err) {
      setOutcome({ kind: "error", text: `${name}: ${messageOf(err)}` });
    } finally {
      setBusy(undefined);
      schedulers.reload();
    }
  };
  return (
    <AdminFrame title="Schedulers">
      {outcome && <Notice kind={outcome.kind}>{outcome.text}</Notice>}
      <Loaded state={schedulers}>
        {({ schedulers: list }) => (
          <Table caption="Schedulers" head={["Schedule", "When", "Next run", "Last run", "Runs", ""]}>
            {list.map((s) => (
              <tr key={s.name}>
                <td>
                  <strong>{s.name}</strong>
                  <br />
                  <span class="muted">{s.description}</span>
                </td>
                <td>{s.schedule}</td>
                <td>{s.running ? <StatusBadge status="running" /> : when(s.next_run_at)}</td>
                <td>
                  {s.last_run ? (
                    <>
                      {when(s.last_run.finished_at ?? s.last_run.started_at)}{" "}
                      {s.last_run.outcome && <StatusBadge status={s.last_run.outcome} />}
                      {s.last_run.error && <div>{s.last_run.error}</div>}
                    </>
                  ) : (
                    "never"
                  )}
                </td>
                <td>
                  {s.stats.runs} ({s.stats.failures} failed)
                </td>
                <td>
                  <button type="button" disabled={busy !== undefined || s.running} onClick={() => runNow(s.name)}>
                    Run <span class="visually-hidden">{s.name} </span>now
                  </button>
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Loaded>
    </AdminFrame>
  );
}
