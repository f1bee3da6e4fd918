/**
 * The ops journal: where every playbook run, step and journal line is recorded before the run
 * moves on. {@link OpsJournal} is the repository interface; ./journal-sql.ts stores it in SQLite
 * or PostgreSQL (the tables in ./journal-schema-{sqlite,postgres}.ts), and
 * {@link MemoryJournal} keeps dry runs in memory so a dry run writes nothing to the data dir.
 *
 * @example
 * const journal = new MemoryJournal();
 * await journal.createRun(run);
 * await journal.record(run.id, { seq: 1, at: Date.now(), stepId: "a", kind: "step_started", data: {} });
 */

export type RunStatus = "running" | "waiting_approval" | "paused" | "succeeded" | "failed" | "cancelled";
export const FINISHED: ReadonlySet<RunStatus> = new Set(["succeeded", "failed", "cancelled"]);

export type StepStatus = "pending" | "running" | "succeeded" | "failed" | "skipped" | "compensated" | "planned";

export interface Executor {
  pid: number;
  host: string;
  nodeId?: string;
}

export interface RunRecord {
  id: string;
  playbook: string;
  file: string;
  source: string;
  /** Secrets replaced by "***". */
  params: Record<string, unknown>;
  status: RunStatus;
  dryRun: boolean;
  startedBy: string;
  executor: Executor;
  createdAt: number;
  heartbeatAt: number;
  finishedAt: number | null;
  currentStep: string | null;
  error: string | null;
  cancelRequested: boolean;
  /** An operator's answer to a paused run: "retry" or "skip" the step that was in flight. */
  decision: "retry" | "skip" | null;
}

export interface StepRecord {
  runId: string;
  stepId: string;
  index: number;
  action: string;
  status: StepStatus;
  attempts: number;
  /** Whether re-running this step after a crash is safe (decided from its input when it started). */
  idempotent: boolean;
  startedAt: number | null;
  finishedAt: number | null;
  /** Secrets replaced by "***". */
  outputs: Record<string, unknown> | null;
  error: string | null;
}

export interface JournalEntry {
  seq: number;
  at: number;
  stepId: string | null;
  kind: string;
  data: Record<string, unknown>;
}

/** One line of progress: a journal entry of a run (what `ops run --json` prints and the `ops:<run>` topic streams). */
export type RunEvent = JournalEntry & { runId: string };

export interface ApprovalRow {
  approver: string;
  roles: string[];
  at: number;
}

export type RunPatch = Partial<
  Pick<
    RunRecord,
    "status" | "heartbeatAt" | "finishedAt" | "currentStep" | "error" | "cancelRequested" | "decision" | "executor"
  >
>;

export interface OpsJournal {
  createRun(run: RunRecord): Promise<void>;
  /**
   * Append one journal line and, in the same transaction, store the step's row and patch the run.
   * Resolves once durable: the interpreter awaits it before moving on.
   */
  record(runId: string, entry: JournalEntry, step?: StepRecord, run?: RunPatch): Promise<void>;
  updateRun(runId: string, patch: RunPatch): Promise<void>;
  getRun(runId: string): Promise<RunRecord | undefined>;
  /** Newest first. */
  listRuns(options?: { limit?: number; status?: RunStatus }): Promise<RunRecord[]>;
  steps(runId: string): Promise<StepRecord[]>;
  entries(runId: string, afterSeq?: number): Promise<JournalEntry[]>;
  /** Record one approval; false when this approver already approved this step. */
  addApproval(runId: string, stepId: string, approval: ApprovalRow): Promise<boolean>;
  approvals(runId: string, stepId: string): Promise<ApprovalRow[]>;
  close(): Promise<void>;
}

/** A run id: sortable by time, short enough to type. @example newRunId() // "r-20261128-7f3a9c" */
export function newRunId(now = new Date()): string {
  const day = now.toISOString().slice(0, 10).replaceAll("-", "");
  return `r-${day}-${crypto.randomUUID().replaceAll("-", "").slice(0, 8)}`;
}

/** The journal of dry runs (and of tests): everything in memory, nothing on disk. */
export class MemoryJournal implements OpsJournal {
  private readonly runs = new Map<string, RunRecord>();
  private readonly stepRows = new Map<string, Map<string, StepRecord>>();
  private readonly lines = new Map<string, JournalEntry[]>();
  private readonly approvalRows = new Map<string, ApprovalRow[]>();

  async createRun(run: RunRecord): Promise<void> {
    this.runs.set(run.id, structuredClone(run));
    this.stepRows.set(run.id, new Map());
    this.lines.set(run.id, []);
  }

  async record(runId: string, entry: JournalEntry, step?: StepRecord, run?: RunPatch): Promise<void> {
    this.lines.get(runId)?.push(structuredClone(entry));
    if (step) this.stepRows.get(runId)?.set(step.stepId, structuredClone(step));
    if (run) await this.updateRun(runId, run);
  }

  async updateRun(runId: string, patch: RunPatch): Promise<void> {
    const run = this.runs.get(runId);
    if (run) Object.assign(run, structuredClone(patch));
  }

  async getRun(runId: string): Promise<RunRecord | undefined> {
    const run = this.runs.get(runId);
    return run && structuredClone(run);
  }

  async listRuns(options: { limit?: number; status?: RunStatus } = {}): Promise<RunRecord[]> {
    return [...this.runs.values()]
      .filter((r) => options.status === undefined || r.status === options.status)
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, options.limit ?? 50)
      .map((r) => structuredClone(r));
  }

  async steps(runId: string): Promise<StepRecord[]> {
    return [...(this.stepRows.get(runId)?.values() ?? [])]
      .sort((a, b) => a.index - b.index)
      .map((s) => structuredClone(s));
  }

  async entries(runId: string, afterSeq = 0): Promise<JournalEntry[]> {
    return (this.lines.get(runId) ?? []).filter((e) => e.seq > afterSeq).map((e) => structuredClone(e));
  }

  async addApproval(runId: string, stepId: string, approval: ApprovalRow): Promise<boolean> {
    const key = `${runId}\u0000${stepId}`;
    const list = this.approvalRows.get(key) ?? [];
    if (list.some((a) => a.approver === approval.approver)) return false;
    list.push(approval);
    this.approvalRows.set(key, list);
    return true;
  }

  async approvals(runId: string, stepId: string): Promise<ApprovalRow[]> {
    return [...(this.approvalRows.get(`${runId}\u0000${stepId}`) ?? [])];
  }

  async close(): Promise<void> {}
}
