/**
 * The runtime of one actor: its mailbox, state, children and lifecycle. The cell is also the
 * `ctx` handed to the behaviour, so handling a message allocates nothing. Everything optional
 * (children, watchers, timers, release functions, supervision bookkeeping) is created on first
 * use, which keeps an idle actor to a few hundred bytes.
 */
import { ActorRef, AskReply, type Sender } from "./actor-ref.ts";
import type { ActorContext, Behavior, RestartType, SpawnOptions, Terminated } from "./behavior.ts";
import { MailboxOverflowError } from "./errors.ts";
import type { StopReason } from "./inspect.ts";
import type { KindStats } from "./kernel-metrics.ts";
import { Mailbox } from "./mailbox.ts";
import type { SupervisionState } from "./supervisor.ts";
import { childExited } from "./supervisor.ts";
import type { ActorSystem } from "./system.ts";
import { type ActorTimer, ActorTimers, TIMER_SENDER } from "./timers.ts";

// Lifecycle states. Ordered: everything >= SUSPENDED processes no messages.
export const IDLE = 0; // no messages, not queued
export const SCHEDULED = 1; // in the scheduler's run queue
export const RUNNING = 2; // in a turn
export const BUSY = 3; // awaiting an async handler
export const SUSPENDED = 4; // crashed or exited; waiting for its supervisor
export const STOPPING = 5;
export const STOPPED = 6;
export const STATUS_NAMES = ["idle", "scheduled", "running", "busy", "suspended", "stopping", "stopped"] as const;

const OVERFLOW_DEAD_LETTER = 0;
const OVERFLOW_DROP_OLDEST = 1;
const OVERFLOW_FAIL = 2;

const RESOLVED: Promise<void> = Promise.resolve();

type AnyBehavior = Behavior<unknown, unknown>;

export function isThenable(x: unknown): x is PromiseLike<unknown> {
  return (
    x !== null &&
    (typeof x === "object" || typeof x === "function") &&
    typeof (x as { then?: unknown }).then === "function"
  );
}

export class ActorCell implements ActorContext<unknown> {
  readonly system: ActorSystem;
  readonly parentCell: ActorCell | undefined;
  readonly name: string;
  readonly behavior: AnyBehavior;
  readonly options: SpawnOptions;
  readonly ref: ActorRef<unknown>;
  readonly stats: KindStats;
  state: unknown = undefined;
  status = IDLE;
  mailbox: Mailbox | undefined = undefined;
  readonly limit: number;
  private readonly overflow: number;
  sender: Sender | undefined = undefined;
  childMap: Map<string, ActorCell> | undefined = undefined;
  private watchers: Set<ActorCell> | undefined = undefined;
  private watching: Set<ActorCell> | undefined = undefined;
  private timerSet: ActorTimers<unknown> | undefined = undefined;
  private releases: (() => void)[] | undefined = undefined;
  restarts = 0;
  /** Bumped whenever an incarnation ends, so late async results of the old one are ignored. */
  incarnation = 0;
  private inflight: Promise<void> | undefined = undefined;
  private stopping: Promise<void> | undefined = undefined;
  /** A stop requested from inside this actor's own turn, completed when the turn ends. */
  private pendingStop: StopReason | undefined = undefined;
  supervision: SupervisionState | undefined = undefined;
  /** Consecutive restarts of this child, for backoff: [attempt, lastRestartAt]. */
  backoff: [number, number] | undefined = undefined;
  private pathCache: string | undefined = undefined;
  childSeq = 0;

  constructor(
    system: ActorSystem,
    parent: ActorCell | undefined,
    name: string,
    behavior: AnyBehavior,
    options: SpawnOptions,
    stats: KindStats,
  ) {
    this.system = system;
    this.parentCell = parent;
    this.name = name;
    this.behavior = behavior;
    this.options = options;
    this.stats = stats;
    this.limit = options.mailboxLimit ?? system.mailboxLimit;
    const overflow = options.overflow ?? system.overflow;
    this.overflow =
      overflow === "drop_oldest" ? OVERFLOW_DROP_OLDEST : overflow === "fail" ? OVERFLOW_FAIL : OVERFLOW_DEAD_LETTER;
    this.ref = new ActorRef(this);
  }

  get path(): string {
    let p = this.pathCache;
    if (p === undefined) {
      p = this.parentCell === undefined ? `/${this.name}` : `${this.parentCell.path}/${this.name}`;
      this.pathCache = p;
    }
    return p;
  }

  get restartType(): RestartType {
    return this.options.restart ?? "permanent";
  }

  get shutdownTimeoutMs(): number {
    return this.options.shutdownTimeoutMs ?? this.system.shutdownTimeoutMs;
  }

