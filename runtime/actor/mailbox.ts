/**
 * An actor's mailbox: a ring buffer of (message, sender) pairs stored side by side in one array,
 * so enqueueing allocates no envelope. The bound and overflow policy are enforced by the actor
 * (it knows whom to dead-letter and whom to fail); the mailbox only grows until it is told not to.
 */
import type { Sender } from "./actor-ref.ts";

/**
 * What happens when a message arrives at a full mailbox:
 * - `dead_letter`: the new message goes to dead letters (reason `mailbox_full`);
 * - `drop_oldest`: the oldest queued message goes to dead letters (reason `dropped_oldest`);
 * - `fail`: the new message is dead-lettered (reason `overflow_failure`) and the actor crashes,
 *   so its supervisor decides.
 */
export type OverflowPolicy = "dead_letter" | "drop_oldest" | "fail";

const INITIAL_SLOTS = 8; // 4 messages: most actors hold one or two at a time
const SHRINK_ABOVE_SLOTS = 2048;

export class Mailbox {
  private buf: unknown[] = new Array(INITIAL_SLOTS);
  private head = 0;
  private mask = INITIAL_SLOTS - 1;
  size = 0;
  /** Sender of the message most recently returned by {@link shift}. */
  sender: Sender | undefined = undefined;

  push(msg: unknown, sender: Sender | undefined): void {
    const slots = this.mask + 1;
    if (this.size * 2 === slots) this.grow();
    const i = (this.head + this.size * 2) & this.mask;
    this.buf[i] = msg;
    this.buf[i + 1] = sender;
    this.size++;
  }

  /** Removes the oldest message; its sender is left in {@link sender}. Caller checks size first. */
  shift(): unknown {
    const i = this.head;
    const buf = this.buf;
    const msg = buf[i];
    this.sender = buf[i + 1] as Sender | undefined;
    buf[i] = undefined;
    buf[i + 1] = undefined;
    this.head = (i + 2) & this.mask;
    this.size--;
    return msg;
  }

  /** After a flood, give the memory back once the mailbox is empty again. */
  shrinkIfEmpty(): void {
    if (this.size === 0 && this.mask + 1 > SHRINK_ABOVE_SLOTS) {
      this.buf = new Array(INITIAL_SLOTS);
      this.head = 0;
      this.mask = INITIAL_SLOTS - 1;
    }
  }

  private grow(): void {
    const old = this.buf;
    const slots = old.length;
    const next = new Array(slots * 2);
    for (let i = 0; i < slots; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = slots * 2 - 1;
  }
}
