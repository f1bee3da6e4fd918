/**
 * RunbookService: starts, resumes, approves, cancels and lists playbook runs. Each run is a
 * RunbookActor under the `runbooks` supervisor; real runs are journaled in the store
 * ({@link OpsJournal} on SQLite or PostgreSQL), dry runs in memory only. The server creates one
 * (./feature.ts) and so does `ops run` when no server holds the data dir.
 *
 * @example
 * const runbooks = new RunbookService({ system, journal, config, dataDir, log });
 * const { runId, done } = await runbooks.start({ playbook, params: { keep: "5" }, env, startedBy: "alice" });
 * runbooks.subscribe(runId, (event) => console.log(event.kind));
 * await done;
 */
import { hostname } from "node:os";
import type { CredentialsOpener } from "../../ops/action.ts";
import { type RunOutcome, thisExecutor } from "../../ops/interpreter/index.ts";
import type { RunEvent } from "../../ops/journal.ts";
import { FINISHED, MemoryJournal, newRunId, type OpsJournal, type RunRecord } from "../../ops/journal.ts";
import { resolveParams } from "../../ops/params.ts";
// The playbook compiler (yaml, every action and its dependencies) loads on first use, not at start.
import type { Playbook } from "../../ops/playbook.ts";
import { MASK } from "../../ops/redact.ts";
import type { ActorRef, ActorSystem } from "../../runtime/actor/index.ts";
import { supervisor } from "../../runtime/actor/index.ts";
import type { Config } from "../../runtime/config.ts";
import type { Logger } from "../../runtime/log.ts";
import type { EncryptedStoresOpener } from "../../runtime/security/encrypted-store.ts";
import type { KeySource } from "../../runtime/security/key-source.ts";
import { cancelRun, type RunbookMsg, runbookActor } from "./runbook-actor.ts";

export interface RunbookServiceOptions {
  system: ActorSystem;
  journal: OpsJournal;
  config: Config;
  /** Where the keys the runs' actions use come from (backups, restores, the key rotation); default: `config.encryptionKeys`. */
  keys?: KeySource;
  /** Revokes credentials issued in a window (the key rotation's emergency variant). */
  credentials?: CredentialsOpener;
  dataDir: string;
  log: Logger;
  nodeId?: string;
  server?: { apiBaseUrl: string };
  /** The stores with encrypted fields, for `keys.encrypt_existing` steps. */
  encryptedStores?: EncryptedStoresOpener;
  /** Every event of every run (the server publishes them on the WS topic `ops:<run id>`). */
  publish?: (event: RunEvent) => void;
  pollMs?: number;
}

export interface StartRequest {
  playbook: Playbook;
  /** Raw values (strings from the CLI, JSON from the API); typed and defaulted here. */
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  startedBy: string;
  dryRun?: boolean;
  /** Receives every event from the first (`run_started`) on. */
  onEvent?: (event: RunEvent) => void;
}

export interface ResumeRequest {
  env: Record<string, string | undefined>;
  /** Values for secret params (never journaled, so a resume must supply them again). */
  params?: Record<string, unknown>;
  decision?: "retry" | "skip";
  onEvent?: (event: RunEvent) => void;
}

/** A request the service refuses: bad params, unknown run, wrong state. `status` is the HTTP status to use. */
export class RunRequestError extends Error {
  override name = "RunRequestError";
  constructor(
    message: string,
    readonly status: 400 | 404 | 409 | 422 = 422,
  ) {
    super(message);
  }
}

export interface StartedRun {
  runId: string;
  done: Promise<RunOutcome>;
}

/** Whether the process that executes a run is gone (so it may be resumed here). */
export function executorGone(run: RunRecord, now = Date.now()): boolean {
  if (run.executor.host === hostname()) {
    if (run.executor.pid === process.pid) return false;
    try {
      process.kill(run.executor.pid, 0);
      return false;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code !== "EPERM";
    }
  }
  // Another host: trust the heartbeat (refreshed every 5 s by a live executor).
  return now - run.heartbeatAt > 30_000;
}

export class RunbookService {
  private readonly dryJournal = new MemoryJournal();
  private readonly listeners = new Map<string, Set<(event: RunEvent) => void>>();
  private readonly actors = new Map<string, ActorRef<RunbookMsg>>();
  private readonly dryRuns = new Set<string>();
  private readonly supervisorRef: ActorRef<never>;

  constructor(private readonly options: RunbookServiceOptions) {
    this.supervisorRef = options.system.spawn(supervisor(), {
      name: "runbooks",
      kind: "supervisor",
      // A crashing run restarts (and resumes) on its own; it must not take the other runs down.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000 },
    });
  }

