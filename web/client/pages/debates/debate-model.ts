/**
 * What the debate page shows, built from the debate's events one at a time: the seats (one column
 * per agent, each with its turns and their streamed text), rounds, critiques, votes, consensus,
 * failed seats and fallbacks, and agreement per round. The same function folds a replayed log
 * (GET /api/debates/:id/events) and live WebSocket events, so a finished debate and a running one
 * look alike. An event at or below the last seq applied is ignored (a resume never duplicates);
 * a seq past the next one is counted as a gap (the page says so: it should never happen).
 *
 * @example
 * const model = emptyModel("d-42");
 * for (const e of events) applyEvent(model, e);
 * model.seats.get("demo:alice")?.turns[0]?.text; // "[simulated] ..."
 */
import { agreementOf } from "./agreement.ts";

/** One debate event as the API sends it (schemas/debate-events.ts). */
export interface DebateEvent {
  type: string;
  debate_id: string;
  seq: number;
  ts: string;
  round: number | null;
  agent: string | null;
  data: Record<string, unknown>;
}

export interface Turn {
  round: number | null;
  phase: string;
  role: string;
  /** The text streamed so far (the final text once the turn ended). */
  text: string;
  /** Seq of the last token in `text`: what is on screen. */
  lastSeq: number;
  done: boolean;
  /** Partial text a fallback threw away (the provider failed after its first token). */
  discarded: string;
  interrupted: string | null;
  /** The agent that answered instead, when a fallback took the turn. */
  fallback: string | null;
}

export interface Seat {
  agent: string;
  /** Bumped by every change to the seat: its column redraws only when this moved. */
  version: number;
  turns: Turn[];
  /** Why the seat failed, when it did (an agent_error with seat_failed). */
  failed: string | null;
  errors: { phase: string; kind: string; message: string; seatFailed: boolean }[];
  fallbacks: { phase: string; from: string; to: string; reason: string }[];
}

export interface Vote {
  round: number | null;
  voter: string;
  choice: string | null;
  confidence: number;
  abstained: boolean;
  reason: string;
}

export interface Critique {
  round: number | null;
  critic: string;
  targets: string[];
  text: string;
}

export interface Consensus {
  method: string;
  reached: boolean;
  answer: string | null;
  winner: string | null;
  supporters: string[];
  support: number;
  synthesis?: string;
}

export interface DebateEnd {
  status: string;
  stop_reason: string;
  error: string | null;
  rounds_completed?: number;
  agreement?: { round: number; agreement: number }[];
}

export interface DebateModel {
  debateId: string;
  question: string;
  agents: string[];
  rounds: number;
  method: string;
  topology: string;
  seats: Map<string, Seat>;
  /** The round and phase under way. */
  round: number | null;
  phase: string | null;
  critiques: Critique[];
  votes: Vote[];
  consensus: Consensus | null;
  end: DebateEnd | null;
  receipt: boolean;
  lastSeq: number;
  /** Seqs that never arrived (should stay 0: the stream resumes from the last seq received). */
  gaps: number;
  /** Each seat's latest answer per round (proposals, revisions): agreement is computed from them. */
  answers: Map<number, Map<string, string>>;
  /** Bumped when agreement may have changed (an answer, a failed seat, the end). */
  agreementVersion: number;
}

/** A model with nothing in it yet. @example emptyModel("d-42") */
export function emptyModel(debateId: string): DebateModel {
  return {
    debateId,
    question: "",
    agents: [],
    rounds: 0,
    method: "",
    topology: "",
    seats: new Map(),
    round: null,
    phase: null,
    critiques: [],
    votes: [],
    consensus: null,
    end: null,
    receipt: false,
    lastSeq: 0,
    gaps: 0,
    answers: new Map(),
    agreementVersion: 0,
  };
}

function seatOf(model: DebateModel, agent: string): Seat {
  let seat = model.seats.get(agent);
  if (!seat) {
    seat = { agent, version: 0, turns: [], failed: null, errors: [], fallbacks: [] };
    model.seats.set(agent, seat);
  }
  return seat;
}

/** The seat's turn under way, or a new one when a token arrives without its turn_start (never in a whole log). */
function openTurn(seat: Seat, event: DebateEvent, phase: string): Turn {
  const last = seat.turns.at(-1);
  if (last && !last.done && last.round === event.round && last.phase === phase) return last;
  const turn: Turn = {
    round: event.round,
    phase,
    role: "",
    text: "",
    lastSeq: event.seq,
    done: false,
    discarded: "",
    interrupted: null,
    fallback: null,
  };
  seat.turns.push(turn);
  return turn;
}

const str = (v: unknown, fallback = ""): string => (typeof v === "string" ? v : fallback);
const num = (v: unknown, fallback = 0): number => (typeof v === "number" ? v : fallback);

/**
 * Folds one event into the model; false when it was already applied (seq not past the last).
 *
 * @example if (applyEvent(model, event)) schedule();
 */
