/**
 * The debate event log: every event gets the next per-debate `seq` and a link in the debate's
 * SHA-256 hash chain when it is sealed, is persisted by the {@link EventWriter} in batches (one
 * transaction for every event emitted within a few milliseconds, across all debates), and only
 * after that transaction commits is it published. So nothing a client has seen can be lost by a
 * crash, and a restarted node continues the seq and the chain from the last durable row.
 *
 * Token deltas are coalesced: the deltas one turn streams before the next batch (or before the
 * debate's next event of another kind) become one `token` event whose text is their concatenation,
 * so a model that streams faster than the batch interval costs one row and one frame per batch
 * instead of one per delta, while a slow model's deltas still go out one by one.
 *
 * @example
 * const writer = new EventWriter({ store, publish: (id, seq, payload) => streams.publish(id, seq, payload), log });
 * const events = new DebateLog("d-42", writer, { seq: 0, hash: GENESIS_HASH });
 * events.emit("debate_start", null, null, { question: "?" });
 * await writer.flush(); // durable and published
 */
import type { Logger } from "../../runtime/log.ts";
import type { EventOf } from "../../schemas/debate-events.ts";
import type { DebateStore, StoredEvent } from "./debate-store.ts";
import { EventSeqConflict } from "./event-chunks.ts";
import type { Phase } from "./protocol/resume-state.ts";
import type { EventData, EventType } from "./types.ts";

/** The chain's starting link, before a debate's first event. */
export const GENESIS_HASH = "0".repeat(64);

/** sha256 hex of a string. @example sha256Hex("abc") // "ba7816bf..." */
export function sha256Hex(text: string): string {
  // Bun.SHA256.hash is the one-shot form without the algorithm lookup (two calls per event).
  return Bun.SHA256.hash(text, "hex");
}

/**
 * The next chain link: sha256(previous link + sha256(the event's JSON as published)).
 *
 * @example chainLink(GENESIS_HASH, JSON.stringify(event))
 */
export function chainLink(previous: string, payload: string): { digest: string; hash: string } {
  const digest = sha256Hex(payload);
  return { digest, hash: sha256Hex(previous + digest) };
}

/** One event's link in a debate's hash chain, as a receipt lists it. */
export interface ChainEntry {
  seq: number;
  type: string;
  /** sha256 hex of the event's JSON as published. */
  digest: string;
  /** The chain link: sha256(previous hash + digest). */
  hash: string;
}

let lastMs = Number.NaN;
let lastIso = "";
/** ISO text of a millisecond time; events sealed in the same millisecond share one Date. */
function isoTime(ms: number): string {
  if (ms !== lastMs) {
    lastIso = new Date(ms).toISOString();
    lastMs = ms;
  }
  return lastIso;
}

/** At most this many debate ids in one log line's `debate_ids`; `debates` gives the full count. */
export const LOG_DEBATE_IDS_MAX = 20;

/**
 * The fields of a log line about several debates: `debate_id` (the first, for grep and for the
 * one-debate case), `debate_ids` (the distinct ids in order, at most {@link LOG_DEBATE_IDS_MAX})
 * and `debates` (how many distinct ones there are).
 *
 * @example debateIdsForLog(["d-1", "d-2", "d-1"]) // { debate_id: "d-1", debate_ids: ["d-1", "d-2"], debates: 2 }
 */
export function debateIdsForLog(ids: Iterable<string>): {
  debate_id: string | null;
  debate_ids: string[];
  debates: number;
} {
  const distinct = new Set(ids);
  const listed: string[] = [];
  for (const id of distinct) {
    if (listed.length === LOG_DEBATE_IDS_MAX) break;
    listed.push(id);
  }
  return { debate_id: listed[0] ?? null, debate_ids: listed, debates: distinct.size };
}

export type Publish = (debateId: string, seq: number, payload: string) => void;

export interface EventWriterOptions {
  store: DebateStore;
  publish: Publish;
  log: Logger;
  /** How long events may wait to share a transaction; default 2 ms. */
  flushMs?: number;
  /** Called with each batch's commit latency in seconds (metrics). */
  onCommit?: (seconds: number, events: number) => void;
  /**
   * Told when a debate's log holds another event at a seq this process sealed (another process
   * is writing that debate): its events are no longer written here, and it should stop.
   */
  onConflict?: (debateId: string, err: Error) => void;
  /** Told of each failed batch before it is retried (store health). */
  onFailure?: (err: unknown) => void;
}

/** What the writer held when it was abandoned: events that were never written. */
export interface UnwrittenEvents {
  events: number;
  /** Distinct debate ids of those events, in queue order. */
  debateIds: string[];
}

