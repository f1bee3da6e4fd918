/**
 * What one execution of a run shares between its phases (resume plan, step attempts,
 * compensation, approvals): the template scope, the journaled step rows, the redactor, the cancel
 * switch, and {@link RunSession.record}, the one way a phase writes the journal and tells
 * listeners. Every phase is a function of the session; ./execute-run.ts drives them.
 *
 * @example
 * const session = new RunSession(deps);
 * await session.record(null, "run_started", { playbook: deps.playbook.name });
 */

import { type Clock, realClock } from "../../runtime/actor/clock.ts";
import type { Config } from "../../runtime/config.ts";
import type { Logger } from "../../runtime/log.ts";
import type { EncryptedStoresOpener } from "../../runtime/security/encrypted-store.ts";
import { fixedKeySource, type KeySource } from "../../runtime/security/key-source.ts";
import type { ActionContext, ApprovalRecord, ApprovalRule, CredentialsOpener } from "../action.ts";
import type { JournalEntry, OpsJournal, RunEvent, RunPatch, RunRecord, RunStatus, StepRecord } from "../journal.ts";
import type { CompiledStep, Playbook } from "../playbook.ts";
import { Redactor } from "../redact.ts";
import { parseTemplate, renderTemplate, type TemplateScope } from "../template.ts";

export interface RunDeps {
  playbook: Playbook;
  /** Typed param values, secrets included (never journaled as such). */
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  journal: OpsJournal;
  run: RunRecord;
  /** "start": a new run (createRun first); "resume": continue from the journal. */
  mode: "start" | "resume";
  config: Config;
  /** Where the encryption keys actions use come from (ActionContext.keySource); default: `config.encryptionKeys`, fixed. */
  keys?: KeySource;
  dataDir: string;
  log: Logger;
  signal: AbortSignal;
  emit: (event: RunEvent) => void;
  server?: { apiBaseUrl: string };
  /** The stores with encrypted fields, for the actions that work on them (ActionContext.encryptedStores). */
  encryptedStores?: EncryptedStoresOpener;
  /** Revokes credentials issued in a window (ActionContext.credentials). */
  credentials?: CredentialsOpener;
  /** How often approval gates and cancel requests are polled in the store; default 200 ms. */
  pollMs?: number;
  now?: () => number;
  random?: () => number;
  /** The clock of step timeouts, retry delays and approval polls (the actor system's); default real time. */
  clock?: Clock;
}

export interface RunOutcome {
  status: RunStatus;
  error: string | null;
}

/** Why the run stops after the step loop: a failed step that aborts, or a goto loop. */
export interface Aborting {
  reason: string;
  status: RunStatus;
}

export class RunCancelled extends Error {
  override name = "RunCancelled";
  constructor() {
    super("the run was cancelled");
  }
}

/**
 * Wait `ms` on `clock` or until the signal aborts (then reject with its reason).
 *
 * @example await wait(200, signal, session.clock);
 */
export function wait(ms: number, signal: AbortSignal, clock: Clock = realClock): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = () => {
      clock.clearTimeout(timer);
      signal.removeEventListener("abort", done);
      if (signal.aborted) reject(signal.reason);
      else resolve();
    };
    const timer = clock.setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** @example message(new Error("boom")) // "boom" */