  get mailboxDepth(): number {
    return this.mailbox === undefined ? 0 : this.mailbox.size;
  }

  // ---- delivery -------------------------------------------------------------------------------

  enqueue(msg: unknown, sender: Sender | undefined): void {
    if (this.status >= STOPPING) {
      this.system.deadLetter(this, msg, sender, "stopped");
      return;
    }
    let mb = this.mailbox;
    if (mb === undefined) {
      mb = new Mailbox();
      this.mailbox = mb;
    } else if (mb.size >= this.limit) {
      if (this.overflow === OVERFLOW_DEAD_LETTER) {
        this.system.deadLetter(this, msg, sender, "mailbox_full");
        return;
      }
      if (this.overflow === OVERFLOW_DROP_OLDEST) {
        const old = mb.shift();
        this.stats.queued--;
        this.system.deadLetter(this, old, mb.sender, "dropped_oldest");
        mb.sender = undefined;
      } else {
        this.system.deadLetter(this, msg, sender, "overflow_failure");
        this.fail(new MailboxOverflowError(this.path, this.limit));
        return;
      }
    }
    mb.push(msg, sender);
    this.stats.queued++;
    if (this.status === IDLE) {
      this.status = SCHEDULED;
      this.system.scheduler.enqueue(this);
    }
  }

  /**
   * Handles up to `budget` messages. Called only by the scheduler; never throws.
   * Returns how many messages were taken from the mailbox.
   */
  runTurn(budget: number): number {
    if (this.status !== SCHEDULED) return 0;
    this.status = RUNNING;
    const mb = this.mailbox as Mailbox;
    const receive = this.behavior.receive;
    let state = this.state;
    let n = 0;
    try {
      while (n < budget && mb.size > 0) {
        let msg = mb.shift();
        let sender = mb.sender;
        n++;
        if (sender === TIMER_SENDER) {
          const t = msg as ActorTimer;
          if (t.cancelled) continue;
          (this.timerSet as ActorTimers<unknown>).delivered(t);
          msg = t.msg;
          sender = undefined;
        }
        this.sender = sender;
        const next = receive(state, msg, this);
        if (next !== null && typeof next === "object" && isThenable(next)) {
          this.state = state;
          this.stats.processed += n;
          this.stats.queued -= n;
          if (this.status === RUNNING) this.awaitHandler(next);
          else if (this.pendingStop !== undefined) this.completePendingStop(Promise.resolve(next).then(ignore, ignore));
          else next.then(undefined, ignore);
          return n;
        }
        state = next;
        if (this.status !== RUNNING) break;
      }
    } catch (error) {
      this.state = state;
      this.sender = undefined;
      this.stats.processed += n;
      this.stats.queued -= n;
      if (this.pendingStop !== undefined) this.completePendingStop(undefined);
      else this.fail(error);
      return n;
    }
    this.state = state;
    this.sender = undefined;
    this.stats.processed += n;
    this.stats.queued -= n;
    if (this.status === RUNNING) {
      if (mb.size > 0) {
        this.status = SCHEDULED;
        this.system.scheduler.enqueue(this);
      } else {
        this.status = IDLE;
        mb.shrinkIfEmpty();
      }
    } else if (this.pendingStop !== undefined) {
      this.completePendingStop(undefined);
    }
    return n;
  }

  private awaitHandler(pending: PromiseLike<unknown>): void {
    this.status = BUSY;
    const incarnation = this.incarnation;
    this.inflight = Promise.resolve(pending).then(
      (state) => {
        this.inflight = undefined;
        if (incarnation !== this.incarnation) return;
        this.state = state;
        if (this.status !== BUSY) return; // stopping: the state is kept for postStop
        this.sender = undefined;
        this.status = IDLE;
        if (this.mailbox !== undefined && this.mailbox.size > 0) {
          this.status = SCHEDULED;
          this.system.scheduler.enqueue(this);
        }
      },
      (error) => {
        this.inflight = undefined;
        if (incarnation !== this.incarnation || this.status !== BUSY) return;
        this.sender = undefined;
        this.fail(error);
      },
    );
  }

  // ---- failure and restart --------------------------------------------------------------------

  /** Crashes this incarnation and hands the actor to its supervisor. */
  fail(error: unknown): void {
    if (this.status >= SUSPENDED) return;
    this.status = SUSPENDED;
    this.incarnation++;
    const system = this.system;
    if (system.inspect.active) {
      system.inspect.emit({ type: "failed", path: this.path, kind: this.stats.kind, error, at: system.clock.now() });
    }
    if (this.parentCell === undefined) system.rootFailed(error);
    else childExited(this.parentCell, this, "failed", error);
  }

