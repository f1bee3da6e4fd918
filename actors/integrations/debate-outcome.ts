/**
 * A debate's outcome as integrations post it (schemas/integrations.ts DebateOutcome), made from
 * its `debate_end` event and what the debate's log says before it: the question and agents (the
 * debate's row) and the consensus (its `consensus` event, committed no later than its end).
 *
 * @example
 * const outcome = await outcomeOfEnd(outboxRow, debates.history);
 * outcome.consensus?.answer // "Yes"
 */
import type { DebateOutcome } from "../../schemas/integrations.ts";
import type { OutboxEvent } from "../debate/event-outbox.ts";

/** What the outcome is read from: the debates feature's store (server-internal, unscoped reads). */
export interface DebateHistory {
  byId(id: string): Promise<{ question: string; config: { agents: string[] } } | null>;
  events(debateId: string, sinceSeq: number, limit?: number): Promise<{ type: string; seq: number; payload: string }[]>;
}

interface Envelope {
  ts: string;
  data: Record<string, unknown>;
}

/** Events read at a time while looking for the consensus. */
const PAGE = 1000;

/** The last `consensus` event before `endSeq`, if any. */
async function consensusOf(history: DebateHistory, debateId: string, endSeq: number) {
  let found: Record<string, unknown> | undefined;
  let since = 0;
  for (;;) {
    const page = await history.events(debateId, since, PAGE);
    for (const e of page) {
      if (e.seq >= endSeq) return found;
      if (e.type === "consensus") found = (JSON.parse(e.payload) as Envelope).data;
    }
    const last = page.at(-1);
    if (page.length < PAGE || last === undefined) return found;
    since = last.seq;
  }
}

/**
 * The outcome a `debate_end` outbox row announces; `consensusRow`, when the caller has it, is the
 * debate's last `consensus` event before the end (else the log is read for it).
 *
 * @example const outcome = await outcomeOfEnd(row, history, consensusInBatch.get(row.debateId));
 */
export async function outcomeOfEnd(
  row: OutboxEvent,
  history: DebateHistory,
  consensusRow?: Pick<OutboxEvent, "payload">,
): Promise<DebateOutcome> {
  const end = JSON.parse(row.payload) as Envelope;
  const [debate, consensus] = await Promise.all([
    history.byId(row.debateId),
    consensusRow === undefined
      ? consensusOf(history, row.debateId, row.seq)
      : (JSON.parse(consensusRow.payload) as Envelope).data,
  ]);
  const data = end.data;
  return {
    debate_id: row.debateId,
    question: debate?.question ?? "",
    status: typeof data.status === "string" ? data.status : "completed",
    consensus:
      consensus === undefined
        ? null
        : {
            reached: consensus.reached === true,
            method: String(consensus.method ?? ""),
            answer: typeof consensus.answer === "string" ? consensus.answer : null,
            winner: typeof consensus.winner === "string" ? consensus.winner : null,
            support: typeof consensus.support === "number" ? consensus.support : 0,
          },
    rounds_completed: typeof data.rounds_completed === "number" ? data.rounds_completed : 0,
    agents: debate?.config.agents ?? [],
    finished_at: end.ts,
  };
}
