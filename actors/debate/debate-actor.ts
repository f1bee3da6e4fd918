/**
 * The DebateActor: one per debate, a `transient` task actor under the "debates" supervisor
 * (runtime/actor/task-actor.ts). Each incarnation reads the debate's event log and runs the
 * protocol from where the log stops, so a crash of the actor (a restart by its supervisor) and a
 * crash of the process (a resume at the next start) take the same path; after
 * {@link MAX_DEBATE_CRASHES} crashes the debate is given up (its supervisor records it failed).
 * Cancel aborts the protocol and ends the debate `cancelled`; shutdown aborts it without an end,
 * leaving it to resume.
 *
 * @example
 * const ref = system.spawn(debateActor(deps, "d-42", hooks), { parent: debates, name: "d-42", restart: "transient" });
 * ref.tell(cancelDebate("user asked"));
 */
import { type Behavior, type Clock, type TaskMsg, taskActor } from "../../runtime/actor/index.ts";
import { EventLoopGate } from "../../runtime/event-loop-gate.ts";
import type { Logger } from "../../runtime/log.ts";
import { type StoreHealth, StoreUnavailableError } from "../../runtime/store/store-health.ts";
import type { AgentDirectory } from "../agent/turn.ts";
import type { DebateFinish, DebateStore, StoredEvent } from "./debate-store.ts";
import { DebateLog, type EventWriter, GENESIS_HASH } from "./event-log.ts";
import { DebateInterrupted, eventKey, type ProtocolOutcome, resumeStateFrom, runProtocol } from "./protocol.ts";
import { chainOfRows, issueReceipt, type ReceiptKey, storedReceiptJson } from "./receipt.ts";
import type { DebateConfig, DebateEventEnvelope, DebateStatus } from "./types.ts";

/** How one incarnation of a debate ended: a terminal status, or interrupted (it resumes later). */
export type DebateRunOutcome = DebateStatus | "interrupted";

export type DebateMsg = TaskMsg<DebateRunOutcome>;

/** Crashes of one debate's actor after which the debate is recorded failed instead of restarted. */
export const MAX_DEBATE_CRASHES = 3;

export interface DebateDeps {
  store: DebateStore;
  writer: EventWriter;
  agents: Pick<AgentDirectory, "runTurn">;
  key: ReceiptKey;
  log: Logger;
  /** While it says the store cannot write, debates take no new turns and retry their outcome. */
  health?: StoreHealth;
  /** Told once per debate when it reaches a terminal status (metrics). */
  onFinished?: (id: string, status: DebateStatus) => void;
}

/** Why the protocol's signal was aborted. */
export class CancelRequested extends Error {
  override name = "CancelRequested";
}
export class ShutdownRequested extends Error {
  override name = "ShutdownRequested";
}

/** The message that ends a debate `cancelled`. @example ref.tell(cancelDebate("user asked")) */
export const cancelDebate = (reason: string): DebateMsg => ({ type: "abort", reason: new CancelRequested(reason) });

/** The message that stops a debate without an end; it resumes later. @example ref.tell(stopDebate()) */
export const stopDebate = (reason = "server shutting down"): DebateMsg => ({
  type: "abort",
  reason: new ShutdownRequested(reason),
});

/** What the debate's supervisor hears from its actor. */
export interface DebateActorHooks {
  /** An incarnation ended: a terminal status, or interrupted by a shutdown. */
  onExit(outcome: DebateRunOutcome): void;
  /** An incarnation crashed; `final` when it will not be restarted. */
  onCrashed(error: unknown, crashes: number, final: boolean): void;
  /** The last crash: record the debate failed. */
  giveUp(error: unknown, crashes: number): Promise<void>;
}

/**
 * The behaviour of one debate's actor.
 *
 * @example debateActor(deps, "d-42", { onExit: console.log, onCrashed: console.error, giveUp: markFailed })
 */
export function debateActor(
  deps: DebateDeps,
  id: string,
  hooks: DebateActorHooks,
  created?: NewlyCreated,
): Behavior<DebateMsg, unknown> {
  const log = deps.log.child({ debate_id: id });
  // Only the first incarnation may skip reading the log: a restart after a crash must resume from it.
  let fresh = created;
  return taskActor<DebateRunOutcome>({
    kind: "debate",
    maxRestarts: MAX_DEBATE_CRASHES - 1,
    run: ({ signal, clock }) => {
      const seed = fresh;
      fresh = undefined;
      return runDebate(deps, id, signal, log, seed, clock);
    },
    onFinished: (outcome) => hooks.onExit(outcome),
    onCrashed: (error, crashes, final) => hooks.onCrashed(error, crashes, final),
    giveUp: (error, crashes) => hooks.giveUp(error, crashes),
    abortOnStop: () => new ShutdownRequested("debate actor stopped"),
  }) as Behavior<DebateMsg, unknown>;
}

