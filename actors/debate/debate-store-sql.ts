/**
 * {@link DebateStore} on the server's database, one class for both dialects: every query is written
 * once on drizzle's query builder through a {@link Repo} (the style of runtime/store/repo.ts), except
 * the measured hot path, which the dialect's {@link EventLogSql} runs as hand-written SQL on the
 * same connection: the event log (chunks, SQLite's group commit, the replay read) and a debate's
 * opening and closing records, which commit with it (./event-log-sqlite.ts, ./event-log-postgres.ts).
 *
 * @example
 * const repo = await store.openRepo(debateTables, { name: "debates" });
 * const debates = new SqlDebateStore(repo, new SqliteEventLog(repo.driver.client));
 * const row = await debates.get("d-42", principal.orgId);
 */
import { and, desc, eq, gte, inArray, lt, max, notInArray, or, type SQL, sql } from "drizzle-orm";
import { dialectTables, type Prepared, type Repo, type RepoDb } from "../../runtime/store/repo.ts";
import * as postgres from "./debate-schema-postgres.ts";
import * as sqlite from "./debate-schema-sqlite.ts";
import type {
  CostCapRow,
  DebateFinish,
  DebateListFilter,
  DebateRow,
  DebateStore,
  NewDebate,
  StoredEvent,
  UsageRow,
} from "./debate-store.ts";
import type { Rating } from "./elo.ts";
import type { OutboxEvent } from "./event-outbox.ts";
import type { DebateStatus } from "./types.ts";

/** The owner of every debate made before organisations existed. */
const LEGACY_ORG = "local";

/** The debate tables in each dialect. */
export const debateTables = dialectTables({
  sqlite: {
    debates: sqlite.debates,
    participants: sqlite.debateParticipants,
    chunks: sqlite.debateEventChunks,
    receipts: sqlite.debateReceipts,
    ratings: sqlite.eloRatings,
    costCaps: sqlite.organisationCostCaps,
    outbox: sqlite.debateEventOutbox,
  },
  postgres: {
    debates: postgres.debates,
    participants: postgres.debateParticipants,
    chunks: postgres.debateEventChunks,
    receipts: postgres.debateReceipts,
    ratings: postgres.eloRatings,
    costCaps: postgres.organisationCostCaps,
    outbox: postgres.debateEventOutbox,
  },
});

export type DebateTables = typeof debateTables.postgres;

/** A `debates` row as the schema gives it. */
type DebateColumns = DebateTables["debates"]["$inferSelect"];

/**
 * The part of the debate store written by hand per dialect, on the Repo's own connection: the
 * measured hot path. `close` commits (or fails) what is still pending and leaves the connection open.
 */
export type EventLogSql = Pick<DebateStore, "create" | "appendEvents" | "events" | "finish" | "close">;

const parseOrNull = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

/** A debate from its row: the owner's ids as one, and the JSON columns parsed. @example rows.map(debateFromRow) */
export function debateFromRow(r: DebateColumns): DebateRow {
  // Field by field, not a rest and a spread: every page view and subscription maps a row.
  return {
    id: r.id,
    owner: { userId: r.userId, orgId: r.orgId, workspaceId: r.workspaceId },
    question: r.question,
    config: JSON.parse(r.config),
    metadata: JSON.parse(r.metadata),
    status: r.status as DebateStatus,
    stopReason: r.stopReason,
    error: r.error,
    consensus: parseOrNull(r.consensus),
    baseline: parseOrNull(r.baseline),
    summary: parseOrNull(r.summary),
    lastSeq: r.lastSeq,
    eloApplied: r.eloApplied,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    finishedAt: r.finishedAt,
  };
}

/** The conditions of {@link SqlDebateStore.list}: the organisation's debates, filtered, after the cursor's position. */
function listConditions(db: RepoDb, tables: DebateTables, orgId: string, f: DebateListFilter): SQL[] {
  const { debates, participants } = tables;
  const where: SQL[] = [eq(debates.orgId, orgId)];
  if (f.workspaceId) where.push(eq(debates.workspaceId, f.workspaceId));
  if (f.status) where.push(eq(debates.status, f.status));
  if (f.agent) {
    const seated = db.select({ id: participants.debateId }).from(participants).where(eq(participants.agent, f.agent));
    where.push(inArray(debates.id, seated));
  }
  if (f.since) where.push(gte(debates.createdAt, f.since));
  if (f.after) {
    const at = new Date(f.after.createdAt);
    where.push(or(lt(debates.createdAt, at), and(eq(debates.createdAt, at), lt(debates.id, f.after.id))) as SQL);
  }
  return where;
}

