/**
 * Where debates, their event logs, receipts and ratings are kept: the {@link DebateStore} contract,
 * and {@link openDebateStore}, which opens it on the server's store (same database, a Repo of its
 * own: ./debate-store-sql.ts, with the dialect's hand-written hot path). Every read a client can
 * reach is scoped by the organisation (the caller's principal's); a debate's user is its creator.
 *
 * @example
 * const debates = await openDebateStore(ctx.store, ctx.config);
 * await debates.create({ id: "d-1", owner: LOCAL_OWNER, question: "?", config, metadata: {}, createdAt: new Date() });
 */
import type { Config } from "../../runtime/config.ts";
import type { Principal } from "../../runtime/http/principal.ts";
import type { Store } from "../../runtime/store/index.ts";
import { type StoreHealth, StoreUnavailableError, storeFailureReason } from "../../runtime/store/store-health.ts";
import type { debates } from "./debate-schema-postgres.ts";
import { debateTables, type EventLogSql, SqlDebateStore } from "./debate-store-sql.ts";
import type { Rating } from "./elo.ts";
import type { OutboxEvent } from "./event-outbox.ts";
import type { Baseline, ConsensusOutcome, DebateConfig, DebateStatus, DebateSummaryData } from "./types.ts";

/** Who a debate belongs to: its organisation, the workspace inside it, and the user who made it. */
export interface Owner {
  userId: string;
  orgId: string;
  workspaceId: string;
}

/**
 * The owner of every debate made before accounts existed (and of the server's own, in tests and
 * benchmarks): the legacy organisation `local` and its workspace `local`, which the operator acts in
 * by default.
 */
export const LOCAL_OWNER: Owner = { userId: "local", orgId: "local", workspaceId: "local" };

/** The user id a debate records for a principal without one (the operator's token). */
export const OPERATOR_CREATOR = "operator";

/**
 * The owner of a debate a principal makes: its organisation and workspace, and its user (or the
 * key's creator; {@link OPERATOR_CREATOR} for the operator's token).
 *
 * @example await debates.create(body, creatorOf(principalOf(request)));
 */
export function creatorOf(principal: Pick<Principal, "userId" | "orgId" | "workspaceId">): Owner {
  return { userId: principal.userId ?? OPERATOR_CREATOR, orgId: principal.orgId, workspaceId: principal.workspaceId };
}

export interface NewDebate {
  id: string;
  owner: Owner;
  question: string;
  config: DebateConfig;
  metadata: Record<string, unknown>;
  createdAt: Date;
}

/**
 * A debate as stored: its `debates` row as the schema gives it, with the owner's ids as one
 * {@link Owner} and the JSON columns parsed.
 */
export type DebateRow = Omit<
  typeof debates.$inferSelect,
  "userId" | "orgId" | "workspaceId" | "config" | "metadata" | "status" | "consensus" | "baseline" | "summary"
> &
  Pick<NewDebate, "owner" | "config" | "metadata"> & {
    status: DebateStatus;
    consensus: ConsensusOutcome | null;
    baseline: Baseline | null;
    summary: DebateSummaryData | null;
  };

/** One row of the event log; `payload` is the envelope exactly as published. */
export interface StoredEvent {
  debateId: string;
  seq: number;
  type: string;
  round: number | null;
  agent: string | null;
  ts: number;
  hash: string;
  payload: string;
}

export interface DebateListFilter {
  /** One workspace of the organisation; absent: all of them. */
  workspaceId?: string;
  status?: DebateStatus;
  agent?: string;
  since?: Date;
  limit: number;
  /** Rows strictly after this (created_at desc, id desc) position. */
  after?: { createdAt: number; id: string };
}

export interface DebateFinish {
  status: Exclude<DebateStatus, "running">;
  stopReason: string | null;
  error: string | null;
  consensus: ConsensusOutcome | null;
  baseline: Baseline | null;
  summary: DebateSummaryData | null;
  finishedAt: Date;
  /** Apply these ELO results in the same transaction, once per debate. */
  elo?: { winners: string[]; losers: string[] };
  /** The signed receipt (JSON), stored in the same transaction; a receipt already stored is kept. */
  receipt?: { json: string; at: Date };
  /** Events appended in the same transaction (the debate's `receipt_generated`). */
  events?: StoredEvent[];
}