  /** The journal that holds a run: memory for dry runs, the store otherwise. */
  journalOf(runId: string): OpsJournal {
    return this.dryRuns.has(runId) ? this.dryJournal : this.options.journal;
  }

  /** Validate params and start a run; resolves once the run is journaled and its actor spawned. */
  async start(request: StartRequest): Promise<StartedRun> {
    const { values, problems } = resolveParams(request.playbook.params, request.params);
    if (problems.length > 0) throw new RunRequestError(problems.join("; "));
    const missingEnv = request.playbook.steps
      .flatMap((s) => s.refs)
      .filter((r) => r.kind === "env" && request.env[r.name] === undefined)
      .map((r) => r.text);
    if (missingEnv.length > 0)
      throw new RunRequestError(`not set in the environment: ${[...new Set(missingEnv)].join(", ")}`);
    const now = Date.now();
    const run: RunRecord = {
      id: newRunId(new Date(now)),
      playbook: request.playbook.name,
      file: request.playbook.file,
      source: request.playbook.source,
      params: values,
      status: "running",
      dryRun: request.dryRun ?? false,
      startedBy: request.startedBy,
      executor: thisExecutor(this.options.nodeId),
      createdAt: now,
      heartbeatAt: now,
      finishedAt: null,
      currentStep: null,
      error: null,
      cancelRequested: false,
      decision: null,
    };
    if (run.dryRun) this.dryRuns.add(run.id);
    return this.spawn(run, request.playbook, values, request.env, "start", request.onEvent);
  }

  /** Continue a run whose executor is gone (crash) or that paused for a decision. */
  async resume(runId: string, request: ResumeRequest): Promise<StartedRun> {
    const journal = this.journalOf(runId);
    const run = await journal.getRun(runId);
    if (!run) throw new RunRequestError(`no run "${runId}"`, 404);
    if (FINISHED.has(run.status)) throw new RunRequestError(`run ${runId} already ${run.status}`, 409);
    if (this.actors.has(runId) || (run.status !== "paused" && !executorGone(run))) {
      throw new RunRequestError(
        `run ${runId} is still executing (pid ${run.executor.pid} on ${run.executor.host})`,
        409,
      );
    }
    const { loadPlaybook } = await import("../../ops/playbook.ts");
    const loaded = loadPlaybook(run.source, run.file);
    if (!loaded.playbook)
      throw new RunRequestError(`the journaled playbook no longer validates: ${loaded.diagnostics[0]?.message}`);
    const playbook = loaded.playbook;
    const params: Record<string, unknown> = { ...run.params };
    const missing: string[] = [];
    for (const [name, spec] of Object.entries(playbook.params)) {
      if (spec.type !== "secret" || params[name] !== MASK) continue;
      if (request.params?.[name] === undefined) missing.push(name);
      else params[name] = request.params[name];
    }
    if (missing.length > 0) {
      throw new RunRequestError(
        `secret params are not journaled; pass them again: ${missing.map((m) => `--param ${m}=...`).join(" ")}`,
      );
    }
    const executor = thisExecutor(this.options.nodeId);
    await journal.updateRun(runId, { executor, heartbeatAt: Date.now(), decision: request.decision ?? null });
    return this.spawn(
      { ...run, executor, decision: request.decision ?? null },
      playbook,
      params,
      request.env,
      "resume",
      request.onEvent,
    );
  }

  /** Runs whose executor died (a crashed server or CLI) and that can continue without a decision. */
  async resumeOrphans(env: Record<string, string | undefined>): Promise<string[]> {
    const resumed: string[] = [];
    for (const status of ["running", "waiting_approval"] as const) {
      for (const run of await this.options.journal.listRuns({ status, limit: 100 })) {
        if (!executorGone(run) || this.actors.has(run.id)) continue;
        try {
          await this.resume(run.id, { env });
          resumed.push(run.id);
        } catch (err) {
          this.options.log.warn({ run_id: run.id, err }, "could not resume an orphaned ops run");
        }
      }
    }
    return resumed;
  }

