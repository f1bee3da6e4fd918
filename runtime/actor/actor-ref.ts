/**
 * Actor references: the only handle user code holds. A ref stays valid across restarts (the
 * actor keeps its mailbox and path) and turns into a dead-letter sink once the actor stops.
 */
import type { ActorCell } from "./cell.ts";
import { AskTimeoutError } from "./errors.ts";
import { TimerEntry } from "./timer-queue.ts";

/**
 * Anything that can receive a reply: an actor ref, or the temporary target of an ask.
 *
 * @example
 * target.tell({ type: "ping" }, ctx.self); // the receiver can ctx.reply(...) to us
 */
export interface Sender {
  tell(msg: unknown, sender?: Sender): void;
  readonly path: string;
}

/** Options for {@link ActorRef.ask}. */
export interface AskOptions {
  /** Milliseconds before the promise rejects with AskTimeoutError; the system default otherwise. */
  timeoutMs?: number;
}

export class ActorRef<M = unknown> implements Sender {
  /** @internal the runtime behind this ref; not part of the public API. */
  readonly cell: ActorCell;

  constructor(cell: ActorCell) {
    this.cell = cell;
  }

  /** @example ref.path // "/system/debates/d-42" */
  get path(): string {
    return this.cell.path;
  }

  /** @example ref.name // "d-42" */
  get name(): string {
    return this.cell.name;
  }

  /** False once the actor has fully stopped. @example if (!ref.alive) respawn(); */
  get alive(): boolean {
    return this.cell.status !== 6;
  }

  /**
   * Enqueues a message. Never throws and never waits; an undeliverable message becomes a dead letter.
   * Pass `sender` (usually `ctx.self`) so the receiver can `ctx.reply(...)`.
   *
   * @example
   * debate.tell({ type: "start" });
   * agent.tell({ type: "turn", text }, ctx.self);
   */
  tell(msg: M, sender?: Sender): void {
    this.cell.enqueue(msg, sender);
  }

  /**
   * Sends a message and waits for the receiver's `ctx.reply(value)`. Rejects with AskTimeoutError
   * after the timeout (a later reply is dropped and counted), with ActorStoppedError if the actor
   * is stopped, or MailboxOverflowError if its mailbox refused the message.
   *
   * @example
   * const total = await counter.ask<number>({ type: "get" }, { timeoutMs: 1000 });
   */
  ask<R = unknown>(msg: M, options?: AskOptions): Promise<R> {
    const cell = this.cell;
    const system = cell.system;
    const timeoutMs = options?.timeoutMs ?? system.askTimeoutMs;
    const reply = new AskReply(cell, timeoutMs);
    const promise = new Promise<R>((resolve, reject) => {
      reply.resolve = resolve as (v: unknown) => void;
      reply.reject = reject;
    });
    system.timers.schedule(reply, timeoutMs);
    cell.enqueue(msg, reply);
    return promise;
  }

  toString(): string {
    return `ActorRef(${this.path})`;
  }
}

/** The one-shot reply target of an ask; also its timeout entry, so an ask allocates one object. */
export class AskReply extends TimerEntry implements Sender {
  resolve: (value: unknown) => void = noop;
  reject: (error: unknown) => void = noop;
  settled = false;

  constructor(
    private readonly target: ActorCell,
    private readonly timeoutMs: number,
  ) {
    super();
  }

  get path(): string {
    return "/temp/ask";
  }

  tell(value: unknown): void {
    const system = this.target.system;
    if (this.settled) {
      system.counters.lateReplies++;
      return;
    }
    this.settled = true;
    system.timers.cancel(this);
    this.resolve(value);
  }

  fire(): void {
    if (this.settled) return;
    this.settled = true;
    this.target.system.counters.askTimeouts++;
    this.reject(new AskTimeoutError(this.target.path, this.timeoutMs));
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.target.system.timers.cancel(this);
    this.reject(error);
  }
}

function noop(): void {}
