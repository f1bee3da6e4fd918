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
    const phase = typeof e.data.phase === "string" ? e.data.phase : "";
    const ts = Date.parse(e.ts);
    if (e.type === "debate_start") since = ts;
    if (typeof e.data.resumed_running_ms === "number") {
      before = e.data.resumed_running_ms;
      since = ts;
    }
    if (since !== undefined) state.runningMs = before + Math.max(0, ts - since);
    if (e.type === "token" || e.type === "fallback") continue;
    state.keys.add(eventKey(e.type, e.round, e.agent, phase));
    if (e.agent !== null && e.round !== null) {
      const at = turnKey(e.round, phase as Phase, e.agent);
      if (e.type === "turn_start") {
        open.set(at, { round: e.round, agent: e.agent, phase, role: String(e.data.role ?? "") });
      } else if (e.type === "turn_end" || e.type === "turn_interrupted" || e.type === "agent_error") {
        open.delete(at);
      }
    }
    if (e.type === "turn_end" && e.agent !== null && e.round !== null) {
      state.turns.set(turnKey(e.round, phase as Phase, e.agent), {
        text: String(e.data.text ?? ""),
        usage: e.data.usage as Usage,
        costUsd: Number((e.data.cost as { usd?: number } | undefined)?.usd ?? 0),
        costEstimated: Boolean((e.data.cost as { estimated?: boolean } | undefined)?.estimated),
        latencyMs: Number(e.data.latency_ms ?? 0),
      });
    }
    if (e.type === "agent_error" && e.agent !== null && e.data.seat_failed === true) {
      // As the live run records it ("<kind>: <message>"), so summary.failed_seats reads the same after a resume.
      const kind = typeof e.data.kind === "string" ? `${e.data.kind}: ` : "";
      state.failures.set(e.agent, `${kind}${String(e.data.message ?? "failed")}`);
    }
  }
  state.openTurns = [...open.values()];
  return state;
}