  /** A normal exit (ctx.stop() on itself): the supervisor restarts it only if it is permanent. */
  private exit(): void {
    if (this.status >= SUSPENDED) return;
    // Only a permanent child needs its supervisor's decision; the others are simply removed.
    if (this.parentCell !== undefined && this.restartType !== "permanent") {
      if (this.cannotBlockStop()) void this.terminate("normal");
      else void this.system.stopCell(this, "normal");
      return;
    }
    this.status = SUSPENDED;
    this.incarnation++;
    if (this.parentCell === undefined) void this.system.shutdown();
    else childExited(this.parentCell, this, "normal", undefined);
  }

  /** Stops a live sibling so its supervisor can restart it with the group (one_for_all, rest_for_one). */
  suspend(): void {
    if (this.status >= SUSPENDED) return;
    this.status = SUSPENDED;
    this.incarnation++;
  }

  /** Ends the failed incarnation: timers, children (reverse start order), preRestart, releases. */
  async tearDownForRestart(error: unknown): Promise<void> {
    this.cancelTimers();
    await this.stopChildren();
    try {
      this.behavior.preRestart?.(this.state, error, this);
    } catch {}
    this.runReleases();
  }

  /** Starts a fresh incarnation in place: same ref, same mailbox, fresh state. */
  restart(): void {
    if (this.status !== SUSPENDED) return;
    this.restarts++;
    this.stats.restarts++;
    const system = this.system;
    if (system.inspect.active) {
      system.inspect.emit({
        type: "restarted",
        path: this.path,
        kind: this.stats.kind,
        restarts: this.restarts,
        at: system.clock.now(),
      });
    }
    this.start();
  }

  /** Runs init and preStart; a throw there is a crash like any other. */
  start(): void {
    this.status = IDLE;
    const b = this.behavior;
    try {
      let state = b.init === undefined ? undefined : b.init(this);
      if (b.preStart !== undefined) {
        const next = b.preStart(state, this);
        if (next !== undefined) state = next;
      }
      this.state = state;
    } catch (error) {
      this.fail(error);
      return;
    }
    if (this.status === IDLE && this.mailbox !== undefined && this.mailbox.size > 0) {
      this.status = SCHEDULED;
      this.system.scheduler.enqueue(this);
    }
  }

  // ---- stopping -------------------------------------------------------------------------------

  /**
   * Stops this actor and its subtree: waits for an in-flight handler, stops children in reverse
   * start order (each bounded by its shutdown timeout), runs postStop, then releases everything.
   * Idempotent; the caller bounds the wait with {@link ActorSystem.stopCell}.
   */
  terminate(reason: StopReason, error?: unknown): Promise<void> {
    const status = this.status;
    if (status === STOPPED) return RESOLVED;
    if (this.stopping !== undefined) return this.stopping;
    if (status === STOPPING) return RESOLVED; // a pending self-stop, done when the turn ends
    this.status = STOPPING;
    if (status === RUNNING) {
      // Only the actor itself can stop itself mid-turn: finish once the turn has stored its state.
      this.pendingStop = reason;
      return RESOLVED;
    }
    if (status !== BUSY && this.cannotBlockStop()) {
      this.release(reason, error);
      return RESOLVED;
    }
    this.stopping = this.finishStop(reason, error, status === BUSY ? this.inflight : undefined);
    return this.stopping;
  }

  /** No children, no postStop: stopping is bookkeeping only and can finish synchronously. */
  cannotBlockStop(): boolean {
    return this.childMap === undefined && this.behavior.postStop === undefined;
  }

  private completePendingStop(inflight: Promise<void> | undefined): void {
    const reason = this.pendingStop as StopReason;
    this.pendingStop = undefined;
    if (inflight === undefined && this.cannotBlockStop()) this.release(reason, undefined);
    else this.stopping = this.finishStop(reason, undefined, inflight);
  }

  private async finishStop(reason: StopReason, error: unknown, inflight: Promise<void> | undefined): Promise<void> {
    // Always yield once: a self-stop from inside receive must let the turn store its state first.
    await inflight;
    if (this.status === STOPPED) return;
    this.cancelTimers();
    if (this.childMap !== undefined) await this.stopChildren();
    if (this.status === STOPPED) return;
    this.runReleases();
    const postStop = this.behavior.postStop;
    if (postStop !== undefined) {
      try {
        const r = postStop(this.state, this);
        if (isThenable(r)) await r;
      } catch {}
    }
    this.release(reason, error);
  }

  /** Forced stop after a shutdown timeout: no more waiting, no postStop. */
  kill(): void {
    if (this.status === STOPPED) return;
    this.status = STOPPING;
    this.cancelTimers();
    const children = this.childMap;
    if (children !== undefined) {
      const list = Array.from(children.values());
      for (let i = list.length - 1; i >= 0; i--) (list[i] as ActorCell).kill();
    }
    this.runReleases();
    this.release("killed", undefined);
  }

