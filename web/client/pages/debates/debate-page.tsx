/**
 * One debate, live: `/debates/:id`. A running debate streams over the WebSocket (debate-stream.ts:
 * replay from the last seq received, then live; reconnects after a drop without a gap or a
 * duplicate); a finished one is read from its event log (GET /api/debates/:id/events, page by
 * page). Both fold into the same model (debate-model.ts), drawn at most once per animation frame
 * however fast the tokens come: each agent's column, the round under way, critiques, votes,
 * consensus, failed seats and fallbacks, and agreement per round (uPlot).
 *
 * @example navigate("/debates/d-42");
 */
import { type Signal, signal } from "@preact/signals";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { PageProps } from "../../route.ts";
import { Loading, messageOf, Notice, StatusBadge, TableRegion } from "../../ui.tsx";
import { AgreementChart } from "./agreement-chart.tsx";
import { agreementByRound, applyEvent, type DebateEvent, type DebateModel, emptyModel } from "./debate-model.ts";
import { DebateStream, type StreamState } from "./debate-stream.ts";
import "./debate-live.css";
import { TokenColumns } from "./token-columns.tsx";

interface DebateRecord {
  debate_id: string;
  question: string;
  status: string;
  agents: string[];
}

const EVENTS_PAGE = 5000;

/**
 * Draws at most once per animation frame, however many events arrive in between. A frame that
 * only brought tokens redraws the agents' columns (the `columns` signal TokenColumns reads); any
 * other event redraws the whole page.
 */
function useFrameRender(): { schedule: (whole: boolean) => void; columns: Signal<number> } {
  const [, setFrame] = useState(0);
  const pending = useRef({ frame: 0, whole: false });
  useEffect(() => () => cancelAnimationFrame(pending.current.frame), []);
  return useMemo(() => {
    const columns = signal(0);
    const schedule = (whole: boolean) => {
      if (whole) pending.current.whole = true;
      if (pending.current.frame !== 0) return;
      pending.current.frame = requestAnimationFrame(() => {
        const all = pending.current.whole;
        pending.current = { frame: 0, whole: false };
        if (all) setFrame((n) => n + 1);
        else columns.value++;
      });
    };
    return { schedule, columns };
  }, []);
}

function streamText(state: StreamState | null, model: DebateModel): string {
  if (model.end) {
    const n = model.end.rounds_completed;
    const rounds = n === undefined ? "" : ` · ${n} ${n === 1 ? "round" : "rounds"}`;
    return `Finished: ${model.end.status} · ${model.end.stop_reason.replaceAll("_", " ")}${rounds}`;
  }
  switch (state?.kind) {
    case "live":
      return "Live";
    case "reconnecting":
      return `Connection lost (${state.why}); reconnecting in ${(state.inMs / 1000).toFixed(1)} s`;
    case "failed":
      return `Not following: ${state.message}`;
    case "ended":
      return "Stream ended";
    default:
      return "Connecting…";
  }
}

/** Where the debate is: "Round 1 of 3 · critique", or the closing phase ("Voting"). */
function phaseText(model: DebateModel): string {
  const closing: Record<string, string> = { vote: "Voting", judge: "The judge decides", synthesis: "Synthesis" };
  const phase = model.phase ?? "";
  if (closing[phase]) return closing[phase];
  const of = model.rounds > 0 ? ` of ${model.rounds}` : "";
  return `Round ${model.round}${of}${phase ? ` · ${phase}` : ""}`;
}

