/**
 * The actor system: one root supervisor (`/system`), the scheduler, the timer queue, dead
 * letters, the inspect stream and metrics. The server creates one at boot, spawns its long-lived
 * parts under the root, and awaits `shutdown()` to stop the tree in reverse start order.
 */
import type { ActorRef, Sender } from "./actor-ref.ts";
import type { Behavior, SpawnOptions, SupervisorOptions } from "./behavior.ts";
import { ActorCell, STATUS_NAMES, STOPPED, STOPPING } from "./cell.ts";
import { type Clock, realClock } from "./clock.ts";
import { DeadLetterOffice, type DeadLetterReason, messageTypeOf } from "./dead-letters.ts";
import { ActorStoppedError, MailboxOverflowError } from "./errors.ts";
import { InspectStream, type StopReason } from "./inspect.ts";
import { type KernelCounters, KernelMetrics } from "./kernel-metrics.ts";
import type { OverflowPolicy } from "./mailbox.ts";
import { assertChildName, resolvePath } from "./registry.ts";
import { Scheduler } from "./scheduler.ts";
import { TimerQueue } from "./timer-queue.ts";
import type { ActorTimer } from "./timers.ts";
import { TIMER_SENDER } from "./timers.ts";

/** Options of an {@link ActorSystem}; every field has a default. */
export interface ActorSystemOptions {
  /** Name of the root supervisor; paths start with `/<name>`. Default "system". */
  name?: string;
  /** Default mailbox bound (the server passes config.actorMailboxLimit). Default 10000. */
  mailboxLimit?: number;
  /** Default overflow policy. Default "dead_letter". */
  overflow?: OverflowPolicy;
  /** Real or simulated time. Default {@link realClock}. */
  clock?: Clock;
  /** Default ask timeout. Default 5000 ms. */
  askTimeoutMs?: number;
  /** Default shutdown timeout per actor. Default 5000 ms. */
  shutdownTimeoutMs?: number;
  /** How the root supervises top-level actors. Default one_for_one, 10 restarts per 60 s. */
  supervisor?: SupervisorOptions;
  /** Messages per actor turn. Default 64. */
  throughput?: number;
  /** Longest kernel run before yielding to the event loop. Default 5 ms. */
  sliceMs?: number;
  /** Dead letters kept for {@link DeadLetterOffice.recent}. Default 1000. */
  deadLetterCapacity?: number;
  /** Random source for backoff jitter; inject one for deterministic tests. Default Math.random. */
  random?: () => number;
  /** Push counters to prom-client every this many ms (real time); 0 disables the timer. Default 5000. */
  metricsIntervalMs?: number;
  /**
   * Called when the root supervisor exceeds its restart intensity; the system then shuts down.
   * The server typically logs and exits non-zero.
   */
  onEscalate?: (error: unknown) => void;
  /** Called with kernel bugs caught at the boundary instead of crashing the process. */
  onInternalError?: (error: unknown) => void;
}

/** One node of {@link ActorSystem.tree}. */
export interface ActorTreeNode {
  path: string;
  name: string;
  kind: string;
  status: (typeof STATUS_NAMES)[number];
  mailboxDepth: number;
  restarts: number;
  children: ActorTreeNode[];
}

const EMPTY_SPAWN_OPTIONS: SpawnOptions = {};
const ROOT_BEHAVIOR: Behavior<unknown, undefined> = { kind: "root", receive: () => undefined };

export class ActorSystem {
  readonly clock: Clock;
  readonly mailboxLimit: number;
  readonly overflow: OverflowPolicy;
  readonly askTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  readonly rootSupervisor: SupervisorOptions;
  readonly random: () => number;
  /** @internal */ readonly scheduler: Scheduler;
  /** @internal */ readonly timers: TimerQueue;
  /** Lifecycle events for tests and the admin console. */
  readonly inspect = new InspectStream();
  /** Undelivered messages: counts per reason and the most recent ones. */
  readonly deadLetters: DeadLetterOffice;
  private readonly kernelMetrics = new KernelMetrics();
  private readonly rootCell: ActorCell;
  private readonly onEscalate: ((error: unknown) => void) | undefined;
  private readonly onInternalError: ((error: unknown) => void) | undefined;
  private metricsTimer: ReturnType<typeof setInterval> | undefined;
  private shuttingDown: Promise<void> | undefined;