  async stopChildren(): Promise<void> {
    const children = this.childMap;
    if (children === undefined || children.size === 0) return;
    const list = Array.from(children.values());
    for (let i = list.length - 1; i >= 0; i--) await this.system.stopCell(list[i] as ActorCell, "shutdown");
  }

  /** Gives back everything the actor held and tells its watchers. */
  release(reason: StopReason, error: unknown): void {
    if (this.status === STOPPED) return;
    this.status = STOPPED;
    this.incarnation++;
    this.cancelTimers();
    const parent = this.parentCell;
    if (parent !== undefined && parent.childMap !== undefined && parent.childMap.get(this.name) === this) {
      parent.childMap.delete(this.name);
      if (parent.childMap.size === 0) parent.childMap = undefined;
    }
    const mb = this.mailbox;
    this.mailbox = undefined;
    if (mb !== undefined) {
      this.stats.queued -= mb.size;
      while (mb.size > 0) {
        const msg = mb.shift();
        if (mb.sender === TIMER_SENDER) continue;
        this.system.deadLetter(this, msg, mb.sender, "stopped");
      }
    }
    const watching = this.watching;
    this.watching = undefined;
    if (watching !== undefined) for (const w of watching) w.watchers?.delete(this);
    const watchers = this.watchers;
    this.watchers = undefined;
    if (watchers !== undefined) {
      for (const w of watchers) {
        w.watching?.delete(this);
        w.enqueue(terminatedMessage(this.ref, reason, error), undefined);
      }
    }
    this.runReleases();
    this.supervision = undefined;
    this.state = undefined;
    this.sender = undefined;
    this.system.onReleased(this, reason, error);
  }

  private cancelTimers(): void {
    if (this.timerSet !== undefined && this.timerSet.size > 0) this.timerSet.cancelAll();
  }

  private runReleases(): void {
    const releases = this.releases;
    if (releases === undefined) return;
    this.releases = undefined;
    for (const r of releases) {
      try {
        r();
      } catch {}
    }
  }

  // ---- ActorContext ---------------------------------------------------------------------------

  get self(): ActorRef<unknown> {
    return this.ref;
  }

  get parent(): ActorRef<never> | undefined {
    return this.parentCell?.ref as ActorRef<never> | undefined;
  }

  get timers(): ActorTimers<unknown> {
    let t = this.timerSet;
    if (t === undefined) {
      t = new ActorTimers(this);
      this.timerSet = t;
    }
    return t;
  }

  reply(value: unknown): void {
    const s = this.sender;
    if (s !== undefined) s.tell(value, this.ref);
  }

  spawn<CM, CS>(behavior: Behavior<CM, CS>, options?: SpawnOptions): ActorRef<CM> {
    return this.system.spawnChild(this, behavior, options);
  }

  stop(ref?: ActorRef<never>): void {
    if (ref === undefined || ref.cell === this) this.exit();
    else void this.system.stopCell(ref.cell, "stopped");
  }

  watch(ref: ActorRef<never>): void {
    const target = ref.cell;
    if (target === this) return;
    if (target.status === STOPPED) {
      this.enqueue(terminatedMessage(target.ref, "noproc", undefined), undefined);
      return;
    }
    if (target.watchers === undefined) target.watchers = new Set();
    target.watchers.add(this);
    if (this.watching === undefined) this.watching = new Set();
    this.watching.add(target);
  }

  unwatch(ref: ActorRef<never>): void {
    const target = ref.cell;
    target.watchers?.delete(this);
    this.watching?.delete(target);
  }

  onStop(release: () => void): void {
    if (this.releases === undefined) this.releases = [release];
    else this.releases.push(release);
  }

  child(name: string): ActorRef<never> | undefined {
    return this.childMap?.get(name)?.ref as ActorRef<never> | undefined;
  }

  children(): ActorRef<never>[] {
    const out: ActorRef<never>[] = [];
    if (this.childMap !== undefined) for (const c of this.childMap.values()) out.push(c.ref as ActorRef<never>);
    return out;
  }

  /** Fails an ask that can no longer be answered, or does nothing for other senders. */
  static failAsk(sender: Sender | undefined, error: unknown): void {
    if (sender instanceof AskReply) sender.fail(error);
  }
}

function terminatedMessage(ref: ActorRef<unknown>, reason: StopReason, error: unknown): Terminated {
  const msg: Terminated = { type: "terminated", ref: ref as ActorRef<never>, reason };
  if (error !== undefined) msg.error = error;
  return msg;
}

function ignore(): void {}
