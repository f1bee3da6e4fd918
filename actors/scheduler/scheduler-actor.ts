/**
 * SchedulerActor: one supervised actor per schedule. It keeps the schedule's next run in the
 * `schedules` table, sleeps on an actor timer until it is due, and runs the job outside its
 * mailbox so status questions are answered while a job runs. Overlap protection: a run that falls
 * due while the previous one is still going is recorded as `skipped`, never started twice.
 *
 * Downtime: on start the actor reads the persisted next run; when that instant has passed, the
 * schedule's `missed` policy decides: `run_once` runs the job once now (however many runs were
 * missed), `skip` records the miss and waits for the next slot.
 *
 * Store failures (a lost connection, PostgreSQL refusing connections) do not crash the actor: a
 * restart would lose what only its memory holds (a finished run's counts) and, on start, run a
 * missed job a second time. Each read or write is retried a few times within the handler; a write
 * that still fails is logged and retried on a timer, the state kept in memory; a load that still
 * fails is logged and retried on a timer.
 *
 * @example
 * const ref = system.spawn(schedulerActor({ definition, store, now: () => new Date(), log }), {
 *   parent: schedulers, name: definition.name, restart: "permanent",
 * });
 * const status = await ref.ask<ScheduleStatus>({ type: "status" });
 * const started = await ref.ask<RunNowReply>({ type: "run_now", wait: true }, { timeoutMs: 600_000 });
 */
import type { Behavior, Sender } from "../../runtime/actor/index.ts";
import type { Logger } from "../../runtime/log.ts";
import { metrics } from "../../runtime/metrics.ts";
import type { ScheduleOutcome, ScheduleRow, ScheduleStore } from "./schedule-store.ts";
import { describeTiming, nextRunAfter, type Timing } from "./timing.ts";

export type Trigger = "schedule" | "missed" | "manual";

/** What a job reports; `items` feeds the schedule's running total (receipts deleted, files removed). */
export interface JobResult {
  items?: number;
  summary?: string;
}

export interface JobRun {
  signal: AbortSignal;
  trigger: Trigger;
  /** The slot this run is for (the start instant for manual runs). */
  scheduledFor: Date;
}

export interface ScheduleDefinition {
  name: string;
  description: string;
  timing: Timing;
  /** What to do on start when a run fell due while the server was down. */
  missed: "run_once" | "skip";
  job(run: JobRun): Promise<JobResult>;
}

export interface ScheduleStatus {
  name: string;
  description: string;
  schedule: string;
  missed_policy: "run_once" | "skip";
  running: boolean;
  running_since: string | null;
  next_run_at: string | null;
  last_run: {
    started_at: string | null;
    finished_at: string | null;
    outcome: ScheduleOutcome | null;
    error: string | null;
    duration_ms: number | null;
  } | null;
  stats: { runs: number; failures: number; items: number };
}

export interface RunNowReply {
  started: boolean;
  /** Why not, when not started. */
  reason?: string;
  /** With `wait: true`: how the run ended. */
  outcome?: ScheduleOutcome;
  error?: string | null;
  result?: JobResult;
}

export type SchedulerMsg =
  | { type: "load" }
  | { type: "save" }
  | { type: "tick" }
  | { type: "status" }
  | { type: "run_now"; wait?: boolean }
  | { type: "finished"; token: number; result?: JobResult; error?: string };

interface Running {
  token: number;
  trigger: Trigger;
  startedAt: Date;
  controller: AbortController;
  waiters: Sender[];
}

interface State {
  row: ScheduleRow | undefined;
  running: Running | undefined;
  nextToken: number;
}

export interface SchedulerOptions {
  definition: ScheduleDefinition;
  store: ScheduleStore;
  log: Logger;
  /** Wall-clock time (schedules are calendar times); tests derive it from a SimulatedClock. */
  now?: () => Date;
  /** Longest single timer; the actor wakes up at least this often and re-checks the wall clock. */
  maxSleepMs?: number;
  /** Called when a run starts and ends, e.g. to register it with the server's drain. */
  onRunStart?: (name: string, done: Promise<void>) => void;
}

