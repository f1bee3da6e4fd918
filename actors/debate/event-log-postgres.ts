/**
 * The debate store's hand-written SQL on PostgreSQL (see ./debate-store-sql.ts for the rest, written
 * once for both dialects): the event log, stored one row per debate per batch (event-chunks.ts),
 * each batch in one statement, and a debate's opening and closing records, which commit with it.
 * It runs on the debate Repo's pool (postgres.js). ELO updates lock the rating rows
 * (SELECT ... FOR UPDATE) so concurrent finishes serialise. Timestamps are sent as ISO text: drizzle,
 * sharing the pool's client, has set it to pass date types through as text.
 *
 * @example
 * const log = new PostgresEventLog(repo.driver.pool); // repo: the debate tables' Repo
 * await log.appendEvents(batch);
 */
import type postgres from "postgres";
import { connectionLost, type PgPool } from "../../runtime/store/pg-pool.ts";
import type { DebateFinish, NewDebate, StoredEvent } from "./debate-store.ts";
import type { EventLogSql } from "./debate-store-sql.ts";
import { eloUpdate, type Rating } from "./elo.ts";
import {
  chunkEvents,
  debateSpans,
  type EventChunk,
  EventSeqConflict,
  eventsOfChunks,
  type StoredChunk,
  type StoredLinks,
  unstoredEvents,
} from "./event-chunks.ts";
import { outboxEvents } from "./event-outbox.ts";

export class PostgresEventLog implements EventLogSql {
  /** `pool`: the pool this log runs on, which it does not end. */
  constructor(private readonly pool: PgPool) {}

  async create(d: NewDebate): Promise<void> {
    try {
      await this.insertDebate(d);
    } catch (err) {
      if (!connectionLost(err)) throw err;
      // Lost under the statement: it may have committed. The id is new, so the row tells.
      if (await this.stored(d.id)) return;
      await this.insertDebate(d);
    }
  }

  private async stored(id: string): Promise<boolean> {
    return (await this.pool.read((sql) => sql`SELECT 1 FROM debates WHERE id = ${id}`)).length > 0;
  }

  private async insertDebate(d: NewDebate): Promise<void> {
    const at = d.createdAt.toISOString();
    await this.pool.run((sql) =>
      sql.begin(async (tx) => {
        await tx`INSERT INTO debates (id, user_id, org_id, workspace_id, question, config, metadata, status, created_at, updated_at)
        VALUES (${d.id}, ${d.owner.userId}, ${d.owner.orgId}, ${d.owner.workspaceId}, ${d.question}, ${JSON.stringify(d.config)},
                ${JSON.stringify(d.metadata)}, 'running', ${at}, ${at})`;
        const seats = d.config.agents.map((agent, seat) => ({ debate_id: d.id, seat, agent }));
        await tx`INSERT INTO debate_participants ${tx(seats)}`;
      }),
    );
  }

  async appendEvents(events: StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const chunks = chunkEvents(events);
    await this.pool.run((sql) =>
      sql.begin(async (tx) => {
        // The fast path, in a savepoint: every chunk goes in unless one overlaps the log.
        try {
          await tx.savepoint((sp) => this.insertChunks(sp, chunks, events));
          return;
        } catch (err) {
          if (!(err instanceof EventSeqConflict)) throw err;
        }
        // Something overlaps (a retry of a batch that did commit, a batch committed after a later
        // one): check it event by event against the stored chunks, and store only what is new.
        const spans = debateSpans(chunks);
        const stored = await tx<StoredLinks[]>`
        SELECT c.debate_id, c.first_seq, c.hashes FROM debate_event_chunks AS c
        JOIN unnest(
          ${tx.array(spans.map((s) => s.debateId))}::text[], ${tx.array(spans.map((s) => s.firstSeq))}::bigint[],
          ${tx.array(spans.map((s) => s.lastSeq))}::bigint[]
        ) AS s(debate_id, first_seq, last_seq)
          ON c.debate_id = s.debate_id AND c.last_seq >= s.first_seq AND c.first_seq <= s.last_seq`;
        const unstored = unstoredEvents(events, stored);
        const rest = chunkEvents(unstored);
        if (rest.length > 0) await this.insertChunks(tx, rest, unstored);
      }),
    );
  }

