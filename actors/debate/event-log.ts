/**
 * The debate event log: every event gets the next per-debate `seq` and a link in the debate's
 * SHA-256 hash chain when it is emitted, is persisted by the {@link EventWriter} in batches (one
 * transaction for every event emitted within a few milliseconds, across all debates), and only
 * after that transaction commits is it published. So nothing a client has seen can be lost by a
 * crash, and a restarted node continues the seq and the chain from the last durable row.
 *
 * @example
 * const writer = new EventWriter({ store, publish: (id, seq, payload) => streams.publish(id, seq, payload), log });
 * const events = new DebateLog("d-42", writer, { seq: 0, hash: GENESIS_HASH });
 * events.emit("debate_start", null, null, { question: "?" });
 * await writer.flush(); // durable and published
 */
import type { Logger } from "../../runtime/log.ts";
import type { DebateStore, StoredEvent } from "./debate-store.ts";
import type { DebateEventEnvelope, EventType } from "./types.ts";

/** The chain's starting link, before a debate's first event. */
export const GENESIS_HASH = "0".repeat(64);

/** sha256 hex of a string. @example sha256Hex("abc") // "ba7816bf..." */
export function sha256Hex(text: string): string {
  return new Bun.CryptoHasher("sha256").update(text).digest("hex");
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

export type Publish = (debateId: string, seq: number, payload: string) => void;

export interface EventWriterOptions {
  store: DebateStore;
  publish: Publish;
  log: Logger;
  /** How long events may wait to share a transaction; default 2 ms. */
  flushMs?: number;
  /** Called with each batch's commit latency in seconds (metrics). */
  onCommit?: (seconds: number, events: number) => void;
}

/**
 * Batches appends from every debate into one transaction per flush, then publishes them in order.
 * A failed transaction is retried (the batch stays at the head of the queue): events are never
 * published out of order or before they are durable.
 */
export class EventWriter {
  private queue: StoredEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private waiters: Array<() => void> = [];
  private readonly flushMs: number;
  private failures = 0;

  constructor(private readonly options: EventWriterOptions) {
    this.flushMs = options.flushMs ?? 2;
  }

  /** Queue one event for the next batch. @example writer.append(row) */
  append(event: StoredEvent): void {
    this.queue.push(event);
    if (!this.timer && !this.running) this.timer = setTimeout(() => void this.run(), this.flushMs);
  }

  /** Events waiting for their transaction. */
  get pending(): number {
    return this.queue.length;
  }

  /** Resolves once everything appended so far is durable and published. @example await writer.flush() */
  flush(): Promise<void> {
    if (this.queue.length === 0 && !this.running) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      if (!this.running) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        void this.run();
      }
    });
  }

  private run(): Promise<void> {
    this.timer = undefined;
    this.running = (async () => {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        const started = performance.now();
        try {
          await this.options.store.appendEvents(batch);
          this.failures = 0;
        } catch (err) {
          this.queue = batch.concat(this.queue);
          this.failures++;
          this.options.log.error(
            { err, events: batch.length, debate_id: batch[0]?.debateId, attempt: this.failures },
            "event log append failed; retrying",
          );
          await Bun.sleep(Math.min(1000, 10 * 2 ** Math.min(this.failures, 7)));
          continue;
        }
        this.options.onCommit?.((performance.now() - started) / 1000, batch.length);
        for (const e of batch) {
          try {
            this.options.publish(e.debateId, e.seq, e.payload);
          } catch (err) {
            this.options.log.error({ err, debate_id: e.debateId, seq: e.seq }, "event publish failed");
          }
        }
      }
    })();
    return this.running.finally(() => {
      this.running = undefined;
      if (this.queue.length > 0) {
        this.timer ??= setTimeout(() => void this.run(), this.flushMs);
        return;
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }
}

/** One debate's side of the log: the seq counter and the hash chain. */
export class DebateLog {
  private seq: number;
  private hash: string;

  constructor(
    readonly debateId: string,
    private readonly writer: Pick<EventWriter, "append">,
    last: { seq: number; hash: string },
    private readonly now: () => number = Date.now,
  ) {
    this.seq = last.seq;
    this.hash = last.hash;
  }

  get lastSeq(): number {
    return this.seq;
  }

  get lastHash(): string {
    return this.hash;
  }

  /**
   * Emit one event: assign its seq, extend the chain, queue it for persistence. Returns the envelope.
   *
   * @example log.emit("round_start", 1, null, { phase: "critique" })
   */
  emit(
    type: EventType,
    round: number | null,
    agent: string | null,
    data: Record<string, unknown>,
  ): DebateEventEnvelope {
    const at = this.now();
    const envelope: DebateEventEnvelope = {
      type,
      debate_id: this.debateId,
      seq: ++this.seq,
      ts: new Date(at).toISOString(),
      round,
      agent,
      data,
    };
    const payload = JSON.stringify(envelope);
    this.hash = chainLink(this.hash, payload).hash;
    this.writer.append({
      debateId: this.debateId,
      seq: this.seq,
      type,
      round,
      agent,
      ts: at,
      hash: this.hash,
      payload,
    });
    return envelope;
  }
}