export function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class RunSession {
  readonly now: () => number;
  readonly random: () => number;
  readonly pollMs: number;
  readonly clock: Clock;
  readonly dryRun: boolean;
  /** Where the actions' keys come from (deps.keys, or the configured ones, fixed). */
  readonly keySource: KeySource;
  readonly redactor = new Redactor();
  readonly secretParams: Set<string>;
  readonly stepsById: Map<string, CompiledStep>;
  readonly scope: TemplateScope;
  /** The latest journaled row of each step. */
  readonly rows = new Map<string, StepRecord>();
  /** Succeeded steps with a `compensate`, in the order they succeeded. */
  readonly compensable: string[] = [];
  readonly compensated = new Set<string>();
  /**
   * A cancel arrives as the actor's signal (server) or as a flag in the store (`ops cancel` from
   * another process); either aborts this controller, which every step's signal follows.
   */
  readonly cancel = new AbortController();
  /** The next step to execute; null when the run is past its last step. */
  cursor: string | null;
  aborting: Aborting | undefined;
  /** Journal sequence of the last entry written. */
  seq = 0;
  /** The gates whose "approval_waiting" was journaled in this execution (once each: a run may pass several). */
  readonly waitingShown = new Set<string>();

  constructor(readonly deps: RunDeps) {
    const { playbook } = deps;
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.pollMs = deps.pollMs ?? 200;
    this.clock = deps.clock ?? realClock;
    this.keySource = deps.keys ?? fixedKeySource(deps.config.encryptionKeys);
    this.dryRun = deps.run.dryRun;
    this.secretParams = new Set(
      Object.entries(playbook.params)
        .filter(([, s]) => s.type === "secret")
        .map(([n]) => n),
    );
    for (const name of this.secretParams) this.redactor.addSecret(deps.params[name]);
    this.stepsById = new Map(playbook.steps.map((s) => [s.id, s]));
    this.scope = { params: deps.params, env: deps.env, steps: {} };
    this.cursor = playbook.steps[0]?.id ?? null;
  }

  get run(): RunRecord {
    return this.deps.run;
  }

  get journal(): OpsJournal {
    return this.deps.journal;
  }

  get playbook(): Playbook {
    return this.deps.playbook;
  }

  /**
   * Journal one entry (redacted), optionally with the step's new row and a patch of the run, then
   * tell listeners. Nothing is emitted that was not written first.
   */
  async record(
    stepId: string | null,
    kind: string,
    data: Record<string, unknown>,
    step?: StepRecord,
    patch?: RunPatch,
  ) {
    const entry: JournalEntry = { seq: ++this.seq, at: this.now(), stepId, kind, data: this.redactor.redact(data) };
    const row = step && {
      ...step,
      outputs: step.outputs && this.redactor.redact(step.outputs),
      error: step.error && this.redactor.redact(step.error),
    };
    await this.journal.record(this.run.id, entry, row, patch);
    if (row) this.rows.set(row.stepId, row);
    this.deps.emit({ ...entry, runId: this.run.id });
  }

  /** Pause the run for an operator, with the reason journaled and set on the run. */
  async pause(stepId: string | null, reason: string): Promise<RunOutcome> {
    await this.record(stepId, "run_paused", { reason });
    await this.journal.updateRun(this.run.id, { status: "paused", error: reason });
    return { status: "paused", error: reason };
  }

  /** Render every `${{ }}` in a step's `with` (or `when`); lenient in dry runs, where outputs are unknown. */
  render(value: unknown, lenient: boolean): unknown {
    if (typeof value === "string")
      return value.includes("${{") ? renderTemplate(parseTemplate(value), this.scope, lenient) : value;
    if (Array.isArray(value)) return value.map((v) => this.render(v, lenient));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.render(v, lenient)]));
    }
    return value;
  }

  /** The context an action runs with; `progress` entries are awaited before its step moves on. */
  actionContext(
    stepId: string,
    signal: AbortSignal,
    progressEntries: Promise<void>[],
    awaitApprovals: (rule: ApprovalRule) => Promise<ApprovalRecord[]>,
  ): ActionContext {
    const { deps, run, playbook, journal } = this;
    return {
      config: deps.config,
      encryptionKeys: () => this.keySource.current(),
      keySource: this.keySource,
      dataDir: deps.dataDir,
      log: deps.log.child({ run_id: run.id, step: stepId }),
      signal,
      runId: run.id,
      stepId,
      progress: (text, fraction) => {
        progressEntries.push(
          this.record(
            stepId,
            "step_progress",
            fraction === undefined ? { message: text } : { message: text, fraction },
          ),
        );
      },
      server: deps.server,
      ...(deps.encryptedStores === undefined ? {} : { encryptedStores: deps.encryptedStores }),
      ...(deps.credentials === undefined ? {} : { credentials: deps.credentials }),
      playbook: { name: playbook.name, shellAllowlist: playbook.shellAllowlist },
      async timeline() {
        return (await journal.entries(run.id)).map((e) => ({ ...e, at: new Date(e.at).toISOString() }));
      },
      awaitApprovals,
    };
  }

  /** The row of a step about to start; a step resumed after a crash keeps its attempts so far. */
  startingRow(step: CompiledStep): StepRecord {
    const previous = this.rows.get(step.id);
    return {
      runId: this.run.id,
      stepId: step.id,
      index: step.index,
      action: step.action.name,
      status: "running",
      attempts: previous?.status === "running" ? previous.attempts : 0,
      idempotent: false,
      startedAt: this.now(),
      finishedAt: null,
      outputs: null,
      error: null,
    };
  }
}