/** What a debate recorded of its spending, for usage reports and cost caps (./usage.ts). */
export interface UsageRow {
  id: string;
  userId: string;
  status: DebateStatus;
  createdAt: Date;
  /** Per-agent usage and cost, recorded when the debate finished (null while it runs, and for some that stopped). */
  summary: DebateSummaryData | null;
}

/** An organisation's own monthly cost cap. */
export interface CostCapRow {
  orgId: string;
  monthlyCostCapUsd: number;
  updatedBy: string;
  updatedAt: Date;
}

export interface DebateStore {
  create(debate: NewDebate): Promise<void>;
  /** The debate, if it is the organisation's (another organisation's answers null, as a missing one). */
  get(id: string, orgId: string): Promise<DebateRow | null>;
  /** Server-internal read that is not scoped (the actor resuming its own debate). */
  byId(id: string): Promise<DebateRow | null>;
  /** The organisation's debates, newest first. */
  list(orgId: string, filter: DebateListFilter): Promise<DebateRow[]>;
  /** Debates still running (any owner): the server resumes them at start. */
  unfinished(): Promise<DebateRow[]>;
  /**
   * Append events of any number of debates in one transaction (and move each debate's last_seq).
   * Events already stored with the same chain link are skipped (a retried batch); a seq stored as
   * another event fails the whole batch with EventSeqConflict.
   */
  appendEvents(events: StoredEvent[]): Promise<void>;
  /** Events with seq > sinceSeq, in order. */
  events(debateId: string, sinceSeq: number, limit?: number): Promise<StoredEvent[]>;
  /**
   * Record the outcome, with its receipt, ratings and last events, in one transaction; returns
   * false (and writes nothing) when the debate had already finished.
   */
  finish(id: string, outcome: DebateFinish): Promise<boolean>;
  /** The debate's signed receipt, if the debate is the organisation's. */
  receipt(debateId: string, orgId: string): Promise<string | null>;
  /** The organisation's leaderboard (ratings from its debates), best first. */
  rankings(orgId: string): Promise<(Rating & { name: string })[]>;
  /** Delete the decision receipts created before `cutoff` (the receipt retention schedule); returns how many. */
  deleteReceiptsBefore(cutoff: Date): Promise<number>;
  /**
   * Give the debates and ratings made before organisations existed (owner `local`) to the
   * organisation of `scope`, the debates in its workspace; safe on every start (a second run finds
   * none). Returns how many debates moved.
   */
  adoptLegacy(scope: { orgId: string; workspaceId: string }): Promise<number>;
  /** The organisation's debates created in [from, to), oldest first, with what each recorded of its usage. */
  usage(orgId: string, from: Date, to: Date): Promise<UsageRow[]>;
  /** The organisation's own monthly cost cap, or null (then the configured default applies). */
  costCap(orgId: string): Promise<CostCapRow | null>;
  /** Set the organisation's own monthly cost cap; null removes it. */
  setCostCap(orgId: string, capUsd: number | null, by: string, at: Date): Promise<void>;
  /** Up to `limit` of the oldest rows of the event outbox (./event-outbox.ts), with their debates' organisations. */
  outboxTake(limit: number): Promise<OutboxEvent[]>;
  /** Removes these rows from the event outbox. */
  outboxRemove(rows: readonly Pick<OutboxEvent, "debateId" | "seq">[]): Promise<void>;
  /**
   * A cheap real write through the paths debates write by (the debates and event-log tables),
   * changing nothing a reader sees: StoreHealth's probe while the store cannot write.
   */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Open the debate store beside the server's store: same database, a Repo of its own (its own
 * SQLite connection, or a PostgreSQL pool of half the server's pool size, at least two, whose
 * statements wait at most {@link PG_LOCK_TIMEOUT_MS} for a lock).
 *
 * @example const debates = await openDebateStore(ctx.store, ctx.config);
 */
