/**
 * One ops run, live: its steps and their progress, its journal, and the operator's buttons —
 * approve the gate it waits at, resume it when it stopped, cancel it while it runs. The page asks
 * the server again every second until the run finishes, so a step's progress shows without a reload.
 */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { me } from "../../session.ts";
import { Loading, messageOf, Notice } from "../../ui.tsx";
import { AdminFrame, clock, StateBadge, Table } from "./admin-frame.tsx";
import { FINISHED, type RunDetail, type RunStep } from "./ops-types.ts";

/** How often an unfinished run is asked about again. */
const POLL_MS = 1000;

/** The run's detail, asked again every second until it finishes; `refresh` asks at once. */
function useLiveRun(id: string) {
  const [detail, setDetail] = useState<RunDetail>();
  const [error, setError] = useState<unknown>();
  const [round, setRound] = useState(0);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const abort = new AbortController();
    const ask = async () => {
      try {
        const got = await api.get<RunDetail>(`/api/ops/runs/${encodeURIComponent(id)}`, abort.signal);
        if (stopped) return;
        setDetail(got);
        setError(undefined);
        if (!FINISHED.has(got.run.status)) timer = setTimeout(ask, POLL_MS);
      } catch (err) {
        if (stopped || (err as Error).name === "AbortError") return;
        setError(err);
        timer = setTimeout(ask, POLL_MS * 5);
      }
    };
    void ask();
    return () => {
      stopped = true;
      abort.abort();
      clearTimeout(timer);
    };
  }, [id, round]);
  return { detail, error, refresh: () => setRound((r) => r + 1) };
}

export default function RunPage({ params }: PageProps) {
  const id = params.id ?? "";
  const { detail, error, refresh } = useLiveRun(id);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ kind: "error" | "success"; text: string }>();

  /** Sends one of the operator's actions; says what came of it, and asks for the run again. */
  const act = async (label: string, path: string, body: unknown) => {
    setBusy(true);
    setOutcome(undefined);
    try {
      await api.post(path, body);
      setOutcome({ kind: "success", text: `${label}: done.` });
    } catch (err) {
      setOutcome({ kind: "error", text: `${label}: ${messageOf(err)}` });
    } finally {
      setBusy(false);
      refresh();
    }
  };
  const base = `/api/ops/runs/${encodeURIComponent(id)}`;
  const approve = (step: RunStep) =>
    act(`Approve ${step.step_id}`, `${base}/steps/${encodeURIComponent(step.step_id)}/approve`, {
      approver: me.value?.user?.email ?? "operator",
      roles: me.value?.roles ?? [],
    });

  const run = detail?.run;
  const gate = run?.status === "waiting_approval" ? detail?.steps.find((s) => s.status === "running") : undefined;
  return (
    <AdminFrame title={`Ops run ${run?.playbook ?? id}`}>
      <p>
        <a href="/admin/ops">All runs</a>
      </p>
      {error !== undefined && <Notice kind="error">{messageOf(error)}</Notice>}
      {!detail && error === undefined && <Loading />}
      {run && detail && (
        <>
          <dl class="facts">
            <dt>Run</dt>
            <dd class="mono">{run.id}</dd>
            <dt>Status</dt>
            <dd>
              <output aria-live="polite" aria-label="Run status">
                <StateBadge state={run.status} />
              </output>
            </dd>
            <dt>Playbook</dt>
            <dd>
              {run.playbook} <span class="muted">({run.file})</span>
              {run.dry_run && " · dry run"}
            </dd>
            <dt>Started</dt>
            <dd>
              {when(run.created_at)} by {run.started_by}
            </dd>
            <dt>Finished</dt>
            <dd>{run.finished_at ? when(run.finished_at) : "not yet"}</dd>
            {run.error && (
              <>
                <dt>Error</dt>
                <dd>{run.error}</dd>
              </>
            )}
          </dl>
          <div class="actions">
            {gate && (
              <button type="button" disabled={busy} onClick={() => approve(gate)}>
                Approve {gate.step_id}
              </button>
            )}
            {/* Paused: stopped for a decision on the step in flight (retry it or skip it). */}
            {run.status === "paused" && (
              <>
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => act("Resume", `${base}/resume`, { decision: "retry" })}
                >
                  Resume (retry the step)
                </button>
                <button
                  type="button"
                  class="button-secondary"
                  disabled={busy}
                  onClick={() => act("Resume", `${base}/resume`, { decision: "skip" })}
                >
                  Resume (skip the step)
                </button>
              </>
            )}
            {!FINISHED.has(run.status) && (
              <button
                type="button"
                class="button-secondary"
                disabled={busy}
                onClick={() => {
                  if (confirm("Cancel this run? Completed steps are compensated."))
                    void act("Cancel", `${base}/cancel`, {});
                }}
              >
                Cancel run
              </button>
            )}
          </div>
          {outcome && <Notice kind={outcome.kind}>{outcome.text}</Notice>}
          <h2>Steps</h2>
          <Table
            caption="Steps of the run"
            head={["Step", "Action", "Status", "Attempts", "Started", "Finished", "Error"]}
          >
            {detail.steps.map((s) => (
              <tr key={s.step_id}>
                <td>{s.step_id}</td>
                <td>{s.action}</td>
                <td>
                  <StateBadge state={s.status} />
                </td>
                <td>{s.attempts}</td>
                <td>{clock(s.started_at)}</td>
                <td>{clock(s.finished_at)}</td>
                <td>{s.error ?? ""}</td>
              </tr>
            ))}
          </Table>
          <h2>Journal</h2>
          <Table caption="Journal of the run" head={["#", "At", "Step", "Event", "Data"]}>
            {detail.journal.map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{clock(e.at)}</td>
                <td>{e.step ?? ""}</td>
                <td>{e.kind.replaceAll("_", " ")}</td>
                <td class="mono wide">{Object.keys(e.data).length > 0 ? JSON.stringify(e.data) : ""}</td>
              </tr>
            ))}
          </Table>
        </>
      )}
    </AdminFrame>
  );
}
