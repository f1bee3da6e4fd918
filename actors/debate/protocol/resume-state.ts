/**
 * What a debate's log says already happened, for a resumed incarnation: the structural events
 * (so none is emitted twice), the turns that ended (replayed instead of run again), the failed
 * seats, the running time so far and the turns a crash left open.
 *
 * @example
 * const resume = resumeStateFrom(await store.events("d-42"));
 * resume.turns.get(turnKey(1, "critique", "demo:bob")); // the recorded critique, if it ended
 */
import type { Usage } from "../../agent/turn.ts";
import type { DebateEventEnvelope } from "../types.ts";

/** The phases of a debate's turns. */
export type Phase = "proposal" | "critique" | "revision" | "vote" | "judge" | "synthesis";

/** A turn as recorded in a turn_end event, enough to replay it without calling the agent. */
export interface RecordedTurn {
  text: string;
  usage: Usage;
  costUsd: number;
  costEstimated: boolean;
  latencyMs: number;
}

/** What the log says already happened; built by {@link resumeStateFrom}. */
export interface ResumeState {
  keys: Set<string>;
  turns: Map<string, RecordedTurn>;
  failures: Map<string, string>;
  /**
   * How long the debate has run so far, counting only time a process was running it: from
   * debate_start (or an incarnation's first event, which carries `resumed_running_ms`) to the
   * incarnation's last logged event. Time the server was down does not count against the timeout.
   */
  runningMs: number;
  /** turn_starts with no turn_end, agent_error or turn_interrupted after them (the last incarnation crashed mid-turn). */
  openTurns: OpenTurn[];
}

/** A turn_start nothing closed. */
export interface OpenTurn {
  round: number;
  agent: string;
  phase: string;
  role: string;
}

/** Why a turn_interrupted closed its turn. */
export type TurnInterruptedReason = "crashed" | "cancelled" | "shutdown" | "debate_timeout";

/** The dedupe key of a structural event. @example eventKey("vote", 4, "demo:bob") // "vote|4|demo:bob|" */
export function eventKey(type: string, round: number | null, agent: string | null, phase = ""): string {
  return `${type}|${round ?? ""}|${agent ?? ""}|${phase}`;
}

/** The key of one turn in ResumeState.turns. @example turnKey(1, "critique", "demo:bob") */
export const turnKey = (round: number, phase: Phase, agent: string) => `${round}|${phase}|${agent}`;

/**
 * Rebuild what already happened from a debate's events (in seq order).
 *
 * @example const resume = resumeStateFrom(await store.events("d-42"));
 */
export function resumeStateFrom(events: DebateEventEnvelope[]): ResumeState {
  const state: ResumeState = { keys: new Set(), turns: new Map(), failures: new Map(), runningMs: 0, openTurns: [] };
  const open = new Map<string, OpenTurn>();
  // The running time before the current incarnation, and when that incarnation began.
  let before = 0;
  let since: number | undefined;
  for (const e of events) {
    const ts = Date.parse(e.ts);
    if (e.type === "debate_start") since = ts;
    if (e.data.resumed_running_ms !== undefined) {
      before = e.data.resumed_running_ms;
      since = ts;
    }
    if (since !== undefined) state.runningMs = before + Math.max(0, ts - since);
    if (e.type === "token" || e.type === "fallback") continue;
    const phase = "phase" in e.data ? e.data.phase : "";
    state.keys.add(eventKey(e.type, e.round, e.agent, phase));
    if (e.agent === null || e.round === null) continue;
    const at = `${e.round}|${phase}|${e.agent}`;
    switch (e.type) {
      case "turn_start":
        open.set(at, { round: e.round, agent: e.agent, phase: e.data.phase, role: e.data.role });
        break;
      case "turn_end":
        open.delete(at);
        state.turns.set(at, {
          text: e.data.text,
          usage: e.data.usage,
          costUsd: e.data.cost.usd,
          costEstimated: e.data.cost.estimated,
          latencyMs: e.data.latency_ms,
        });
        break;
      case "turn_interrupted":
        open.delete(at);
        break;
      case "agent_error":
        open.delete(at);
        // As the live run records it ("<kind>: <message>"), so summary.failed_seats reads the same after a resume.
        if (e.data.seat_failed) state.failures.set(e.agent, `${e.data.kind}: ${e.data.message}`);
        break;
    }
  }
  state.openTurns = [...open.values()];
  return state;
}