export class SqlDebateStore implements DebateStore {
  /** get and byId, built once: every page view and WebSocket subscription reads a debate's row. */
  private readonly orgRow: Prepared<{ id: string; orgId: string }, DebateColumns[]>;
  private readonly row: Prepared<{ id: string }, DebateColumns[]>;

  constructor(
    private readonly repo: Repo<DebateTables>,
    private readonly log: EventLogSql,
  ) {
    const { debates } = repo.tables;
    this.orgRow = repo.prepare({ id: debates.id, orgId: debates.orgId }, (db, v) =>
      db
        .select()
        .from(debates)
        .where(and(eq(debates.id, v.id), eq(debates.orgId, v.orgId))),
    );
    this.row = repo.prepare({ id: debates.id }, (db, v) => db.select().from(debates).where(eq(debates.id, v.id)));
  }

  create(debate: NewDebate): Promise<void> {
    return this.log.create(debate);
  }

  appendEvents(events: StoredEvent[]): Promise<void> {
    return this.log.appendEvents(events);
  }

  events(debateId: string, sinceSeq: number, limit?: number): Promise<StoredEvent[]> {
    return this.log.events(debateId, sinceSeq, limit);
  }

  finish(id: string, outcome: DebateFinish): Promise<boolean> {
    return this.log.finish(id, outcome);
  }

  async get(id: string, orgId: string): Promise<DebateRow | null> {
    const [row] = await this.repo.read((db) => this.orgRow.on(db, { id, orgId }));
    return row ? debateFromRow(row) : null;
  }

  async byId(id: string): Promise<DebateRow | null> {
    const [row] = await this.repo.read((db) => this.row.on(db, { id }));
    return row ? debateFromRow(row) : null;
  }

