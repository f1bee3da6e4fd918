/**
 * One ops run, live: its steps as they start, say what they do, finish or fail, its journal, and
 * the operator's buttons — approve the gate it waits at, resume it when it paused (retry or skip
 * the step in flight), cancel it while it is not finished. The page follows the run over its NDJSON
 * stream (run-stream.ts) and folds each line into the run (run-model.ts), drawing at most once per
 * animation frame however fast lines come; after an action it follows the run again.
 *
 * @example navigate("/admin/ops/r-20261205-1a2b3c4d");
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { when } from "../../format.ts";
import type { PageProps } from "../../route.ts";
import { me } from "../../session.ts";
import { Loading, messageOf, Notice, StatusBadge } from "../../ui.tsx";
import { AdminFrame, clock, Table } from "./admin-frame.tsx";
import { FINISHED } from "./ops-types.ts";
import { applyRunEvent, emptyRun, type RunModel, type StepView } from "./run-model.ts";
import { type FollowState, RunFollower } from "./run-stream.ts";

/** A step shows its latest lines; the journal below keeps them all. */
const STEP_LINES = 5;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * The run folded from its stream, redrawn at most once per animation frame; `follower` restarts
 * the stream after an action.
 */
function useFollowedRun(id: string) {
  const model = useRef<RunModel>(emptyRun(id));
  const follower = useRef<RunFollower | undefined>(undefined);
  const [, setFrame] = useState(0);
  const [state, setState] = useState<FollowState>({ kind: "connecting" });
  useEffect(() => {
    model.current = emptyRun(id);
    let frame = 0;
    const draw = () => {
      if (frame !== 0) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setFrame((n) => n + 1);
      });
    };
    const run = model.current;
    const stream = new RunFollower(id, {
      onEvents: (events) => {
        let changed = false;
        for (const e of events) changed = applyRunEvent(run, e) || changed;
        if (changed) draw();
      },
      atRest: () => (run.status === "paused" ? "paused" : FINISHED.has(run.status) ? "finished" : undefined),
      onState: setState,
    });
    follower.current = stream;
    stream.start();
    return () => {
      stream.stop();
      cancelAnimationFrame(frame);
    };
  }, [id]);
  return { run: model.current, state, restart: () => follower.current?.restart() };
}

/** What the connection is doing, in words. */
function followText(state: FollowState, run: RunModel): string {
  switch (state.kind) {
    case "live":
      return run.status === "waiting_approval" ? "Following live: waiting at the gate" : "Following live";
    case "reconnecting":
      return `Connection lost (${state.why}); reconnecting in ${(state.inMs / 1000).toFixed(1)} s`;
    case "ended":
      return state.why === "paused" ? "Paused: the run waits for an operator's decision" : "The run is over";
    case "failed":
      return `Not following: ${state.message}`;
    default:
      return "Connecting…";
  }
}

function StepRow({ step }: { step: StepView }) {
  const lines = step.lines.slice(-STEP_LINES);
  const earlier = step.lines.length - lines.length;
  return (
    <tr data-step={step.id}>
      <td>{step.id}</td>
      <td>
        <StatusBadge status={step.status} />
      </td>
      <td class="wide">
        {lines.length > 0 && (
          <ul class="step-lines">
            {earlier > 0 && <li class="muted">({earlier} earlier in the journal)</li>}
            {lines.map((l) => (
              <li key={l.seq}>{l.text}</li>
            ))}
          </ul>
        )}
        {step.error && <span class="step-error">{step.error}</span>}
      </td>
      <td>{step.action}</td>
      <td>{step.attempts}</td>
      <td>{clock(iso(step.startedAt))}</td>
      <td>{clock(iso(step.finishedAt))}</td>
    </tr>
  );
}

export default function RunPage({ params }: PageProps) {
  const id = params.id ?? "";
  const { run, state, restart } = useFollowedRun(id);
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ kind: "error" | "success"; text: string }>();

  /** Sends one of the operator's actions; says what came of it, and follows the run again. */
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
      restart();
    }
  };
  const base = `/api/ops/runs/${encodeURIComponent(id)}`;
  const approve = (step: string) =>
    act(`Approve ${step}`, `${base}/steps/${encodeURIComponent(step)}/approve`, {
      approver: me.value?.user?.email ?? "operator",
      roles: me.value?.roles ?? [],
    });

  const known = run.lastSeq > 0;
  const gate = run.status === "waiting_approval" ? run.gate : null;
  return (
    <AdminFrame title={`Ops run ${run.playbook || id}`}>
      <p>
        <a href="/admin/ops">All runs</a>
      </p>
      <p class="muted">
        <output aria-label="Connection">{followText(state, run)}</output>
      </p>
      {state.kind === "failed" && <Notice kind="error">{state.message}</Notice>}
      {!known && state.kind !== "failed" && <Loading />}
      {known && (
        <>
          <dl class="facts">
            <dt>Run</dt>
            <dd class="mono">{run.id}</dd>
            <dt>Status</dt>
            <dd>
              <output aria-live="polite" aria-label="Run status">
                <StatusBadge status={run.status} />
              </output>
            </dd>
            <dt>Playbook</dt>
            <dd>
              {run.playbook} <span class="muted">({run.file})</span>
              {run.dryRun && " · dry run"}
            </dd>
            <dt>Started</dt>
            <dd>
              {when(iso(run.createdAt))} by {run.startedBy}
            </dd>
            <dt>Finished</dt>
            <dd>{run.finishedAt ? when(iso(run.finishedAt)) : "not yet"}</dd>
            {run.error && (
              <>
                <dt>{run.status === "paused" ? "Paused because" : "Error"}</dt>
                <dd>{run.error}</dd>
              </>
            )}
          </dl>
          <div class="actions">
            {gate && (
              <button type="button" disabled={busy} onClick={() => approve(gate)}>
                Approve {gate}
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
            head={["Step", "Status", "Progress", "Action", "Attempts", "Started", "Finished"]}
          >
            {run.steps.map((s) => (
              <StepRow key={s.id} step={s} />
            ))}
          </Table>
          <h2>Journal</h2>
          <Table caption="Journal of the run" head={["#", "At", "Step", "Event", "Data"]}>
            {run.journal.map((e) => (
              <tr key={e.seq}>
                <td>{e.seq}</td>
                <td>{clock(iso(e.at))}</td>
                <td>{e.stepId ?? ""}</td>
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