  /**
   * One statement: the chunks, each only if no stored chunk of its debate overlaps it (the one with
   * the highest first_seq <= its last seq is the only candidate: one index probe), and each
   * debate's last_seq. Throws {@link EventSeqConflict} when a chunk was left out. Then, when
   * `events` (those the chunks hold) has any of the outbox's types, a second statement writes
   * them to the outbox (./event-outbox.ts), in the same transaction.
   */
  private async insertChunks(
    tx: postgres.TransactionSql,
    chunks: EventChunk[],
    events: readonly StoredEvent[],
  ): Promise<void> {
    const spans = debateSpans(chunks);
    const [row] = await tx<{ stored: number }[]>`
      WITH stored AS (
        INSERT INTO debate_event_chunks (debate_id, first_seq, last_seq, hashes, events)
        SELECT * FROM unnest(
          ${tx.array(chunks.map((c) => c.debateId))}::text[], ${tx.array(chunks.map((c) => c.firstSeq))}::bigint[],
          ${tx.array(chunks.map((c) => c.lastSeq))}::bigint[], ${tx.array(chunks.map((c) => c.hashes))}::text[],
          ${tx.array(chunks.map((c) => c.events))}::text[]
        ) AS b(debate_id, first_seq, last_seq, hashes, events)
        WHERE NOT EXISTS (
          SELECT 1 FROM (
            SELECT c.last_seq FROM debate_event_chunks AS c
            WHERE c.debate_id = b.debate_id AND c.first_seq <= b.last_seq ORDER BY c.first_seq DESC LIMIT 1
          ) AS before WHERE before.last_seq >= b.first_seq
        )
        RETURNING 1
      ), raised AS (
        UPDATE debates AS d SET last_seq = s.last_seq, updated_at = s.at
        FROM unnest(
          ${tx.array(spans.map((s) => s.debateId))}::text[], ${tx.array(spans.map((s) => s.lastSeq))}::bigint[],
          ${tx.array(spans.map((s) => new Date(s.lastTs).toISOString()))}::timestamptz[]
        ) AS s(debate_id, last_seq, at)
        WHERE d.id = s.debate_id AND d.last_seq < s.last_seq
      )
      SELECT count(*)::integer AS stored FROM stored`;
    if (row?.stored !== chunks.length) {
      const ranges = chunks.map((c) => `${c.debateId} ${c.firstSeq}..${c.lastSeq}`).join(", ");
      throw new EventSeqConflict(`a batch overlaps events already stored (chunks ${ranges})`);
    }
    const outbox = outboxEvents(events);
    if (outbox.length > 0) {
      await tx`INSERT INTO debate_event_outbox (debate_id, seq, type, payload)
        SELECT * FROM unnest(
          ${tx.array(outbox.map((e) => e.debateId))}::text[], ${tx.array(outbox.map((e) => e.seq))}::bigint[],
          ${tx.array(outbox.map((e) => e.type))}::text[], ${tx.array(outbox.map((e) => e.payload))}::text[]
        ) ON CONFLICT DO NOTHING`;
    }
  }

  events(debateId: string, sinceSeq: number, limit = 1_000_000): Promise<StoredEvent[]> {
    return this.pool.read(async (sql) => {
      // The index range starts at the chunk holding seq sinceSeq + 1, not at the debate's first
      // chunk, and only chunks holding one of the first `limit` events are sent: `through` counts
      // the events after sinceSeq up to the end of each chunk.
      const rows = await sql<StoredChunk[]>`SELECT first_seq, hashes, events FROM (
          SELECT first_seq, last_seq, hashes, events,
            sum(last_seq - greatest(first_seq - 1, ${sinceSeq})) OVER (ORDER BY first_seq) AS through
          FROM debate_event_chunks
          WHERE debate_id = ${debateId} AND last_seq > ${sinceSeq}
            AND first_seq >= coalesce(
              (SELECT max(first_seq) FROM debate_event_chunks WHERE debate_id = ${debateId} AND first_seq <= ${sinceSeq + 1}),
              ${sinceSeq + 1})
        ) AS c
        WHERE through - (last_seq - greatest(first_seq - 1, ${sinceSeq})) < ${limit}
        ORDER BY first_seq`;
      return eventsOfChunks(rows, debateId, sinceSeq, limit);
    });
  }

  async finish(id: string, o: DebateFinish): Promise<boolean> {
    const at = o.finishedAt.toISOString();
    return this.pool.run((sql) =>
      sql.begin(async (tx) => {
        const [row] = await tx<
          { status: string; elo_applied: boolean; org_id: string }[]
        >`SELECT status, elo_applied, org_id FROM debates WHERE id = ${id} FOR UPDATE`;
        if (row?.status !== "running") return false;
        let eloApplied = row.elo_applied;
        if (o.elo && !eloApplied && o.elo.winners.length + o.elo.losers.length > 1) {
          const names = [...o.elo.winners, ...o.elo.losers].sort();
          // The debate's organisation's leaderboard: ratings never cross organisations.
          const found = await tx<
            (Rating & { name: string })[]
          >`SELECT name, elo, debates, wins, losses FROM elo_ratings WHERE org_id = ${row.org_id} AND name IN ${tx(names)} ORDER BY name FOR UPDATE`;
          const current = Object.fromEntries(found.map((r) => [r.name, r]));
          const next = eloUpdate(current, o.elo.winners, o.elo.losers);
          for (const [name, r] of Object.entries(next)) {
            await tx`INSERT INTO elo_ratings (org_id, name, elo, debates, wins, losses, updated_at)
            VALUES (${row.org_id}, ${name}, ${r.elo}, ${r.debates}, ${r.wins}, ${r.losses}, ${at})
            ON CONFLICT (org_id, name) DO UPDATE SET elo = excluded.elo, debates = excluded.debates, wins = excluded.wins,
              losses = excluded.losses, updated_at = excluded.updated_at`;
          }
          eloApplied = true;
        }
        if (o.receipt) {
          await tx`INSERT INTO debate_receipts (debate_id, receipt, created_at)
          VALUES (${id}, ${o.receipt.json}, ${o.receipt.at.toISOString()}) ON CONFLICT (debate_id) DO NOTHING`;
        }
        if (o.events && o.events.length > 0) await this.insertChunks(tx, chunkEvents(o.events), o.events);
        await tx`UPDATE debates SET status = ${o.status}, stop_reason = ${o.stopReason}, error = ${o.error},
        consensus = ${o.consensus ? JSON.stringify(o.consensus) : null}, baseline = ${o.baseline ? JSON.stringify(o.baseline) : null},
        summary = ${o.summary ? JSON.stringify(o.summary) : null}, elo_applied = ${eloApplied},
        finished_at = ${at}, updated_at = ${at} WHERE id = ${id}`;
        return true;
      }),
    );
  }

  /** Nothing of its own to release: the pool is the Repo's. */
  async close(): Promise<void> {}
}