  async list(orgId: string, f: DebateListFilter): Promise<DebateRow[]> {
    const { debates } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(debates)
        .where(and(...listConditions(db, this.repo.tables, orgId, f)))
        .orderBy(desc(debates.createdAt), desc(debates.id))
        .limit(f.limit),
    );
    return rows.map(debateFromRow);
  }

  async unfinished(): Promise<DebateRow[]> {
    const { debates } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db.select().from(debates).where(eq(debates.status, "running")).orderBy(debates.createdAt),
    );
    return rows.map(debateFromRow);
  }

  async receipt(debateId: string, orgId: string): Promise<string | null> {
    const { debates, receipts } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ receipt: receipts.receipt })
        .from(receipts)
        .innerJoin(debates, eq(debates.id, receipts.debateId))
        .where(and(eq(receipts.debateId, debateId), eq(debates.orgId, orgId))),
    );
    return row?.receipt ?? null;
  }

  rankings(orgId: string): Promise<(Rating & { name: string })[]> {
    const { ratings } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select({
          name: ratings.name,
          elo: ratings.elo,
          debates: ratings.debates,
          wins: ratings.wins,
          losses: ratings.losses,
        })
        .from(ratings)
        .where(eq(ratings.orgId, orgId))
        .orderBy(desc(ratings.elo), ratings.name),
    );
  }

  async deleteReceiptsBefore(cutoff: Date): Promise<number> {
    const { receipts } = this.repo.tables;
    // Run once: on a lost connection the next scheduled run deletes what is left.
    const deleted = await this.repo.write((db) =>
      db.delete(receipts).where(lt(receipts.createdAt, cutoff)).returning({ debateId: receipts.debateId }),
    );
    return deleted.length;
  }

  async adoptLegacy({ orgId, workspaceId }: { orgId: string; workspaceId: string }): Promise<number> {
    const { debates, ratings } = this.repo.tables;
    return this.repo.write(async (db) => {
      const moved = await db
        .update(debates)
        .set({ orgId, workspaceId })
        .where(eq(debates.orgId, LEGACY_ORG))
        .returning({ id: debates.id });
      // An agent the organisation already rates keeps its rating there; its legacy row stays.
      const rated = db.select({ name: ratings.name }).from(ratings).where(eq(ratings.orgId, orgId));
      await db
        .update(ratings)
        .set({ orgId })
        .where(and(eq(ratings.orgId, LEGACY_ORG), notInArray(ratings.name, rated)));
      return moved.length;
    });
  }

  async usage(orgId: string, from: Date, to: Date): Promise<UsageRow[]> {
    const { debates } = this.repo.tables;
    // Only the columns a report needs: the config, question and outcome are most of a row.
    const rows = await this.repo.read((db) =>
      db
        .select({
          id: debates.id,
          userId: debates.userId,
          status: debates.status,
          createdAt: debates.createdAt,
          summary: debates.summary,
        })
        .from(debates)
        .where(and(eq(debates.orgId, orgId), gte(debates.createdAt, from), lt(debates.createdAt, to)))
        .orderBy(debates.createdAt, debates.id),
    );
    return rows.map((r) => ({
      id: r.id,
      userId: r.userId,
      status: r.status as DebateStatus,
      createdAt: r.createdAt,
      summary: parseOrNull(r.summary),
    }));
  }

  async costCap(orgId: string): Promise<CostCapRow | null> {
    const { costCaps } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(costCaps).where(eq(costCaps.orgId, orgId)));
    return row ?? null;
  }

  async setCostCap(orgId: string, capUsd: number | null, by: string, at: Date): Promise<void> {
    const { costCaps } = this.repo.tables;
    await this.repo.write((db) =>
      capUsd === null
        ? db.delete(costCaps).where(eq(costCaps.orgId, orgId))
        : db
            .insert(costCaps)
            .values({ orgId, monthlyCostCapUsd: capUsd, updatedBy: by, updatedAt: at })
            .onConflictDoUpdate({
              target: costCaps.orgId,
              set: { monthlyCostCapUsd: capUsd, updatedBy: by, updatedAt: at },
            }),
    );
  }

  async outboxTake(limit: number): Promise<OutboxEvent[]> {
    const { outbox, debates } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select({
          debateId: outbox.debateId,
          seq: outbox.seq,
          type: outbox.type,
          orgId: debates.orgId,
          payload: outbox.payload,
        })
        .from(outbox)
        .innerJoin(debates, eq(debates.id, outbox.debateId))
        .orderBy(outbox.debateId, outbox.seq)
        .limit(limit),
    );
  }

  async outboxRemove(rows: readonly Pick<OutboxEvent, "debateId" | "seq">[]): Promise<void> {
    if (rows.length === 0) return;
    const { outbox } = this.repo.tables;
    const seqs = new Map<string, number[]>();
    for (const r of rows) {
      const list = seqs.get(r.debateId);
      if (list) list.push(r.seq);
      else seqs.set(r.debateId, [r.seq]);
    }
    const which = [...seqs].map(([debateId, list]) => and(eq(outbox.debateId, debateId), inArray(outbox.seq, list)));
    await this.repo.write((db) => db.delete(outbox).where(or(...which)));
  }

  async probeWrite(): Promise<void> {
    const { debates, chunks } = this.repo.tables;
    const [newest] = await this.repo.read((db) => db.select({ id: max(debates.id) }).from(debates));
    const id = eq(debates.id, newest?.id ?? "");
    // A real page write that changes nothing a reader sees: a row's last_seq moved and moved back
    // in one transaction (SQLite writes no page for a row rewritten as it was, and a commit that
    // writes nothing passes on a full disk); and a write lock on the event log (waiting at most
    // busy_timeout or lock_timeout) on a row nobody has. The id is read first: on PostgreSQL each
    // statement sees the newest debate of its own moment.
    await this.repo.transaction((tx) => [
      tx
        .update(debates)
        .set({ lastSeq: sql`${debates.lastSeq} + 1` })
        .where(id),
      tx
        .update(debates)
        .set({ lastSeq: sql`${debates.lastSeq} - 1` })
        .where(id),
      tx.delete(chunks).where(eq(chunks.debateId, "")),
    ]);
  }

  async close(): Promise<void> {
    await this.log.close();
    await this.repo.close();
  }
}
