/**
 * The debates supervisor: an actor named "debates" under the root, whose children are the
 * DebateActors (spawned `transient`: restarted after a crash, not after they finish). This class
 * is its front door: it turns a request into a {@link DebateConfig}, records the debate, spawns its
 * actor, resumes unfinished debates at start, cancels, and drains at shutdown.
 *
 * @example
 * const debates = new DebateSupervisor({ system, store, writer, agents, key, log, defaults });
 * debates.start();
 * await debates.resumeUnfinished();
 * const id = await debates.create({ question: "Tabs or spaces?" }, LOCAL_OWNER);
 */
import type { ActorRef, ActorSystem } from "../../runtime/actor/index.ts";
import { supervisor } from "../../runtime/actor/index.ts";
import type { CreateDebateBody } from "../../schemas/debates.ts";
import { type AgentDirectory, type AgentSpec, missingKeyRule } from "../agent/turn.ts";
import {
  cancelDebate,
  type DebateDeps,
  type DebateMsg,
  type DebateRunOutcome,
  debateActor,
  type NewlyCreated,
  stopDebate,
} from "./debate-actor.ts";
import type { Owner } from "./debate-store.ts";
import type { DebateConfig } from "./types.ts";

/** A request the server cannot run as asked; `field` names the offending input (422). */
export class DebateRequestError extends Error {
  override name = "DebateRequestError";
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super(`${field}: ${rule}`);
  }
}

export interface DebateDefaults {
  rounds: number;
  turnMs: number;
  roundMs: number;
  debateMs: number;
}

export interface DebateSupervisorOptions extends Omit<DebateDeps, "agents"> {
  system: ActorSystem;
  agents: AgentDirectory;
  defaults: DebateDefaults;
  onStarted?: (id: string) => void;
}

interface Running {
  ref: ActorRef<DebateMsg>;
  done: Promise<void>;
  resolve: () => void;
}

export class DebateSupervisor {
  private parent: ActorRef<never> | undefined;
  private readonly running = new Map<string, Running>();
  private accepting = true;

  constructor(private readonly options: DebateSupervisorOptions) {}

  /** Spawn the "debates" supervisor actor. @example debates.start() */
  start(): void {
    this.parent ??= this.options.system.spawn(supervisor(), {
      name: "debates",
      restart: "permanent",
      // Debates are independent; a burst of crashing debates must not take the server down.
      supervisor: { strategy: "one_for_one", maxRestarts: 100, periodMs: 60_000, backoff: { minMs: 50, maxMs: 5000 } },
    });
  }

  /** Debates running in this process. */
  get active(): number {
    return this.running.size;
  }

  /** Whether a debate's actor runs here. */
  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  /**
   * Resolves when the debate's actor here has ended (at once when none runs), so a caller waits
   * for the outcome without polling.
   *
   * @example await debates.whenStopped(id); // receipt and ELO are stored
   */
  whenStopped(id: string): Promise<void> {
    return this.running.get(id)?.done ?? Promise.resolve();
  }

  /**
   * Turn a validated request into the debate's configuration, resolving agent names (aliases to
   * canonical names). A seat runs when the server has a key for its provider or the organisation
   * has its own (`ownKeys`: the providers it has one for). Throws {@link DebateRequestError}
   * naming the field.
   *
   * @example debates.configFor({ question: "?", agents: ["demo:alice", "demo:bob"], rounds: 2 })
   */
  configFor(body: CreateDebateBody, ownKeys: ReadonlySet<string> = new Set()): DebateConfig {
    const { agents, defaults } = this.options;
    const runnable = (spec: AgentSpec) => spec.configured || ownKeys.has(spec.provider);
    const names: string[] = [];
    if (body.agents) {
      body.agents.forEach((name, i) => {
        let spec: AgentSpec;
        try {
          spec = agents.resolve(name);
        } catch (err) {
          throw new DebateRequestError(`body.agents.${i}`, `unknown agent: ${(err as Error).message}`);
        }
        // Its every turn would fail at once: say so now rather than start a debate that cannot run.
        if (!runnable(spec)) {
          throw new DebateRequestError(
            `body.agents.${i}`,
            `agent "${name}" is not configured: ${missingKeyRule(spec.provider)}`,
          );
        }
        if (names.includes(spec.name)) {
          throw new DebateRequestError(
            `body.agents.${i}`,
            `each agent may take only one seat: "${name}" is ${spec.name}, already at body.agents.${names.indexOf(spec.name)}`,
          );
        }
        names.push(spec.name);
      });
    } else {
      for (const spec of agents.defaultAgents()) {
        if (!runnable(spec)) {
          throw new DebateRequestError(
            "body.agents",
            `the default agent "${spec.name}" is not configured: ${missingKeyRule(spec.provider)}; or name the agents`,
          );
        }
        names.push(spec.name);
      }
    }
    if (names.length < 2 || names.length > 10) {
      throw new DebateRequestError("body.agents", `a debate needs 2 to 10 agents (got ${names.length})`);
    }
    const role = (field: "judge" | "devils_advocate" | "synthesiser"): string | null => {
      const raw = body.roles?.[field];
      if (raw === undefined) return null;
      let name: string;
      try {
        name = agents.resolve(raw).name;
      } catch (err) {
        throw new DebateRequestError(`body.roles.${field}`, `unknown agent: ${(err as Error).message}`);
      }
      if (!names.includes(name))
        throw new DebateRequestError(`body.roles.${field}`, `"${raw}" is not one of the debate's agents`);
      return name;
    };
    const seconds = (s: number | undefined, fallbackMs: number) =>
      s === undefined ? fallbackMs : Math.round(s * 1000);
    return {
      agents: names,
      rounds: body.rounds ?? defaults.rounds,
      consensus: body.consensus ?? "majority",
      topology: body.topology ?? "all_to_all",
      convergenceThreshold: body.convergence_threshold ?? 1,
      budget: { maxTokens: body.budget?.max_tokens ?? null, maxCostUsd: body.budget?.max_cost_usd ?? null },
      timeouts: {
        turnMs: seconds(body.timeouts?.turn_s, defaults.turnMs),
        roundMs: seconds(body.timeouts?.round_s, defaults.roundMs),
        debateMs: seconds(body.timeouts?.debate_s, defaults.debateMs),
      },
      roles: { judge: role("judge"), devilsAdvocate: role("devils_advocate"), synthesiser: role("synthesiser") },
    };
  }