export default function DebatePage({ params }: PageProps) {
  const id = params.id ?? "";
  const model = useRef<DebateModel>(emptyModel(id)).current;
  const { schedule, columns } = useFrameRender();
  const [record, setRecord] = useState<DebateRecord>();
  const [error, setError] = useState<string>();
  const [state, setState] = useState<StreamState | null>(null);

  useEffect(() => {
    let stream: DebateStream | undefined;
    let left = false;
    const abort = new AbortController();
    (async () => {
      const found = await api.get<DebateRecord>(`/api/debates/${encodeURIComponent(id)}`, abort.signal);
      if (left) return;
      setRecord(found);
      if (found.status === "running") {
        stream = new DebateStream(id, {
          lastSeq: () => model.lastSeq,
          onEvent: (e) => {
            const seats = model.seats.size;
            if (applyEvent(model, e)) schedule(e.type !== "token" || model.seats.size !== seats);
          },
          onState: setState,
        });
        stream.start();
        return;
      }
      // Finished: the whole log, page by page.
      for (;;) {
        const page = await api.get<{ events: DebateEvent[]; last_seq: number }>(
          `/api/debates/${encodeURIComponent(id)}/events?since_seq=${model.lastSeq}&limit=${EVENTS_PAGE}`,
          abort.signal,
        );
        if (left) return;
        for (const e of page.events) applyEvent(model, e);
        schedule(true);
        if (page.events.length < EVENTS_PAGE) break;
      }
      setState({ kind: "ended" });
    })().catch((err: Error) => {
      if (!left && err.name !== "AbortError") setError(messageOf(err));
    });
    return () => {
      left = true;
      abort.abort();
      stream?.stop();
    };
  }, [id, model, schedule]);

  // Computed (and the chart redrawn) when an answer came in, not on every token.
  const chartPoints = useMemo(() => agreementByRound(model), [model, model.agreementVersion]);
  const question = model.question || record?.question || "";

  return (
    <section class="debate-live" data-last-seq={model.lastSeq} data-gaps={model.gaps}>
      <h1>Debate</h1>
      {error && <Notice kind="error">{error}</Notice>}
      {!record && !error && <Loading />}
      {record && (
        <>
          <p class="debate-question">{question}</p>
          <p class="debate-facts muted">
            {[
              model.method && `consensus: ${model.method.replaceAll("_", " ")}`,
              model.topology && `topology: ${model.topology.replaceAll("_", " ")}`,
            ]
              .filter(Boolean)
              .join(" · ")}
          </p>
          <div class="debate-status" role="status">
            <StatusBadge
              status={model.end ? model.end.status : state?.kind === "live" ? "running" : "waiting"}
              label={streamText(state, model)}
            />
            {model.round !== null && !model.end && <span> {phaseText(model)}</span>}
          </div>
          {model.gaps > 0 && (
            <Notice kind="error">{model.gaps} events never arrived: reload the page to read the whole debate.</Notice>
          )}
          {model.consensus && (
            <section class="consensus" aria-labelledby="consensus-heading">
              <h2 id="consensus-heading">Consensus</h2>
              <p>
                <strong>{model.consensus.reached ? "Reached" : "Not reached"}</strong> (
                {model.consensus.method.replaceAll("_", " ")}, support {Math.round(model.consensus.support * 100)}%)
              </p>
              {model.consensus.answer && <p class="consensus-answer">{model.consensus.answer}</p>}
              {model.consensus.winner && (
                <p>
                  First held by {model.consensus.winner}
                  {model.consensus.supporters.length > 0
                    ? `; supported by ${model.consensus.supporters.join(", ")}`
                    : ""}
                </p>
              )}
              {model.consensus.synthesis && <p class="consensus-synthesis">{model.consensus.synthesis}</p>}
            </section>
          )}
          {model.end?.error && <Notice kind="error">{model.end.error}</Notice>}
          <h2 class="visually-hidden">Agents</h2>
          <TokenColumns model={model} frames={columns} lastSeq={model.lastSeq} />
          <div class="debate-panels">
            <section aria-labelledby="agreement-heading">
              <h2 id="agreement-heading">Agreement</h2>
              <AgreementChart points={chartPoints} />
            </section>
            <section aria-labelledby="votes-heading">
              <h2 id="votes-heading">Votes</h2>
              {model.votes.length === 0 ? (
                <p class="muted">No votes yet.</p>
              ) : (
                <TableRegion label="Votes">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">Voter</th>
                        <th scope="col">Choice</th>
                        <th scope="col">Confidence</th>
                      </tr>
                    </thead>
                    <tbody>
                      {model.votes.map((v) => (
                        <tr key={`${v.round}-${v.voter}`}>
                          <td>{v.voter}</td>
                          <td>{v.abstained ? "abstained" : (v.choice ?? "—")}</td>
                          <td>{Math.round(v.confidence * 100)}%</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </TableRegion>
              )}
            </section>
            <section aria-labelledby="critiques-heading">
              <h2 id="critiques-heading">Critiques</h2>
              {model.critiques.length === 0 ? (
                <p class="muted">No critiques yet.</p>
              ) : (
                <ul class="critiques">
                  {model.critiques.map((c) => (
                    <li key={`${c.round}-${c.critic}`}>
                      Round {c.round}: {c.critic} → {c.targets.join(", ") || "all"}
                    </li>
                  ))}
                </ul>
              )}
            </section>
          </div>
          {model.receipt && (
            <p>
              Receipt signed: <a href={`/api/debates/${encodeURIComponent(id)}/receipt`}>download it</a>.
            </p>
          )}
        </>
      )}
    </section>
  );
}
