/**
 * One column per seat: the agent's turns in order, each with its round, phase and the text its
 * tokens streamed. The parent re-renders at most once per animation frame (debate-page.tsx), so
 * this component only draws what the model holds. Each turn's text carries `data-agent` and
 * `data-seq` (the seq of the last token it shows): what is on screen can be checked against the
 * event log, and the console bench times a token from its WebSocket message to its paint.
 *
 * @example <TokenColumns model={model} frames={columnsSignal} />
 */

import type { Signal } from "@preact/signals";
import { memo } from "preact/compat";
import { StatusBadge } from "../../ui.tsx";
import type { DebateModel, Seat, Turn } from "./debate-model.ts";

const PHASES: Record<string, string> = {
  proposal: "Proposal",
  critique: "Critique",
  revision: "Revision",
  vote: "Vote",
  judge: "Judgement",
  synthesis: "Synthesis",
};

function turnTitle(turn: Turn): string {
  const phase = PHASES[turn.phase] ?? turn.phase;
  return turn.round === null ? phase : `Round ${turn.round} · ${phase}`;
}

/**
 * One turn. The model changes its objects in place, so what changes is passed beside them
 * (`text`, `done`): a turn that did not change is not redrawn.
 */
const TurnView = memo(function TurnView({ seat, turn }: { seat: Seat; turn: Turn; text: string; done: boolean }) {
  return (
    <li class={`turn${turn.done ? "" : " turn-live"}`}>
      <h3 class="turn-title">
        {turnTitle(turn)}
        {!turn.done && <span class="visually-hidden"> (streaming)</span>}
      </h3>
      {turn.discarded && (
        <p class="turn-discarded">
          <span class="muted">Discarded partial answer:</span> <s>{turn.discarded}</s>
        </p>
      )}
      {turn.fallback && <p class="turn-note">Answered by the fallback {turn.fallback}</p>}
      <p class="turn-text" data-agent={seat.agent} data-seq={turn.lastSeq}>
        {turn.text}
      </p>
      {turn.interrupted && <p class="turn-note">Interrupted: {turn.interrupted}</p>}
      {turn.done && !turn.interrupted && turn.text === "" && <p class="turn-note muted">No answer.</p>}
    </li>
  );
});

export function TokenColumns({
  model,
  frames,
}: {
  model: DebateModel;
  frames: Signal<number>;
  /** The model changes in place: a page redraw passes its last seq so the columns redraw too. */
  lastSeq: number;
}) {
  // Read so that a frame of tokens redraws the columns alone (debate-page.tsx bumps it).
  frames.value;
  const seats = [...model.seats.values()];
  return (
    <div class="seat-columns">
      {seats.map((seat) => (
        <SeatColumn seat={seat} version={seat.version} key={seat.agent} />
      ))}
    </div>
  );
}

/** One agent's column, redrawn only when its seat's version moved. */
const SeatColumn = memo(function SeatColumn({ seat }: { seat: Seat; version: number }) {
  return (
    <section
      class={`seat${seat.failed ? " seat-failed" : ""}`}
      aria-labelledby={`seat-${seat.agent}`}
      data-seat={seat.agent}
    >
      <h2 id={`seat-${seat.agent}`} class="seat-name">
        {seat.agent}
        {seat.failed && <StatusBadge status="failed" />}
      </h2>
      {seat.failed && <p class="field-error">Seat failed: {seat.failed}</p>}
      {seat.fallbacks.map((f, i) => (
        // Fallbacks of one seat in the order they happened; the list never reorders.
        <p class="turn-note" key={i}>
          Fallback in {f.phase}: {f.from} → {f.to} ({f.reason})
        </p>
      ))}
      {seat.errors
        .filter((e) => !e.seatFailed)
        .map((e, i) => (
          <p class="turn-note" key={i}>
            Error in {e.phase}: {e.kind} ({e.message})
          </p>
        ))}
      <ol class="turns" aria-label={`Turns of ${seat.agent}`}>
        {seat.turns.map((turn, i) => (
          <TurnView seat={seat} turn={turn} text={turn.text} done={turn.done} key={i} />
        ))}
      </ol>
    </section>
  );
});