const HOUR_MS = 3_600_000;
/** Store calls per handler before giving up until the retry timer: delays 100 ms, doubling (3.1 s in all). */
export const STORE_ATTEMPTS = 6;
const STORE_RETRY_FIRST_MS = 100;
/** After a handler's attempts failed: when the load or save is tried again. */
export const STORE_RETRY_LATER_MS = 30_000;

function emptyRow(name: string, next: Date): ScheduleRow {
  return {
    name,
    nextRunAt: next,
    lastStartedAt: null,
    lastFinishedAt: null,
    lastOutcome: null,
    lastError: null,
    lastDurationMs: null,
    runs: 0,
    failures: 0,
    items: 0,
  };
}

/** The status document for a row (and the run in progress, if any). */
export function scheduleStatus(definition: ScheduleDefinition, row: ScheduleRow | undefined, running?: Running) {
  const iso = (d: Date | null | undefined) => (d ? d.toISOString() : null);
  const status: ScheduleStatus = {
    name: definition.name,
    description: definition.description,
    schedule: describeTiming(definition.timing),
    missed_policy: definition.missed,
    running: running !== undefined,
    running_since: iso(running?.startedAt),
    next_run_at: iso(row?.nextRunAt),
    last_run:
      row && (row.lastStartedAt || row.lastOutcome)
        ? {
            started_at: iso(row.lastStartedAt),
            finished_at: iso(row.lastFinishedAt),
            outcome: row.lastOutcome,
            error: row.lastError,
            duration_ms: row.lastDurationMs,
          }
        : null,
    stats: { runs: row?.runs ?? 0, failures: row?.failures ?? 0, items: row?.items ?? 0 },
  };
  return status;
}