  /**
   * Record a new debate and start its actor; returns the debate id.
   *
   * @example const id = await debates.create({ question: "?" }, LOCAL_OWNER);
   */
  async create(body: CreateDebateBody, owner: Owner): Promise<string> {
    const config = this.configFor(body, await this.options.agents.providersWithOwnKeys(owner.orgId));
    // Time-ordered (UUIDv7): the log's (debate_id, seq) index and the debates' id index then grow
    // at their right edge, so a commit rewrites a few shared pages instead of one random leaf page
    // per running debate (a third fewer WAL page writes per debate). Still 74 random bits.
    const id = `d-${Bun.randomUUIDv7()}`;
    await this.options.store.create({
      id,
      owner,
      question: body.question.trim(),
      config,
      metadata: body.metadata ?? {},
      createdAt: new Date(),
    });
    this.spawn(id, { question: body.question.trim(), config, orgId: owner.orgId });
    this.options.onStarted?.(id);
    return id;
  }

  /** Start the actors of every debate the log says is still running (after a crash or a drain). */
  async resumeUnfinished(): Promise<number> {
    const rows = await this.options.store.unfinished();
    for (const row of rows) if (!this.running.has(row.id)) this.spawn(row.id);
    if (rows.length > 0) this.options.log.info({ debates: rows.length }, "resuming unfinished debates");
    return rows.length;
  }

  /**
   * Ask a running debate to stop; resolves when it has ended (or after `waitMs`).
   * Returns false when the debate is not running in this process.
   *
   * @example await debates.cancel("d-42", "user asked")
   */
  async cancel(id: string, reason: string, waitMs = 10_000): Promise<boolean> {
    const entry = this.running.get(id);
    if (!entry) return false;
    entry.ref.tell(cancelDebate(reason));
    await Promise.race([entry.done, Bun.sleep(waitMs)]);
    return true;
  }

  /**
   * Graceful shutdown: take no new debates, wait for the running ones; when the drain's time is up,
   * interrupt them (they resume at the next start) and wait for their logs to flush.
   *
   * @example drain.register({ name: "debates", drain: (signal) => debates.drain(signal) });
   */
  async drain(signal: AbortSignal): Promise<void> {
    this.accepting = false;
    const all = () => Promise.all([...this.running.values()].map((r) => r.done)).then(() => undefined);
    const aborted = new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener("abort", () => resolve(), { once: true });
    });
    await Promise.race([all(), aborted]);
    if (this.running.size > 0) await this.interruptAll();
  }

  /** Interrupt every running debate (no debate_end: they resume later) and wait for them. */
  async interruptAll(): Promise<void> {
    this.accepting = false;
    const entries = [...this.running.values()];
    for (const r of entries) r.ref.tell(stopDebate());
    await Promise.race([Promise.all(entries.map((r) => r.done)), Bun.sleep(5000)]);
    // Bounded too: a store that cannot write holds the flush (see the debates feature's stop).
    await Promise.race([this.options.writer.flush().catch(() => undefined), Bun.sleep(5000)]);
  }

  /**
   * Stop running a debate here, without ending it, because another process writes its log (the
   * EventWriter found another event at a seq this process sealed). It stays running in the store.
   *
   * @example writer options: onConflict: (id) => debates.release(id, "another process writes its log")
   */
  release(id: string, reason: string): void {
    this.running.get(id)?.ref.tell(stopDebate(reason));
  }

  get acceptingNew(): boolean {
    return this.accepting;
  }

  private spawn(id: string, created?: NewlyCreated): void {
    if (!this.parent) throw new Error("DebateSupervisor.start() was not called");
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    const entry: Running = { ref: undefined as unknown as ActorRef<DebateMsg>, done, resolve };
    this.running.set(id, entry);
    const deps: DebateDeps = { ...this.options };
    const log = this.options.log.child({ debate_id: id });
    entry.ref = this.options.system.spawn(
      debateActor(
        deps,
        id,
        {
          onExit: (outcome) => this.exited(id, outcome),
          onCrashed: (err, crashes, final) =>
            log.error(
              { err, crashes },
              final
                ? "debate actor crashed again; the debate is recorded failed"
                : "debate actor crashed; its supervisor restarts it from the log",
            ),
          giveUp: async (err, crashes) => {
            try {
              const changed = await this.options.store.finish(id, {
                status: "failed",
                stopReason: "crashed",
                error: `the debate crashed ${crashes} times: ${(err as Error)?.message ?? String(err)}`,
                consensus: null,
                baseline: null,
                summary: null,
                finishedAt: new Date(),
              });
              if (changed) this.options.onFinished?.(id, "failed");
            } catch (e) {
              log.error({ err: e }, "could not record the debate failed; it resumes at the next start");
            } finally {
              this.exited(id, "failed");
            }
          },
        },
        created,
      ),
      { parent: this.parent, name: id, restart: "transient", shutdownTimeoutMs: 10_000 },
    );
  }

  private exited(id: string, _outcome: DebateRunOutcome): void {
    const entry = this.running.get(id);
    if (!entry) return;
    this.running.delete(id);
    entry.resolve();
  }
}