/**
 * Batches appends from every debate into one transaction per flush, then publishes them in order.
 * A failed transaction is retried (the batch stays at the head of the queue): events are never
 * published out of order or before they are durable. A retry of a batch that did commit (its
 * acknowledgement lost) stores nothing twice: the store drops the events it already holds with
 * the same chain link (see unstoredEvents). A batch that conflicts with the log of one debate
 * (another event stored at one of its seqs: another process writes that debate) fences that
 * debate: its events are dropped from then on, `onConflict` is told, and the rest of the batch
 * goes on, so one debate cannot stall every other debate's log.
 */
export class EventWriter {
  private queue: StoredEvent[] = [];
  /** Logs holding coalesced token deltas, sealed into the queue when the next batch starts. */
  private readonly unsealed = new Set<DebateLog>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  /** Events ever queued, and events ever committed and published (in queue order). */
  private appended = 0;
  private committed = 0;
  /** Each waits for the events queued before its flush(): resolved by the batch that commits them. */
  private waiters: { upTo: number; resolve: () => void; reject: (err: Error) => void }[] = [];
  /** Debates whose log another writer holds (see onConflict): nothing more of theirs is written. */
  private readonly fenced = new Set<string>();
  private readonly flushMs: number;
  private failures = 0;
  /** Set by abandon(): nothing more is written. */
  private abandoned = false;
  /** The batch being written now (abandon() counts it: it may yet fail). */
  private inflight: StoredEvent[] = [];
  /** Events their caller stores in a transaction of its own (see holdStored), not published yet. */
  private held: StoredEvent[] = [];

  constructor(private readonly options: EventWriterOptions) {
    this.flushMs = options.flushMs ?? 2;
  }

  /** Queue one event for the next batch. @example writer.append(row) */
  append(event: StoredEvent): void {
    if (this.fenced.has(event.debateId) || this.abandoned) return;
    this.queue.push(event);
    this.appended++;
    this.schedule();
  }

  /**
   * Have `log.sealTokens()` called before the next batch is taken, so its coalesced deltas join it.
   *
   * @example writer.sealBeforeBatch(log)
   */
  sealBeforeBatch(log: DebateLog): void {
    this.unsealed.add(log);
    this.schedule();
  }

  /** Events waiting for their transaction. */
  get pending(): number {
    return this.queue.length + this.unsealed.size;
  }

