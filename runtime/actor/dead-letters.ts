/**
 * Dead letters: messages that could not be delivered. They are counted per reason (flushed to
 * aragora_actor_dead_letters_total) and the most recent ones are kept for queries, so an operator
 * can see who sent what to whom and why it was lost, not only that something was.
 */

/** Why a message was not delivered. */
export type DeadLetterReason = "mailbox_full" | "dropped_oldest" | "overflow_failure" | "stopped";

/** One undelivered message, described without retaining the message itself. */
export interface DeadLetter {
  /** Clock time (ms) at which it was dead-lettered. */
  at: number;
  /** Path of the sender actor, or undefined for a tell from outside the system ("/temp/ask" for asks). */
  sender: string | undefined;
  target: string;
  /** `msg.type` when the message has a string `type`, else its constructor name or typeof. */
  messageType: string;
  reason: DeadLetterReason;
}

/**
 * Names a message for humans without keeping it alive.
 *
 * @example
 * messageTypeOf({ type: "vote" }) // "vote"
 * messageTypeOf(42)               // "number"
 */
export function messageTypeOf(msg: unknown): string {
  if (msg === null) return "null";
  if (typeof msg !== "object") return typeof msg;
  const type = (msg as { type?: unknown }).type;
  if (typeof type === "string") return type;
  return (msg as object).constructor?.name ?? "object";
}

export class DeadLetterOffice {
  private readonly ring: (DeadLetter | undefined)[];
  private next = 0;
  private stored = 0;
  private readonly counts = new Map<DeadLetterReason, number>();
  private readonly flushed = new Map<DeadLetterReason, number>();

  constructor(readonly capacity = 1000) {
    this.ring = new Array(Math.max(1, capacity));
  }

  /**
   * Stores a dead letter and counts it (the kernel calls this; tests may too).
   *
   * @example
   * office.record({ at: 0, sender: undefined, target: "/system/a", messageType: "vote", reason: "stopped" });
   */
  record(letter: DeadLetter): void {
    this.ring[this.next] = letter;
    this.next = (this.next + 1) % this.ring.length;
    if (this.stored < this.ring.length) this.stored++;
    this.counts.set(letter.reason, (this.counts.get(letter.reason) ?? 0) + 1);
  }

  /**
   * The most recent `n` dead letters, oldest first.
   *
   * @example
   * system.deadLetters.recent(20).forEach((d) => console.log(d.target, d.messageType, d.reason));
   */
  recent(n = this.capacity): DeadLetter[] {
    const take = Math.min(n, this.stored);
    const out: DeadLetter[] = [];
    const len = this.ring.length;
    for (let i = take; i > 0; i--) out.push(this.ring[(this.next - i + len) % len] as DeadLetter);
    return out;
  }

  /**
   * How many dead letters were recorded since the system started, for one reason or all.
   *
   * @example
   * expect(system.deadLetters.count("mailbox_full")).toBe(3);
   */
  count(reason?: DeadLetterReason): number {
    if (reason !== undefined) return this.counts.get(reason) ?? 0;
    let total = 0;
    for (const c of this.counts.values()) total += c;
    return total;
  }

  /** Per-reason increments since the previous call, for the metrics flush. @example office.takeDeltas() // [["stopped", 2]] */
  takeDeltas(): [DeadLetterReason, number][] {
    const out: [DeadLetterReason, number][] = [];
    for (const [reason, c] of this.counts) {
      const d = c - (this.flushed.get(reason) ?? 0);
      if (d > 0) out.push([reason, d]);
      this.flushed.set(reason, c);
    }
    return out;
  }
}