  /**
   * Creates a system with its root supervisor.
   *
   * @example
   * const system = new ActorSystem({ mailboxLimit: config.actorMailboxLimit, onEscalate: () => process.exit(1) });
   * const clockedForTests = new ActorSystem({ clock: new SimulatedClock(), metricsIntervalMs: 0 });
   */
  constructor(options: ActorSystemOptions = {}) {
    this.clock = options.clock ?? realClock;
    this.mailboxLimit = options.mailboxLimit ?? 10_000;
    this.overflow = options.overflow ?? "dead_letter";
    this.askTimeoutMs = options.askTimeoutMs ?? 5000;
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 5000;
    this.rootSupervisor = options.supervisor ?? { strategy: "one_for_one", maxRestarts: 10, periodMs: 60_000 };
    this.random = options.random ?? Math.random;
    this.onEscalate = options.onEscalate;
    this.onInternalError = options.onInternalError;
    this.scheduler = new Scheduler({ throughput: options.throughput ?? 64, sliceMs: options.sliceMs ?? 5 });
    this.timers = new TimerQueue(this.clock);
    this.deadLetters = new DeadLetterOffice(options.deadLetterCapacity ?? 1000);
    const name = options.name ?? "system";
    this.rootCell = new ActorCell(
      this,
      undefined,
      name,
      ROOT_BEHAVIOR as Behavior<unknown, unknown>,
      { supervisor: this.rootSupervisor, shutdownTimeoutMs: Number.POSITIVE_INFINITY },
      this.kernelMetrics.stats("root"),
    );
    this.rootCell.stats.alive++;
    const interval = options.metricsIntervalMs ?? 5000;
    if (interval > 0) {
      this.metricsTimer = setInterval(() => this.flushMetrics(), interval);
      this.metricsTimer.unref?.();
    }
  }

  /** The root supervisor; top-level actors are its children. @example system.root.path // "/system" */
  get root(): ActorRef<never> {
    return this.rootCell.ref as ActorRef<never>;
  }

  /** System-wide counters (ask timeouts, late replies). @example system.counters.lateReplies */
  get counters(): KernelCounters {
    return this.kernelMetrics.counters;
  }

  /**
   * Spawns an actor under the root, or under `options.parent` (which then supervises it).
   * Throws on an invalid or duplicate name, or when the parent is stopping.
   *
   * @example
   * const debates = system.spawn(supervisor(), { name: "debates" });
   * const d42 = system.spawn(debateBehavior, { parent: debates, name: "d-42", restart: "transient" });
   */
  spawn<M, S>(behavior: Behavior<M, S>, options?: SpawnOptions & { parent?: ActorRef<never> }): ActorRef<M> {
    const parent = options?.parent === undefined ? this.rootCell : options.parent.cell;
    return this.spawnChild(parent, behavior, options);
  }

  /** @internal */
  spawnChild<M, S>(parent: ActorCell, behavior: Behavior<M, S>, options?: SpawnOptions): ActorRef<M> {
    if (parent.status >= STOPPING) throw new ActorStoppedError(parent.path);
    const opts = options ?? EMPTY_SPAWN_OPTIONS;
    let name = opts.name;
    if (name === undefined) name = `$${(parent.childSeq++).toString(36)}`;
    else assertChildName(name);
    let children = parent.childMap;
    if (children === undefined) {
      children = new Map();
      parent.childMap = children;
    } else if (children.has(name)) {
      throw new Error(`actor ${parent.path}/${name} already exists`);
    }
    const stats = this.kernelMetrics.stats(opts.kind ?? behavior.kind ?? "anonymous");
    const cell = new ActorCell(this, parent, name, behavior as Behavior<unknown, unknown>, opts, stats);
    children.set(name, cell);
    stats.alive++;
    if (this.inspect.active) {
      this.inspect.emit({ type: "spawned", path: cell.path, kind: stats.kind, at: this.clock.now() });
    }
    cell.start();
    return cell.ref as ActorRef<M>;
  }

  /**
   * Stops an actor and its subtree; resolves once it is gone (forced after its shutdown timeout).
   * A stopped actor is not restarted.
   *
   * @example
   * await system.stop(d42);
   */
  stop(ref: ActorRef<never>): Promise<void> {
    return this.stopCell(ref.cell, "stopped");
  }

