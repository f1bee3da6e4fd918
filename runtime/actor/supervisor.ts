/**
 * OTP supervision, run by a parent over its children: decide whether an exited child restarts
 * (its restart type), count the restart against the intensity window (escalate when exceeded),
 * and apply the strategy to the child and its siblings, optionally after a backoff delay.
 * A parent handles its children's exits one at a time, in order, like an OTP supervisor's
 * mailbox; a backoff delay does not hold up the exits of other children.
 */
import type { BackoffOptions, SupervisorOptions } from "./behavior.ts";
import { type ActorCell, STOPPING, SUSPENDED } from "./cell.ts";
import { RestartIntensityError } from "./errors.ts";

const DEFAULT_MAX_RESTARTS = 1;
const DEFAULT_PERIOD_MS = 5000;

/** Per-parent bookkeeping, created at the first child exit. */
export class SupervisionState {
  chain: Promise<void> = Promise.resolve();
  restartTimes: number[] = [];
}

/**
 * Computes the restart delay for the given consecutive attempt (0-based).
 *
 * @example
 * backoffDelay({ minMs: 100, maxMs: 10_000, factor: 2, jitter: 0 }, 3, Math.random) // 800
 */
export function backoffDelay(backoff: BackoffOptions, attempt: number, random: () => number): number {
  const factor = backoff.factor ?? 2;
  const base = Math.min(backoff.maxMs, backoff.minMs * factor ** attempt);
  const jitter = backoff.jitter ?? 0.2;
  return Math.min(backoff.maxMs, base + base * jitter * random());
}

/** Queues a child's exit for its parent to handle after any exits already queued. */
export function childExited(parent: ActorCell, child: ActorCell, reason: "failed" | "normal", error: unknown): void {
  if (parent.supervision === undefined) parent.supervision = new SupervisionState();
  const sup = parent.supervision;
  const incarnation = child.incarnation;
  sup.chain = sup.chain
    .then(() => handleExit(parent, child, incarnation, reason, error))
    .catch((e) => parent.system.internalError(e));
}

async function handleExit(
  parent: ActorCell,
  child: ActorCell,
  incarnation: number,
  reason: "failed" | "normal",
  error: unknown,
): Promise<void> {
  // Stale: the child was restarted or stopped by a group operation since it exited.
  if (child.status !== SUSPENDED || child.incarnation !== incarnation) return;
  // A stopping parent stops this child itself.
  if (parent.status >= STOPPING) return;
  const system = parent.system;
  const type = child.restartType;
  if (type === "temporary" || (type === "transient" && reason === "normal")) {
    await system.stopCell(child, reason === "failed" ? "failed" : "normal", error);
    return;
  }
  const options = supervisorOptionsOf(parent);
  if (!withinIntensity(parent, options)) {
    await escalate(parent, options, error);
    return;
  }
  const group = restartGroup(parent, child, options.strategy ?? "one_for_one");
  // Stop the group in reverse start order; temporary siblings are not restarted (OTP).
  for (let i = group.length - 1; i >= 0; i--) {
    const c = group[i] as ActorCell;
    if (c !== child) c.suspend();
    if (c !== child && c.restartType === "temporary") await system.stopCell(c, "shutdown");
    else if (c.status === SUSPENDED) await c.tearDownForRestart(c === child ? error : undefined);
  }
  const delay = options.backoff === undefined ? 0 : nextBackoff(child, options);
  if (delay > 0) system.timers.after(delay, () => restartAll(parent, group));
  else restartAll(parent, group);
}

function restartAll(parent: ActorCell, group: ActorCell[]): void {
  if (parent.status >= STOPPING) return;
  for (const c of group) if (c.status === SUSPENDED && c.parentCell === parent) c.restart();
}

/** The children a strategy restarts together, in start order. */
function restartGroup(parent: ActorCell, child: ActorCell, strategy: string): ActorCell[] {
  if (strategy === "one_for_one" || parent.childMap === undefined) return [child];
  const all = Array.from(parent.childMap.values());
  if (strategy === "one_for_all") return all;
  const i = all.indexOf(child);
  return i < 0 ? [child] : all.slice(i);
}

export function supervisorOptionsOf(cell: ActorCell): SupervisorOptions {
  return cell.options.supervisor ?? (cell.parentCell === undefined ? cell.system.rootSupervisor : EMPTY_OPTIONS);
}

const EMPTY_OPTIONS: SupervisorOptions = {};

/** Records a restart; false when it would be restart number maxRestarts+1 within periodMs. */
function withinIntensity(parent: ActorCell, options: SupervisorOptions): boolean {
  const sup = parent.supervision as SupervisionState;
  const now = parent.system.clock.now();
  const period = options.periodMs ?? DEFAULT_PERIOD_MS;
  const max = options.maxRestarts ?? DEFAULT_MAX_RESTARTS;
  const times = sup.restartTimes.filter((t) => now - t < period);
  times.push(now);
  sup.restartTimes = times;
  return times.length <= max;
}

function nextBackoff(child: ActorCell, options: SupervisorOptions): number {
  const now = child.system.clock.now();
  const period = options.periodMs ?? DEFAULT_PERIOD_MS;
  const b = child.backoff;
  // Consecutive restarts within one intensity period back off further; a quiet period resets.
  const attempt = b !== undefined && now - b[1] < period ? b[0] + 1 : 0;
  child.backoff = [attempt, now];
  return backoffDelay(options.backoff as BackoffOptions, attempt, child.system.random);
}

/** Intensity exceeded: stop every child (reverse start order), then fail the supervisor itself. */
async function escalate(parent: ActorCell, options: SupervisorOptions, cause: unknown): Promise<void> {
  const system = parent.system;
  const error = new RestartIntensityError(
    parent.path,
    options.maxRestarts ?? DEFAULT_MAX_RESTARTS,
    options.periodMs ?? DEFAULT_PERIOD_MS,
    cause,
  );
  if (system.inspect.active) {
    system.inspect.emit({ type: "escalated", path: parent.path, error, at: system.clock.now() });
  }
  await parent.stopChildren();
  (parent.supervision as SupervisionState).restartTimes = [];
  parent.fail(error);
}