/** The behaviour of one schedule's actor; see the module comment. */
export function schedulerActor(options: SchedulerOptions): Behavior<SchedulerMsg, State> {
  const { definition, store, log } = options;
  const now = options.now ?? (() => new Date());
  const maxSleepMs = options.maxSleepMs ?? HOUR_MS;
  const slog = log.child({ schedule: definition.name });

  return {
    kind: "scheduler",
    init: () => ({ row: undefined, running: undefined, nextToken: 1 }),
    preStart(state, ctx) {
      // Loading is async (the store); the mailbox serialises it before any tick or status.
      ctx.self.tell({ type: "load" });
      return state;
    },
    preRestart(state) {
      state.running?.controller.abort(new Error("scheduler restarted"));
    },
    postStop(state) {
      state.running?.controller.abort(new Error("scheduler stopped"));
    },
    async receive(state, msg, ctx) {
      const arm = () => {
        if (!state.row) return;
        const wait = Math.max(0, Math.min(state.row.nextRunAt.getTime() - now().getTime(), maxSleepMs));
        ctx.timers.startSingle("tick", { type: "tick" }, wait);
      };
      /** The store call, retried within the handler; false (logged, retried later) when it kept failing. */
      const attempt = async (what: "load" | "save", call: () => Promise<void>): Promise<boolean> => {
        for (let n = 1; ; n++) {
          try {
            await call();
            return true;
          } catch (err) {
            if (n >= STORE_ATTEMPTS) {
              slog.error(
                { err, attempts: n, retry_in_ms: STORE_RETRY_LATER_MS },
                `schedule ${what} failed; the schedule keeps its state in memory and tries again later`,
              );
              ctx.timers.startSingle(what, { type: what }, STORE_RETRY_LATER_MS);
              return false;
            }
            slog.warn({ err, attempt: n }, `schedule ${what} failed; retrying`);
            await Bun.sleep(STORE_RETRY_FIRST_MS * 2 ** (n - 1));
          }
        }
      };
      const save = async () => {
        const row = state.row;
        if (row) await attempt("save", () => store.save(row));
      };
      const start = (trigger: Trigger, scheduledFor: Date): Running => {
        const token = state.nextToken++;
        const controller = new AbortController();
        const running: Running = { token, trigger, startedAt: now(), controller, waiters: [] };
        state.running = running;
        slog.info({ trigger, scheduled_for: scheduledFor.toISOString() }, "scheduled run started");
        const self = ctx.self;
        const done = definition.job({ signal: controller.signal, trigger, scheduledFor }).then(
          (result) => self.tell({ type: "finished", token, result }),
          (err: unknown) => self.tell({ type: "finished", token, error: (err as Error)?.message ?? String(err) }),
        );
        options.onRunStart?.(definition.name, done);
        return running;
      };
      const record = (outcome: ScheduleOutcome, error: string | null) => {
        if (!state.row) return;
        state.row.lastOutcome = outcome;
        state.row.lastError = error;
        metrics.schedulerRuns.inc({ schedule: definition.name, outcome });
      };

      switch (msg.type) {
        case "load": {
          let row: ScheduleRow | undefined;
          const loaded = await attempt("load", async () => {
            row = await store.load(definition.name);
          });
          if (!loaded) return state;
          const at = now();
          if (!row) {
            state.row = emptyRow(definition.name, nextRunAfter(definition.timing, at));
          } else {
            state.row = row;
            if (row.nextRunAt.getTime() <= at.getTime()) {
              const missedAt = row.nextRunAt;
              state.row.nextRunAt = nextRunAfter(definition.timing, at);
              if (definition.missed === "run_once") {
                slog.warn(
                  { missed: missedAt.toISOString() },
                  "a run was missed while the server was down; running it now",
                );
                state.row.lastStartedAt = at;
                start("missed", missedAt);
              } else {
                slog.warn(
                  { missed: missedAt.toISOString() },
                  "a run was missed while the server was down; skipping it",
                );
                record("missed", `the run due ${missedAt.toISOString()} was missed (server down); policy: skip`);
              }
            }
          }
          await save();
          arm();
          return state;
        }
        case "save":
          await save();
          return state;
        case "tick": {
          if (!state.row) return state;
          const at = now();
          if (at.getTime() < state.row.nextRunAt.getTime()) {
            arm();
            return state;
          }
          const due = state.row.nextRunAt;
          state.row.nextRunAt = nextRunAfter(definition.timing, at);
          if (state.running) {
            slog.warn({ due: due.toISOString() }, "previous run still going; this run is skipped");
            record("skipped", `the run due ${due.toISOString()} was skipped: the previous run was still going`);
          } else {
            state.row.lastStartedAt = at;
            start("schedule", due);
          }
          await save();
          arm();
          return state;
        }
        case "status":
          ctx.reply(scheduleStatus(definition, state.row, state.running));
          return state;
        case "run_now": {
          if (!state.row) {
            ctx.reply({ started: false, reason: "the schedule is still loading" } satisfies RunNowReply);
            return state;
          }
          if (state.running) {
            ctx.reply({ started: false, reason: "a run is already in progress" } satisfies RunNowReply);
            return state;
          }
          state.row.lastStartedAt = now();
          const running = start("manual", now());
          await save();
          if (msg.wait && ctx.sender) running.waiters.push(ctx.sender);
          else ctx.reply({ started: true } satisfies RunNowReply);
          return state;
        }
        case "finished": {
          const running = state.running;
          // A job of an earlier incarnation (before a restart) reports into this one: ignore it.
          if (!running || running.token !== msg.token || !state.row) return state;
          state.running = undefined;
          const finishedAt = now();
          const duration = finishedAt.getTime() - running.startedAt.getTime();
          const outcome: ScheduleOutcome = msg.error === undefined ? "succeeded" : "failed";
          state.row.lastFinishedAt = finishedAt;
          state.row.lastDurationMs = duration;
          state.row.runs += 1;
          if (outcome === "failed") state.row.failures += 1;
          state.row.items += msg.result?.items ?? 0;
          record(outcome, msg.error ?? null);
          metrics.schedulerRunDuration.observe({ schedule: definition.name }, duration / 1000);
          if (outcome === "failed") slog.error({ error: msg.error, duration_ms: duration }, "scheduled run failed");
          else slog.info({ duration_ms: duration, ...msg.result }, "scheduled run finished");
          await save();
          const reply: RunNowReply = { started: true, outcome, error: msg.error ?? null, result: msg.result ?? {} };
          for (const w of running.waiters) w.tell(reply, ctx.self);
          return state;
        }
      }
    },
  };
}