  /**
   * Resolves once everything appended so far (held token deltas included) is durable and published;
   * it does not wait for events appended later, so a busy writer cannot starve it.
   *
   * @example await writer.flush()
   */
  flush(): Promise<void> {
    this.sealAll();
    const upTo = this.appended;
    if (this.committed >= upTo) return Promise.resolve();
    if (this.abandoned) return Promise.reject(new Error("the event writer was stopped"));
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      if (!this.running) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        void this.run();
      }
    });
  }

  private schedule(): void {
    if (!this.timer && !this.running) this.timer = setTimeout(() => void this.run(), this.flushMs);
  }

  private sealAll(): void {
    if (this.unsealed.size === 0) return;
    const logs = [...this.unsealed];
    this.unsealed.clear();
    for (const log of logs) log.sealTokens();
  }

  private run(): Promise<void> {
    this.timer = undefined;
    // Claimed before the loop starts: it seals held tokens before its first await, and the appends
    // that makes must find a run in progress, not schedule a second one beside it (two batches in
    // flight at once could commit, and be published, out of order).
    this.running = Promise.resolve();
    this.running = (async () => {
      for (this.sealAll(); this.queue.length > 0; this.sealAll()) {
        const batch = this.queue;
        this.queue = [];
        // A fenced debate's events stay in the batch (flush() waits by queue position) but are
        // neither written nor published.
        const live = this.fenced.size === 0 ? batch : batch.filter((e) => !this.fenced.has(e.debateId));
        const started = performance.now();
        try {
          this.inflight = live;
          if (live.length > 0) await this.options.store.appendEvents(live);
          this.inflight = [];
          this.failures = 0;
        } catch (err) {
          this.inflight = [];
          if (this.abandoned) break;
          this.queue = batch.concat(this.queue);
          if (err instanceof EventSeqConflict && err.debateId !== undefined && !this.fenced.has(err.debateId)) {
            this.fence(err.debateId, err);
            continue;
          }
          this.failures++;
          try {
            this.options.onFailure?.(err);
          } catch (hookErr) {
            this.options.log.error({ err: hookErr }, "onFailure failed");
          }
          // A batch spans every debate that emitted within the flush interval: name them all.
          this.options.log.error(
            { err, events: batch.length, ...debateIdsForLog(batch.map((e) => e.debateId)), attempt: this.failures },
            "event log append failed; retrying",
          );
          await Bun.sleep(Math.min(1000, 10 * 2 ** Math.min(this.failures, 7)));
          if (this.abandoned) break;
          continue;
        }
        this.options.onCommit?.((performance.now() - started) / 1000, live.length);
        for (const e of live) {
          try {
            this.options.publish(e.debateId, e.seq, e.payload);
          } catch (err) {
            this.options.log.error({ err, debate_id: e.debateId, seq: e.seq }, "event publish failed");
          }
        }
        this.committed += batch.length;
        this.releaseWaiters();
      }
    })();
    return this.running.finally(() => {
      this.running = undefined;
      if (!this.abandoned && (this.queue.length > 0 || this.unsealed.size > 0)) {
        this.timer ??= setTimeout(() => void this.run(), this.flushMs);
      }
    });
  }

  /**
   * The lowest seq of `debateId` that may be committed (other connections can read it) but is not
   * published yet: in the batch being written, queued (a batch whose commit was not acknowledged
   * stays queued), or held for its caller's own transaction. A replay stops below it, and the live
   * publish delivers it: never twice, never missed. Undefined when nothing of the debate waits, or
   * when it is fenced (nothing of it will be published here: the log is all there is).
   *
   * @example const first = writer.firstUnpublished("d-42"); // 17, or undefined
   */
  firstUnpublished(debateId: string): number | undefined {
    if (this.fenced.has(debateId)) return undefined;
    let first: number | undefined;
    for (const list of [this.inflight, this.queue, this.held]) {
      for (const e of list) if (e.debateId === debateId && (first === undefined || e.seq < first)) first = e.seq;
    }
    return first;
  }

  /**
   * Say that `events` are about to be stored in their caller's own transaction (a debate's last
   * event, with its outcome): until {@link publishStored} or {@link releaseStored}, replays leave
   * them to the live publish.
   *
   * @example writer.holdStored([last]); if (await store.finish(id, outcome)) writer.publishStored([last]); else writer.releaseStored([last]);
   */
  holdStored(events: readonly StoredEvent[]): void {
    if (events.length > 0) this.held = this.held.concat(events);
  }

  /**
   * Forget held events that will not be published here (their transaction failed, or gave up):
   * whatever of them the log holds, replays read from it.
   *
   * @example writer.releaseStored([last])
   */
  releaseStored(events: readonly StoredEvent[]): void {
    if (events.length > 0 && this.held.length > 0) this.held = this.held.filter((e) => !events.includes(e));
  }

  /**
   * Publish events their caller stored in a transaction of its own (a debate's last event, stored
   * with its outcome), once that transaction has committed. Only for a debate with nothing queued
   * here (flushed before), so its events still go out in seq order.
   *
   * @example if (await store.finish(id, { ...outcome, events: [last] })) writer.publishStored([last]);
   */
  publishStored(events: readonly StoredEvent[]): void {
    this.releaseStored(events);
    for (const e of events) {
      try {
        this.options.publish(e.debateId, e.seq, e.payload);
      } catch (err) {
        this.options.log.error({ err, debate_id: e.debateId, seq: e.seq }, "event publish failed");
      }
    }
  }

  /**
   * Give up on everything not written yet (shutdown, when the store could not write within its
   * grace): stop retrying, take no more events, fail the flush() waiters, and say what was lost.
   *
   * @example const lost = writer.abandon(); if (lost.events > 0) log.error(lost, "events not written");
   */
  abandon(): UnwrittenEvents {
    this.sealAll();
    const lost = this.unwritten();
    this.abandoned = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(new Error(`the event writer was stopped with ${lost.events} events unwritten`));
    return lost;
  }

  /**
   * The events sealed and not written yet (the batch being written included), by debate.
   *
   * @example writer.unwritten() // { events: 12, debateIds: ["d-1"] }
   */
  unwritten(): UnwrittenEvents {
    const ids = new Set<string>();
    let events = 0;
    for (const e of this.inflight.concat(this.queue)) {
      if (this.fenced.has(e.debateId)) continue;
      events++;
      ids.add(e.debateId);
    }
    for (const log of this.unsealed) ids.add(log.debateId);
    return { events: events + this.unsealed.size, debateIds: [...ids] };
  }

  /** Stop writing `debateId`: its log has another event at one of our seqs. */
  private fence(debateId: string, err: EventSeqConflict): void {
    this.fenced.add(debateId);
    this.options.log.error(
      { err, debate_id: debateId },
      "another event is stored at a seq this process sealed: another process is writing this debate; its events are no longer written here",
    );
    try {
      this.options.onConflict?.(debateId, err);
    } catch (hookErr) {
      this.options.log.error({ err: hookErr, debate_id: debateId }, "onConflict failed");
    }
  }

  private releaseWaiters(): void {
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.upTo <= this.committed);
    if (ready.length === 0) return;
    this.waiters = this.waiters.filter((w) => w.upTo > this.committed);
    for (const w of ready) w.resolve();
  }
}