/** Shared by every debate of the process: see EventLoopGate. */
const gate = new EventLoopGate();

const parseEvents = (rows: StoredEvent[]) => rows.map((r) => JSON.parse(r.payload) as DebateEventEnvelope);

/** A debate this process has just recorded: its log is empty and its row is known, so neither is read. */
export interface NewlyCreated {
  question: string;
  config: DebateConfig;
  /** The organisation it belongs to: its own provider keys apply to the debate's turns. */
  orgId?: string;
}

/**
 * Run or resume one debate to a terminal status: the protocol, then the receipt, then the outcome
 * row with its ELO update. Every step is idempotent against the log, so it can be repeated after
 * any crash. Returns "interrupted" when shut down before the end.
 *
 * `created` (the first run of a debate this process just recorded) skips reading the empty log;
 * `clock` runs the debate's deadlines (its actor system's).
 *
 * @example const status = await runDebate(deps, "d-42", signal, log);
 */
export async function runDebate(
  deps: DebateDeps,
  id: string,
  signal: AbortSignal,
  log: Logger,
  created?: NewlyCreated,
  clock?: Clock,
): Promise<DebateStatus | "interrupted"> {
  const { store, writer } = deps;
  // Debates created or resumed in one burst start one per turn of the event loop.
  await gate.pass();
  const rows = created ? [] : await store.events(id, 0);
  const running = created ? undefined : await findRunning(store, id);
  const debate = created ?? running;
  if (!debate) return "interrupted";
  const orgId = created?.orgId ?? running?.owner.orgId;
  const last = rows.at(-1);
  const events = new DebateLog(
    id,
    writer,
    last ? { seq: last.seq, hash: last.hash, chain: chainOfRows(rows) } : { seq: 0, hash: GENESIS_HASH },
  );
  const past = parseEvents(rows);
  const resume = rows.length > 0 ? resumeStateFrom(past) : undefined;
  if (resume) log.info({ last_seq: last?.seq, events: rows.length }, "resuming debate from its event log");
  else log.info({ agents: debate.config.agents, rounds: debate.config.rounds }, "debate started");
  const emit = events.emit.bind(events);
  const health = deps.health;
  const beforeTurn = health
    ? async (aborted: AbortSignal) => {
        // Only the event log holds a debate back: its turns are worth nothing if not written.
        if (health.writableFor("event_log")) return;
        log.warn({ pending_events: writer.pending }, "debate paused: the store cannot write; it continues when it can");
        await health.whenWritable(aborted, "event_log");
        log.info("debate continues: the store writes again");
      }
    : undefined;

  let outcome: ProtocolOutcome | { status: "cancelled"; reason: string };
  try {
    outcome = await runProtocol({
      debateId: id,
      question: debate.question,
      config: debate.config,
      orgId,
      agents: deps.agents,
      emit,
      signal,
      resume,
      ...(clock ? { clock } : {}),
      interruptReason: (reason) => (reason instanceof CancelRequested ? "cancelled" : "shutdown"),
      ...(beforeTurn ? { beforeTurn } : {}),
    });
  } catch (err) {
    if (!(err instanceof DebateInterrupted)) throw err;
    if (!(signal.reason instanceof CancelRequested)) {
      // At shutdown the writer may give up on a store that cannot write (abandon): then what was
      // not written is reported there, and the debate resumes from what was.
      await writer.flush().catch(() => undefined);
      log.info(
        { last_seq: events.lastSeq, reason: (signal.reason as Error).message },
        "debate interrupted by shutdown; it resumes at the next start",
      );
      return "interrupted";
    }
    const reason = signal.reason.message;
    if (!resume?.keys.has(eventKey("debate_end", null, null))) {
      emit("debate_end", null, null, { status: "cancelled", stop_reason: "cancelled", error: reason });
    }
    outcome = { status: "cancelled", reason };
  }
  await writer.flush();

  const status: DebateStatus = outcome.status;
  const protocol = "summary" in outcome ? outcome : null;
  // The receipt covers every event up to debate_end; receipt_generated follows it. The log's own
  // chain is used: after the flush above every entry in it is durable, and it holds exactly the
  // rows of this debate's log (read at the start, then appended here), so reading them back and
  // hashing every payload again would give the same entries.
  const all = events.chain;
  const endIndex = all.findIndex((e) => e.type === "debate_end");
  const covered = endIndex >= 0 ? all.slice(0, endIndex + 1) : all;
  // The flush above releases every debate that finished in the same batch at once; signing is the
  // heaviest step of a debate (the chain's canonical text, SHA-256, Ed25519): one per loop turn.
  await gate.pass();
  const doc = issueReceipt(
    {
      debateId: id,
      question: debate.question,
      configuration: debate.config,
      participants: debate.config.agents,
      consensus: protocol?.consensus ?? null,
      baseline: protocol?.baseline ?? null,
      outcome: { status, stop_reason: protocol?.stopReason ?? "cancelled" },
      chain: covered,
      issuedAt: new Date(),
    },
    deps.key,
  );
  const consensus = protocol?.consensus ?? null;
  const active = protocol ? Object.keys(protocol.summary.finalAnswers) : [];
  const winners = consensus?.reached ? consensus.supporters : [];
  // receipt_generated is the last event a watcher sees. It is stored in the transaction that makes
  // the record final (outcome, receipt, ratings), so a client that reads GET /api/debates/:id on
  // receiving it never sees "running", and a crash cannot leave a finished debate without it.
  const chain = doc.receipt.hash_chain as { head: string; length: number };
  const closing = all.some((e) => e.type === "receipt_generated")
    ? []
    : [events.record("receipt_generated", null, null, { key_id: doc.key_id, head: chain.head, events: chain.length })];
  const outcomeRow: DebateFinish = {
    status,
    stopReason: protocol?.stopReason ?? "cancelled",
    error: protocol ? protocol.error : (outcome as { reason: string }).reason,
    consensus,
    baseline: protocol?.baseline ?? null,
    summary: protocol?.summary ?? null,
    finishedAt: new Date(),
    receipt: { json: storedReceiptJson(doc), at: new Date() },
    events: closing,
    ...(consensus?.reached && status === "completed"
      ? { elo: { winners, losers: active.filter((a) => !winners.includes(a)) } }
      : {}),
  };
  // Committed before it is published: replays leave it to the live publish until then.
  writer.holdStored(closing);
  let finished: boolean;
  for (;;) {
    try {
      finished = await finishOnce(store, id, outcomeRow, closing.at(-1)?.seq);
      break;
    } catch (err) {
      // The store cannot write: wait until it can (or until shutdown: the next start finishes it).
      if (!(err instanceof StoreUnavailableError) || !health) {
        writer.releaseStored(closing);
        throw err;
      }
      log.warn({ reason: err.reason }, "debate outcome not stored: the store cannot write; retrying when it can");
      try {
        await health.whenWritable(signal.aborted ? undefined : signal, err.part);
      } catch {
        writer.releaseStored(closing);
        return "interrupted";
      }
    }
  }
  if (!finished) writer.releaseStored(closing);
  if (finished) {
    writer.publishStored(closing);
    deps.onFinished?.(id, status);
    log.info(
      {
        status,
        stop_reason: protocol?.stopReason ?? "cancelled",
        consensus: consensus?.answer ?? null,
        reached: consensus?.reached ?? false,
        tokens: protocol?.summary.totals.tokens ?? 0,
        cost_usd: protocol?.summary.totals.costUsd ?? 0,
      },
      "debate finished",
    );
  }
  return status;
}

/**
 * store.finish, where a failure may hide a commit that went through (its acknowledgement lost: a
 * dropped database connection). Then the row is no longer running and holds the closing event, and
 * the debate is finished: its last event must still be published, and the debate not run again.
 */
async function finishOnce(
  store: DebateStore,
  id: string,
  outcome: DebateFinish,
  closingSeq: number | undefined,
): Promise<boolean> {
  try {
    return await store.finish(id, outcome);
  } catch (err) {
    const row = await store.byId(id).catch(() => null);
    const committed =
      row !== null && row.status === outcome.status && (closingSeq === undefined || row.lastSeq >= closingSeq);
    if (!committed) throw err;
    return true;
  }
}

async function findRunning(store: DebateStore, id: string) {
  const running = await store.byId(id);
  return running && running.status === "running" ? running : null;
}

export type { DebateConfig };
