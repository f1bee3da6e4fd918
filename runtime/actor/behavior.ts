/**
 * What an actor is: a behaviour `receive(state, msg, ctx) -> state` over a typed message union,
 * plus optional lifecycle hooks, and the options its parent spawns it with.
 */
import type { ActorRef, Sender } from "./actor-ref.ts";
import type { StopReason } from "./inspect.ts";
import type { OverflowPolicy } from "./mailbox.ts";
import type { ActorSystem } from "./system.ts";
import type { ActorTimers } from "./timers.ts";

/**
 * Delivered to a watcher when the actor it watches terminates. Include it in the watcher's
 * message union.
 *
 * @example
 * type Msg = { type: "work" } | Terminated;
 */
export interface Terminated {
  type: "terminated";
  ref: ActorRef<never>;
  reason: StopReason;
  error?: unknown;
}

/** What an actor can do while handling a message or a lifecycle hook. */
export interface ActorContext<M> {
  /** @example other.tell({ type: "ping" }, ctx.self); */
  readonly self: ActorRef<M>;
  /** Who sent the current message (an actor, an ask, or undefined for a bare tell). */
  readonly sender: Sender | undefined;
  /** @example ctx.system.lookup("/system/debates") */
  readonly system: ActorSystem;
  /** @example ctx.parent?.tell({ type: "done" }) */
  readonly parent: ActorRef<never> | undefined;
  /**
   * Replies to the sender of the current message (resolves an ask); a no-op without a sender.
   *
   * @example
   * receive(n, msg, ctx) { if (msg.type === "get") ctx.reply(n); return n; }
   */
  reply(value: unknown): void;
  /**
   * Spawns a supervised child of this actor.
   *
   * @example
   * const agent = ctx.spawn(agentBehavior, { name: "anthropic", restart: "transient" });
   */
  spawn<CM, CS>(behavior: Behavior<CM, CS>, options?: SpawnOptions): ActorRef<CM>;
  /**
   * Stops this actor (no argument: a normal exit, restarted only if permanent) or another one.
   *
   * @example
   * ctx.stop();          // done
   * ctx.stop(childRef);  // retire a child
   */
  stop(ref?: ActorRef<never>): void;
  /**
   * Delivers a {@link Terminated} message to this actor when `ref` terminates.
   *
   * @example
   * ctx.watch(agent); // later: receive(s, { type: "terminated", ref, reason }) { ... }
   */
  watch(ref: ActorRef<never>): void;
  /** @example ctx.unwatch(agent); */
  unwatch(ref: ActorRef<never>): void;
  /** Per-actor timers, cancelled when the actor stops or restarts. */
  readonly timers: ActorTimers<M>;
  /**
   * Registers a release function (an unsubscribe, a close) run when this incarnation ends,
   * whether by stop or restart.
   *
   * @example
   * ctx.onStop(system.inspect.subscribe(onEvent));
   */
  onStop(release: () => void): void;
  /** @example ctx.child("anthropic")?.tell(msg) */
  child(name: string): ActorRef<never> | undefined;
  /** Children in start order. @example for (const c of ctx.children()) c.tell({ type: "flush" }); */
  children(): ActorRef<never>[];
}

/**
 * An actor's behaviour. `receive` handles one message at a time and returns the next state;
 * returning a promise (an async handler) holds the mailbox until it settles. A throw or rejection
 * crashes the actor and hands it to its supervisor. A state object with a `then` method would be
 * mistaken for a promise; don't use one.
 */
export interface Behavior<M, S> {
  /** Metrics label (aragora_actors_alive{kind}); defaults to "anonymous". */
  kind?: string;
  /** The initial state of each incarnation (first start and every restart). */
  init?(ctx: ActorContext<M>): S;
  receive(state: S, msg: M, ctx: ActorContext<M>): S | PromiseLike<S>;
  /** Runs after init on every start and restart: spawn children, start timers. May return a new state. */
  preStart?(state: S, ctx: ActorContext<M>): S | undefined;
  /** Runs on the failed incarnation before it is replaced; its children are already stopped. */
  preRestart?(state: S, error: unknown, ctx: ActorContext<M>): void;
  /** Runs once when the actor stops for good, after its children stopped; may be async. */
  postStop?(state: S, ctx: ActorContext<M>): void | PromiseLike<void>;
}

/** OTP restart strategies. */
export type SupervisionStrategy = "one_for_one" | "one_for_all" | "rest_for_one";

/**
 * OTP restart types: `permanent` always restarts, `transient` only after a crash, `temporary` never.
 */
export type RestartType = "permanent" | "transient" | "temporary";

/** Exponential restart backoff: min(maxMs, minMs * factor^attempt), plus up to `jitter` of itself. */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Growth per consecutive restart of the same child; default 2. */
  factor?: number;
  /** Random extra fraction in [0, jitter); default 0.2. */
  jitter?: number;
}

/** How an actor supervises its children. Defaults follow OTP: one_for_one, 1 restart per 5000 ms. */
export interface SupervisorOptions {
  strategy?: SupervisionStrategy;
  /** Restarts allowed within periodMs; one more escalates to this actor's own supervisor. */
  maxRestarts?: number;
  periodMs?: number;
  backoff?: BackoffOptions;
}

/** Options for spawning an actor. */
export interface SpawnOptions {
  /** Unique among siblings; no "/" and no leading "$". Anonymous children get "$<n>". */
  name?: string;
  /** Metrics label; overrides behavior.kind. */
  kind?: string;
  /** Default "permanent", as in OTP. Use "transient" for actors that finish their work. */
  restart?: RestartType;
  /** Time allowed to stop (in-flight handler, children, postStop) before being forced; default 5000. */
  shutdownTimeoutMs?: number;
  /** Mailbox bound; the system default otherwise (config.actorMailboxLimit). */
  mailboxLimit?: number;
  /** Default "dead_letter". */
  overflow?: OverflowPolicy;
  /** How this actor supervises the children it spawns. */
  supervisor?: SupervisorOptions;
}

/**
 * Identity helper that infers the message and state types of a behaviour.
 *
 * @example
 * type CounterMsg = { type: "add"; n: number } | { type: "get" };
 * const counter = behavior<CounterMsg, number>({
 *   init: () => 0,
 *   receive(n, msg, ctx) {
 *     if (msg.type === "add") return n + msg.n;
 *     ctx.reply(n);
 *     return n;
 *   },
 * });
 */
export function behavior<M, S = undefined>(b: Behavior<M, S>): Behavior<M, S> {
  return b;
}

/**
 * A behaviour whose only job is supervising: `startChildren` runs on every (re)start, like an OTP
 * supervisor's child specs. Messages sent to it are ignored.
 *
 * @example
 * const debates = system.spawn(supervisor(), { name: "debates", supervisor: { strategy: "one_for_one", maxRestarts: 10, periodMs: 60_000 } });
 * const core = system.spawn(supervisor((ctx) => { ctx.spawn(store, { name: "store" }); ctx.spawn(bus, { name: "bus" }); }),
 *   { name: "core", supervisor: { strategy: "rest_for_one" } });
 */
export function supervisor(startChildren?: (ctx: ActorContext<never>) => void): Behavior<never, undefined> {
  return {
    kind: "supervisor",
    receive: () => undefined,
    preStart: startChildren
      ? (_s, ctx) => {
          startChildren(ctx);
          return undefined;
        }
      : undefined,
  };
}