interface UnsealedTokens {
  round: number | null;
  agent: string | null;
  phase: Phase | undefined;
  text: string;
}

/** A token delta with nothing but its phase and text: the kind the log coalesces per turn. */
function isPlainToken(type: EventType, data: unknown): data is { phase?: Phase; text: string } {
  return (
    type === "token" && typeof (data as { text?: unknown }).text === "string" && Object.keys(data as object).length <= 2
  );
}

/**
 * One debate's side of the log: the seq counter, the hash chain and the token deltas not sealed yet.
 * It keeps the chain entries of every event sealed so far (those of a resumed debate's earlier
 * events are passed in as `last.chain`), so the debate's receipt is built without reading its log
 * back and hashing every payload a second time.
 */
export class DebateLog {
  private seq: number;
  private hash: string;
  private readonly entries: ChainEntry[];
  /** Deltas per turn (round, agent, phase) since the last seal, in the order the turns first streamed. */
  private readonly tokens = new Map<string, UnsealedTokens>();

  constructor(
    readonly debateId: string,
    private readonly writer: Pick<EventWriter, "append" | "sealBeforeBatch">,
    last: { seq: number; hash: string; chain?: ChainEntry[] },
    private readonly now: () => number = Date.now,
  ) {
    this.seq = last.seq;
    this.hash = last.hash;
    this.entries = last.chain ? [...last.chain] : [];
  }

  /** The chain entries of every sealed event, in seq order (the receipt's `hash_chain.events`). */
  get chain(): readonly ChainEntry[] {
    return this.entries;
  }

  /** The seq of the last sealed event (coalesced deltas get theirs when sealed). */
  get lastSeq(): number {
    return this.seq;
  }

  get lastHash(): string {
    return this.hash;
  }

  /**
   * Emit one event: assign its seq, extend the chain, queue it for persistence. A `token` event
   * (`data` = `{phase, text}`) is held and merged with the same turn's next deltas until the
   * writer's next batch or this debate's next other event, whichever comes first; so every delta
   * still reaches the log before anything the debate emits after it.
   *
   * @example log.emit("round_start", 1, null, { phase: "critique" })
   */
  emit<T extends EventType>(type: T, round: number | null, agent: string | null, data: EventData<T>): void {
    if (isPlainToken(type, data)) {
      const key = `${round}|${agent}|${String(data.phase)}`;
      const held = this.tokens.get(key);
      if (held) held.text += data.text;
      else {
        this.tokens.set(key, { round, agent, phase: data.phase, text: data.text });
        if (this.tokens.size === 1) this.writer.sealBeforeBatch(this);
      }
      return;
    }
    this.sealTokens();
    this.append(type, round, agent, data);
  }

  /** Turn the held deltas into `token` events, one per turn. @example log.sealTokens() */
  sealTokens(): void {
    if (this.tokens.size === 0) return;
    const held = [...this.tokens.values()];
    this.tokens.clear();
    for (const t of held) {
      const data = t.phase === undefined ? { text: t.text } : { phase: t.phase, text: t.text };
      this.append("token", t.round, t.agent, data);
    }
  }

  /**
   * Seal one event (seq, chain link) and hand it back instead of queueing it: the caller stores it
   * in its own transaction, then publishes it with {@link EventWriter.publishStored}. Only once the
   * writer has flushed this debate's events (so nothing of it is queued or held here), else the
   * event could be stored and published before events with lower seqs.
   *
   * @example await writer.flush(); const last = log.record("receipt_generated", null, null, { head });
   */
  record<T extends EventType>(type: T, round: number | null, agent: string | null, data: EventData<T>): StoredEvent {
    if (this.tokens.size > 0) throw new Error(`debate ${this.debateId}: record() with token deltas still held`);
    return this.seal(type, round, agent, data);
  }

  private append<T extends EventType>(type: T, round: number | null, agent: string | null, data: EventData<T>): void {
    this.writer.append(this.seal(type, round, agent, data));
  }

  private seal<T extends EventType>(
    type: T,
    round: number | null,
    agent: string | null,
    data: EventData<T>,
  ): StoredEvent {
    const at = this.now();
    const envelope: EventOf<T> = {
      type,
      debate_id: this.debateId,
      seq: ++this.seq,
      ts: isoTime(at),
      round,
      agent,
      data,
    };
    const payload = JSON.stringify(envelope);
    const link = chainLink(this.hash, payload);
    this.hash = link.hash;
    this.entries.push({ seq: this.seq, type, digest: link.digest, hash: link.hash });
    return { debateId: this.debateId, seq: this.seq, type, round, agent, ts: at, hash: this.hash, payload };
  }
}