  /** @internal stop bounded by the cell's shutdown timeout. */
  stopCell(cell: ActorCell, reason: StopReason, error?: unknown): Promise<void> {
    const done = cell.terminate(reason, error);
    const ms = cell.shutdownTimeoutMs;
    if (cell.status === STOPPED || !(ms < Number.POSITIVE_INFINITY)) return done;
    return new Promise<void>((resolve) => {
      const timeout = this.timers.after(ms, () => {
        cell.kill();
        resolve();
      });
      done.then(() => {
        this.timers.cancel(timeout);
        resolve();
      });
    });
  }

  /**
   * Finds a live actor by path.
   *
   * @example
   * system.lookup<DebateMsg>("/system/debates/d-42")?.tell({ type: "cancel" });
   */
  lookup<M = unknown>(path: string): ActorRef<M> | undefined {
    const cell = resolvePath(this.rootCell, path);
    return cell === undefined || cell.status === STOPPED ? undefined : (cell.ref as ActorRef<M>);
  }

  /**
   * A snapshot of the supervision tree with mailbox depth and restart counts, for the admin console.
   *
   * @example
   * const node = system.tree("/system/debates", 1); // the debates supervisor and its children
   */
  tree(path?: string, depth = Number.POSITIVE_INFINITY): ActorTreeNode | undefined {
    const cell = path === undefined ? this.rootCell : resolvePath(this.rootCell, path);
    return cell === undefined ? undefined : snapshot(cell, depth);
  }

  /**
   * Stops every actor, top-level ones in reverse start order, each within its shutdown timeout;
   * then stops the kernel's timers and flushes metrics. Idempotent.
   *
   * @example
   * process.on("SIGTERM", async () => { await server.stop(); await system.shutdown(); process.exit(0); });
   */
  shutdown(): Promise<void> {
    this.shuttingDown ??= (async () => {
      const root = this.rootCell;
      await root.terminate("shutdown");
      this.timers.dispose();
      if (this.metricsTimer !== undefined) clearInterval(this.metricsTimer);
      this.flushMetrics();
    })();
    return this.shuttingDown;
  }

  /**
   * Pushes the kernel's counters to prom-client now (also done on a timer and at shutdown).
   *
   * @example
   * system.flushMetrics(); const text = await registry.metrics();
   */
  flushMetrics(): void {
    this.kernelMetrics.flush(this.deadLetters);
  }

  /** True when no actor is runnable; async handlers and timers may still be pending. */
  get idle(): boolean {
    return this.scheduler.idle;
  }

  /** @internal */
  deadLetter(target: ActorCell, msg: unknown, sender: Sender | undefined, reason: DeadLetterReason): void {
    if (sender === TIMER_SENDER) {
      msg = (msg as ActorTimer).msg;
      sender = undefined;
    } else if (sender !== undefined) {
      ActorCell.failAsk(
        sender,
        reason === "stopped" ? new ActorStoppedError(target.path) : new MailboxOverflowError(target.path, target.limit),
      );
    }
    const letter = {
      at: this.clock.now(),
      sender: sender?.path,
      target: target.path,
      messageType: messageTypeOf(msg),
      reason,
    };
    this.deadLetters.record(letter);
    if (this.inspect.active) this.inspect.emit({ type: "dead_letter", letter, at: letter.at });
  }

  /** @internal */
  onReleased(cell: ActorCell, reason: StopReason, error: unknown): void {
    cell.stats.alive--;
    if (this.inspect.active) {
      const event = {
        type: "stopped" as const,
        path: cell.path,
        kind: cell.stats.kind,
        reason,
        at: this.clock.now(),
      };
      this.inspect.emit(error === undefined ? event : { ...event, error });
    }
  }

  /** @internal the root exceeded its restart intensity: nothing is left to escalate to. */
  rootFailed(error: unknown): void {
    try {
      this.onEscalate?.(error);
    } catch {}
    void this.shutdown();
  }

  /** @internal */
  internalError(error: unknown): void {
    if (this.onInternalError !== undefined) this.onInternalError(error);
    else
      queueMicrotask(() => {
        throw error;
      });
  }
}

function snapshot(cell: ActorCell, depth: number): ActorTreeNode {
  const children: ActorTreeNode[] = [];
  if (depth > 0 && cell.childMap !== undefined) {
    for (const c of cell.childMap.values()) children.push(snapshot(c, depth - 1));
  }
  return {
    path: cell.path,
    name: cell.name,
    kind: cell.stats.kind,
    status: STATUS_NAMES[cell.status] ?? "stopped",
    mailboxDepth: cell.mailboxDepth,
    restarts: cell.restarts,
    children,
  };
}