export function applyEvent(model: DebateModel, event: DebateEvent): boolean {
  if (event.seq <= model.lastSeq) return false;
  if (event.seq > model.lastSeq + 1) model.gaps += event.seq - model.lastSeq - 1;
  model.lastSeq = event.seq;
  const d = event.data;
  const agent = event.agent;
  if (agent) {
    const seat = model.seats.get(agent);
    if (seat) seat.version++;
  }
  switch (event.type) {
    case "debate_start": {
      model.question = str(d.question);
      model.agents = Array.isArray(d.agents) ? d.agents.map(String) : [];
      model.rounds = num(d.rounds);
      model.method = str(d.consensus);
      model.topology = str(d.topology);
      for (const a of model.agents) seatOf(model, a);
      break;
    }
    case "round_start":
      model.round = event.round;
      model.phase = str(d.phase);
      break;
    case "turn_start": {
      if (!agent) break;
      const seat = seatOf(model, agent);
      // Always a new turn: a restarted turn (after a crash) streams its text again from the start.
      const previous = seat.turns.at(-1);
      if (previous) previous.done = true;
      const turn = openTurn(seat, event, str(d.phase));
      turn.role = str(d.role);
      break;
    }
    case "token": {
      if (!agent) break;
      const seat = seatOf(model, agent);
      const turn = openTurn(seat, event, str(d.phase, seat.turns.at(-1)?.phase ?? ""));
      turn.text += str(d.text);
      turn.lastSeq = event.seq;
      break;
    }
    case "turn_end": {
      if (!agent) break;
      const seat = seatOf(model, agent);
      const turn = openTurn(seat, event, str(d.phase));
      turn.role = str(d.role, turn.role);
      turn.done = true;
      if (typeof d.fallback === "string") turn.fallback = d.fallback;
      const phase = str(d.phase);
      if ((phase === "proposal" || phase === "revision") && event.round !== null) {
        let round = model.answers.get(event.round);
        if (!round) {
          round = new Map();
          model.answers.set(event.round, round);
        }
        round.set(agent, str(d.text));
        model.agreementVersion++;
      }
      break;
    }
    case "turn_interrupted": {
      if (!agent) break;
      const turn = seatOf(model, agent).turns.at(-1);
      if (turn && !turn.done) {
        turn.interrupted = str(d.reason);
        turn.done = true;
      }
      break;
    }
    case "critique":
      model.critiques.push({
        round: event.round,
        critic: agent ?? "",
        targets: Array.isArray(d.targets) ? d.targets.map(String) : [],
        text: str(d.text),
      });
      break;
    case "vote":
      model.votes.push({
        round: event.round,
        voter: agent ?? "",
        choice: typeof d.choice === "string" ? d.choice : null,
        confidence: num(d.confidence),
        abstained: d.abstained === true,
        reason: str(d.reason),
      });
      break;
    case "consensus":
      model.consensus = {
        method: str(d.method),
        reached: d.reached === true,
        answer: typeof d.answer === "string" ? d.answer : null,
        winner: typeof d.winner === "string" ? d.winner : null,
        supporters: Array.isArray(d.supporters) ? d.supporters.map(String) : [],
        support: num(d.support),
        ...(typeof d.synthesis === "string" ? { synthesis: d.synthesis } : {}),
      };
      break;
    case "agent_error": {
      if (!agent) break;
      const seat = seatOf(model, agent);
      const error = {
        phase: str(d.phase),
        kind: str(d.kind),
        message: str(d.message),
        seatFailed: d.seat_failed === true,
      };
      seat.errors.push(error);
      if (error.seatFailed) {
        seat.failed = `${error.kind}: ${error.message}`;
        model.agreementVersion++;
      }
      break;
    }
    case "fallback": {
      if (!agent) break;
      const seat = seatOf(model, agent);
      seat.fallbacks.push({ phase: str(d.phase), from: str(d.from), to: str(d.to), reason: str(d.reason) });
      const turn = seat.turns.at(-1);
      if (turn && !turn.done) {
        // The partial answer of the failed provider is not part of the turn: the fallback starts over.
        turn.discarded += turn.text;
        turn.text = "";
        turn.fallback = str(d.to);
      }
      break;
    }
    case "debate_end":
      model.end = {
        status: str(d.status),
        stop_reason: str(d.stop_reason),
        error: typeof d.error === "string" ? d.error : null,
        ...(typeof d.rounds_completed === "number" ? { rounds_completed: d.rounds_completed } : {}),
        ...(Array.isArray(d.agreement) ? { agreement: d.agreement as { round: number; agreement: number }[] } : {}),
      };
      for (const seat of model.seats.values()) {
        const turn = seat.turns.at(-1);
        if (turn) turn.done = true;
        seat.version++;
      }
      model.agreementVersion++;
      break;
    case "receipt_generated":
      model.receipt = true;
      break;
  }
  return true;
}

/**
 * Agreement per round: the server's figures once the debate ended, until then the share of active
 * seats holding the most common answer in each round so far (the rule actors/debate/consensus.ts
 * applies).
 *
 * @example agreementByRound(model) // [{ round: 0, agreement: 0.67 }, { round: 1, agreement: 1 }]
 */
export function agreementByRound(model: DebateModel): { round: number; agreement: number }[] {
  if (model.end?.agreement) return model.end.agreement;
  const failed = new Set([...model.seats.values()].filter((s) => s.failed !== null).map((s) => s.agent));
  return [...model.answers.entries()]
    .sort(([a], [b]) => a - b)
    .map(([round, answers]) => ({
      round,
      agreement: agreementOf([...answers.entries()].filter(([agent]) => !failed.has(agent)).map(([, text]) => text)),
    }));
}