  private spawn(
    run: RunRecord,
    playbook: Playbook,
    params: Record<string, unknown>,
    env: Record<string, string | undefined>,
    mode: "start" | "resume",
    onEvent?: (event: RunEvent) => void,
  ): Promise<StartedRun> {
    if (onEvent) this.subscribe(run.id, onEvent);
    const { system, config, keys, dataDir, log, server, encryptedStores, credentials } = this.options;
    const journal = this.journalOf(run.id);
    let finish: (o: RunOutcome) => void = () => {};
    const done = new Promise<RunOutcome>((resolve) => {
      finish = resolve;
    });
    let started: () => void = () => {};
    let failedToStart: (err: unknown) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failedToStart = reject;
    });
    let first = true;
    const emit = (event: RunEvent) => {
      if (first) {
        first = false;
        started();
      }
      this.options.publish?.(event);
      for (const listener of this.listeners.get(run.id) ?? []) listener(event);
    };
    const ref = system.spawn(
      runbookActor({
        playbook,
        params,
        env,
        journal,
        run,
        mode,
        config,
        keys,
        credentials,
        dataDir,
        log,
        server,
        encryptedStores,
        emit,
        pollMs: this.options.pollMs,
        onDone: (outcome) => {
          this.actors.delete(run.id);
          started();
          finish(outcome);
        },
      }),
      { parent: this.supervisorRef, name: run.id, restart: "transient", shutdownTimeoutMs: 10_000 },
    );
    this.actors.set(run.id, ref);
    // createRun failing (a broken store) must reach the caller, not just the log.
    done.then(() => started());
    return Promise.race([
      ready,
      new Promise<void>((_, reject) => {
        const t = setTimeout(() => reject(new Error("the run did not start within 30 s")), 30_000);
        ready.finally(() => clearTimeout(t));
      }),
    ]).then(
      () => ({ runId: run.id, done }),
      (err) => {
        failedToStart(err);
        throw err;
      },
    );
  }

  /** Runs of the store plus this process's dry runs, newest first. */
  async listRuns(limit: number): Promise<RunRecord[]> {
    const all = [...(await this.options.journal.listRuns({ limit })), ...(await this.dryJournal.listRuns({ limit }))];
    return all.sort((a, b) => b.createdAt - a.createdAt).slice(0, limit);
  }

  /** Listen to one run's events; returns the unsubscribe function. */
  subscribe(runId: string, listener: (event: RunEvent) => void): () => void {
    let set = this.listeners.get(runId);
    if (!set) {
      set = new Set();
      this.listeners.set(runId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(runId);
    };
  }

  /** Record an approval for a gate; the waiting run notices within its poll interval. */
  async approve(runId: string, stepId: string, approver: string, roles: string[]): Promise<boolean> {
    const journal = this.journalOf(runId);
    const run = await journal.getRun(runId);
    if (!run) throw new RunRequestError(`no run "${runId}"`, 404);
    if (FINISHED.has(run.status)) throw new RunRequestError(`run ${runId} already ${run.status}`, 409);
    const { loadPlaybook } = await import("../../ops/playbook.ts");
    const loaded = loadPlaybook(run.source, run.file);
    const step = loaded.playbook?.steps.find((s) => s.id === stepId);
    if (!step) throw new RunRequestError(`run ${runId} has no step "${stepId}"`, 404);
    if (step.action.name !== "approve") throw new RunRequestError(`step "${stepId}" is not an approval gate`, 409);
    return journal.addApproval(runId, stepId, { approver, roles, at: Date.now() });
  }

  /** Cancel a run: its actor aborts here, or the flag in the store reaches whichever process executes it. */
  async cancel(runId: string): Promise<RunRecord["status"]> {
    const journal = this.journalOf(runId);
    const run = await journal.getRun(runId);
    if (!run) throw new RunRequestError(`no run "${runId}"`, 404);
    if (FINISHED.has(run.status)) throw new RunRequestError(`run ${runId} already ${run.status}`, 409);
    await journal.updateRun(runId, { cancelRequested: true });
    const ref = this.actors.get(runId);
    if (ref) {
      ref.tell(cancelRun());
      return "running";
    }
    if (run.status === "paused" || executorGone(run)) {
      // Nobody executes it: the run ends here (its completed steps are not compensated).
      const entries = await journal.entries(runId);
      const finished = {
        seq: (entries.at(-1)?.seq ?? 0) + 1,
        at: Date.now(),
        stepId: null,
        kind: "run_finished" as const,
        data: { status: "cancelled", error: "cancelled by an operator" },
      };
      await journal.record(runId, finished, undefined, {
        status: "cancelled",
        finishedAt: finished.at,
        error: "cancelled by an operator",
      });
      // Whoever follows the run (an events stream, the WS topic) hears the end as it would from its actor.
      const event: RunEvent = { ...finished, runId };
      this.options.publish?.(event);
      for (const listener of this.listeners.get(runId) ?? []) listener(event);
      return "cancelled";
    }
    return run.status;
  }

  /** Stop every run's actor (server shutdown); the runs stay resumable from the journal. */
  async stop(): Promise<void> {
    await this.options.system.stop(this.supervisorRef);
  }

  get running(): number {
    return this.actors.size;
  }
}