export async function openDebateStore(store: Pick<Store, "openRepo">, config: Config): Promise<DebateStore> {
  const repo = await store.openRepo(debateTables, {
    name: "debates",
    maxConnections: Math.max(2, Math.ceil(config.dbPoolSize / 2)),
    lockTimeoutMs: PG_LOCK_TIMEOUT_MS,
  });
  const { driver } = repo;
  // Each dialect's hot path is loaded only when chosen, as the store's drivers are.
  const log: EventLogSql =
    driver.dialect === "postgres"
      ? new (await import("./event-log-postgres.ts")).PostgresEventLog(driver.pool)
      : new (await import("./event-log-sqlite.ts")).SqliteEventLog(driver.client);
  return new SqlDebateStore(repo, log);
}

/** Encode a list position as an opaque cursor. @example encodeCursor({ createdAt: 1, id: "d-1" }) */
export function encodeCursor(at: { createdAt: number; id: string }): string {
  return Buffer.from(`${at.createdAt}:${at.id}`).toString("base64url");
}

/** Decode a cursor; null when it is not one of ours. @example decodeCursor(encodeCursor(p)) */
export function decodeCursor(cursor: string): { createdAt: number; id: string } | null {
  const text = Buffer.from(cursor, "base64url").toString();
  const m = /^(\d+):(d-[0-9a-z-]+)$/.exec(text);
  return m ? { createdAt: Number(m[1]), id: m[2] as string } : null;
}

/**
 * How long a PostgreSQL statement of the debate store waits for a lock (lock_timeout): a table
 * locked by another session (a migration, a manual LOCK TABLE) then fails the write with 55P03,
 * reported as `locked`, instead of holding it until the pool's deadline replaces the pool.
 */
export const PG_LOCK_TIMEOUT_MS = 3000;

/** The store part each debate-store call writes or reads (health's `part`, the metrics' `store`). */
const PART_OF: Record<string, string> = { appendEvents: "event_log", events: "event_log" };

/**
 * The debate store, reporting into `health`: a call that fails because the store cannot write (or
 * read: a corrupt page) marks its part failing and is rethrown as {@link StoreUnavailableError}
 * (503 store_unavailable through the error mapper); a write that goes through marks its part
 * writable again. Other errors (a conflict, a constraint) pass through unchanged.
 *
 * @example const debates = reportingHealth(await openDebateStore(ctx.store, config), health);
 */
export function reportingHealth(store: DebateStore, health: StoreHealth): DebateStore {
  const writes = new Set(["create", "appendEvents", "finish", "probeWrite", "setCostCap", "outboxRemove"]);
  // The wrappers are made once, here: the store is on every request's and every batch's path.
  const reporting = Object.create(store) as Record<string, unknown>;
  for (const key of methodNames(store)) {
    if (key === "close") continue;
    const method = (store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[key] as (
      ...a: unknown[]
    ) => Promise<unknown>;
    const part = PART_OF[key] ?? "debates";
    const write = writes.has(key);
    reporting[key] = async (...args: unknown[]) => {
      try {
        const result = await method.apply(store, args);
        if (write) health.succeeded(part);
        return result;
      } catch (err) {
        const reason = storeFailureReason(err);
        if (reason === null || err instanceof StoreUnavailableError) throw err;
        health.failed(part, err);
        throw new StoreUnavailableError(part, reason, err);
      }
    };
  }
  return reporting as unknown as DebateStore;
}

/** The methods of an object, its classes' included. @example methodNames(store) // ["get", "list", ...] */
function methodNames(object: object): string[] {
  const names = new Set<string>();
  for (let o: object | null = object; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const name of Object.getOwnPropertyNames(o)) {
      if (name !== "constructor" && typeof (object as Record<string, unknown>)[name] === "function") names.add(name);
    }
  }
  return [...names];
}
