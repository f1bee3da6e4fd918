/**
 * The debate store's hand-written SQL on SQLite (see ./debate-store-sql.ts for the rest, written
 * once for both dialects): the event log, stored one row per debate per batch (event-chunks.ts), and
 * a debate's opening and closing records, which commit with it. It runs on the debate Repo's own
 * bun:sqlite connection with prepared statements: the measured hot path. bun:sqlite is synchronous,
 * so each transaction runs without interleaving; WAL lets it share the file with the server's
 * connection.
 *
 * Writes are group-committed: every write requested in one turn of the event loop (event batches,
 * new debates, outcomes, receipts, from any number of debates) runs in its own savepoint inside one
 * transaction, committed before any of their promises resolves. A failing write rolls back only its
 * savepoint and rejects only its own promise; a failed commit rejects them all. Each caller sees
 * the same durability as with a transaction of its own, for one commit per turn instead of one per
 * write.
 *
 * @example
 * const log = new SqliteEventLog(repo.driver.client); // repo: the debate tables' Repo
 * await log.appendEvents(batch);
 */
import type { Database, Statement } from "bun:sqlite";
import type { DebateFinish, NewDebate, StoredEvent } from "./debate-store.ts";
import type { EventLogSql } from "./debate-store-sql.ts";
import { eloUpdate, type Rating } from "./elo.ts";
import {
  chunkEvents,
  debateSpans,
  eventsOfChunks,
  type StoredChunk,
  type StoredLinks,
  unstoredEvents,
} from "./event-chunks.ts";
import { OUTBOX_EVENT_TYPES } from "./event-outbox.ts";

/** Longest stretch of one group commit before the rest waits for the next turn of the loop. */
const COMMIT_SLICE_MS = 4;

interface PendingWrite {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

export class SqliteEventLog implements EventLogSql {
  private pending: PendingWrite[] = [];
  private commitScheduled = false;
  private readonly insertChunk: Statement;
  private readonly readChunks: Statement<StoredChunk, [string, number, number]>;
  private readonly overlapping: Statement<StoredLinks, [string, number, number]>;
  private readonly advanceSeq: Statement;
  private readonly raiseSeq: Statement;
  private readonly insertOutbox: Statement;
  private readonly appendTx: (events: StoredEvent[]) => void;

  /** `db`: the connection this log writes on, which it does not close. */
  constructor(private readonly db: Database) {
    this.insertChunk = this.db.prepare(
      "INSERT INTO debate_event_chunks (debate_id, first_seq, last_seq, hashes, events) VALUES (?, ?, ?, ?, ?)",
    );
    // Starts the index range at the chunk holding seq ?2 + 1 rather than at the debate's first chunk.
    // Every chunk holds at least one event, so ?3 chunks hold at least ?3 events; events() stops
    // stepping (and reading chunk text) as soon as it has its `limit`.
    this.readChunks = this.db.prepare(
      `SELECT first_seq, hashes, events FROM debate_event_chunks
       WHERE debate_id = ?1 AND last_seq > ?2
         AND first_seq >= coalesce((SELECT max(first_seq) FROM debate_event_chunks WHERE debate_id = ?1 AND first_seq <= ?2 + 1), ?2 + 1)
       ORDER BY first_seq LIMIT ?3`,
    );
    // Moves last_seq past a span only if the span starts above it: then no stored event can
    // overlap it, and the append needs no other check (see debateSpans).
    this.advanceSeq = this.db.prepare(
      "UPDATE debates SET last_seq = ?1, updated_at = ?2 WHERE id = ?3 AND last_seq < ?4",
    );
    this.raiseSeq = this.db.prepare(
      "UPDATE debates SET last_seq = ?1, updated_at = ?2 WHERE id = ?3 AND last_seq < ?1",
    );
    // The stored chunks overlapping seqs ?2..?3 of a debate.
    this.overlapping = this.db.prepare(
      "SELECT debate_id, first_seq, hashes FROM debate_event_chunks WHERE debate_id = ?1 AND last_seq >= ?2 AND first_seq <= ?3",
    );
    // OR IGNORE: a row already there is the same event (its seq is stored once, in its chunk).
    this.insertOutbox = this.db.prepare(
      "INSERT OR IGNORE INTO debate_event_outbox (debate_id, seq, type, payload) VALUES (?, ?, ?, ?)",
    );
    this.appendTx = this.db.transaction((events: StoredEvent[]) => {
      let chunks = chunkEvents(events);
      let written = events;
      // A span that starts above the debate's last_seq cannot overlap a stored event (see
      // debateSpans); the others (a retry of a batch that did commit, a batch committed after a
      // later one, a debate that does not exist) are checked event by event against the log.
      const unchecked = debateSpans(chunks).filter(
        (s) => this.advanceSeq.run(s.lastSeq, s.lastTs, s.debateId, s.firstSeq).changes !== 1,
      );
      if (unchecked.length > 0) {
        const stored = unchecked.flatMap((s) => this.overlapping.all(s.debateId, s.firstSeq, s.lastSeq));
        written = unstoredEvents(events, stored);
        chunks = chunkEvents(written);
        for (const s of unchecked) this.raiseSeq.run(s.lastSeq, s.lastTs, s.debateId);
      }
      for (const c of chunks) this.insertChunk.run(c.debateId, c.firstSeq, c.lastSeq, c.hashes, c.events);
      // The events other features act on, committed with their chunk (./event-outbox.ts).
      for (const e of written) {
        if (OUTBOX_EVENT_TYPES.has(e.type)) this.insertOutbox.run(e.debateId, e.seq, e.type, e.payload);
      }
    });
  }

  /** Run `run` in the next group commit; resolves with its result once that commit is durable. */
  private write<T>(run: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      this.scheduleCommit();
    });
  }

  /**
   * Commit the pending writes, oldest first, in one transaction, stopping after
   * {@link COMMIT_SLICE_MS}: the rest go in the next turn's transaction. A burst of a thousand
   * debates created at once was one commit holding the event loop for ~100 ms.
   */
  private commitPending(): void {
    this.commitScheduled = false;
    if (this.pending.length === 0) return;
    const outcomes: { ok: boolean; value: unknown }[] = [];
    const started = performance.now();
    let taken = 0;
    const writes = this.pending;
    try {
      // IMMEDIATE: the write lock is taken (waiting up to busy_timeout) before anything is read. A
      // deferred transaction that read first and then wrote got SQLITE_BUSY at once, with no wait,
      // whenever another connection held the write lock (a TRUNCATE checkpoint, the sqlite3 shell's
      // VACUUM or ANALYZE), and every debate in the commit crashed.
      this.db
        .transaction(() => {
          while (taken < writes.length) {
            const w = writes[taken++] as PendingWrite;
            try {
              // Nested: a savepoint, so one failing write leaves the others in the transaction.
              outcomes.push({ ok: true, value: this.db.transaction(w.run)() });
            } catch (err) {
              outcomes.push({ ok: false, value: err });
            }
            if (performance.now() - started >= COMMIT_SLICE_MS) break;
          }
        })
        .immediate();
    } catch (err) {
      this.pending = writes.slice(taken);
      this.scheduleCommit();
      for (const w of writes.slice(0, taken)) w.reject(err);
      return;
    }
    this.pending = taken === writes.length ? [] : writes.slice(taken);
    this.scheduleCommit();
    for (let i = 0; i < taken; i++) {
      const w = writes[i] as PendingWrite;
      const o = outcomes[i] as { ok: boolean; value: unknown };
      if (o.ok) w.resolve(o.value);
      else w.reject(o.value);
    }
  }

  private scheduleCommit(): void {
    if (this.pending.length === 0 || this.commitScheduled) return;
    this.commitScheduled = true;
    setImmediate(() => this.commitPending());
  }

  async create(d: NewDebate): Promise<void> {
    const at = d.createdAt.getTime();
    await this.write(() => {
      this.db
        .query(
          "INSERT INTO debates (id, user_id, org_id, workspace_id, question, config, metadata, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
        )
        .run(
          d.id,
          d.owner.userId,
          d.owner.orgId,
          d.owner.workspaceId,
          d.question,
          JSON.stringify(d.config),
          JSON.stringify(d.metadata),
          at,
          at,
        );
      const seat = this.db.query("INSERT INTO debate_participants (debate_id, seat, agent) VALUES (?, ?, ?)");
      d.config.agents.forEach((agent, i) => {
        seat.run(d.id, i, agent);
      });
    });
  }

  async appendEvents(events: StoredEvent[]): Promise<void> {
    if (events.length > 0) await this.write(() => this.appendTx(events));
  }

  async events(debateId: string, sinceSeq: number, limit = 1_000_000): Promise<StoredEvent[]> {
    return eventsOfChunks(this.readChunks.iterate(debateId, sinceSeq, limit), debateId, sinceSeq, limit);
  }

  async finish(id: string, o: DebateFinish): Promise<boolean> {
    return this.write(() => {
      const row = this.db
        .query<{ status: string; elo_applied: number; org_id: string }, [string]>(
          "SELECT status, elo_applied, org_id FROM debates WHERE id = ?",
        )
        .get(id);
      if (row?.status !== "running") return false;
      const at = o.finishedAt.getTime();
      let eloApplied = row.elo_applied;
      if (o.elo && eloApplied === 0 && o.elo.winners.length + o.elo.losers.length > 1) {
        const names = [...o.elo.winners, ...o.elo.losers];
        const current: Record<string, Rating> = {};
        // The debate's organisation's leaderboard: ratings never cross organisations.
        const read = this.db.query<Rating & { name: string }, [string, string]>(
          "SELECT name, elo, debates, wins, losses FROM elo_ratings WHERE org_id = ? AND name = ?",
        );
        for (const n of names) {
          const r = read.get(row.org_id, n);
          if (r) current[n] = { elo: r.elo, debates: r.debates, wins: r.wins, losses: r.losses };
        }
        const next = eloUpdate(current, o.elo.winners, o.elo.losers);
        const write = this.db.query(
          "INSERT INTO elo_ratings (org_id, name, elo, debates, wins, losses, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(org_id, name) DO UPDATE SET elo = excluded.elo, debates = excluded.debates, wins = excluded.wins, losses = excluded.losses, updated_at = excluded.updated_at",
        );
        for (const [name, r] of Object.entries(next))
          write.run(row.org_id, name, r.elo, r.debates, r.wins, r.losses, at);
        eloApplied = 1;
      }
      if (o.receipt) {
        this.db
          .query(
            "INSERT INTO debate_receipts (debate_id, receipt, created_at) VALUES (?, ?, ?) ON CONFLICT(debate_id) DO NOTHING",
          )
          .run(id, o.receipt.json, o.receipt.at.getTime());
      }
      if (o.events && o.events.length > 0) this.appendTx(o.events);
      this.db
        .query(
          "UPDATE debates SET status = ?, stop_reason = ?, error = ?, consensus = ?, baseline = ?, summary = ?, elo_applied = ?, finished_at = ?, updated_at = ? WHERE id = ?",
        )
        .run(
          o.status,
          o.stopReason,
          o.error,
          o.consensus ? JSON.stringify(o.consensus) : null,
          o.baseline ? JSON.stringify(o.baseline) : null,
          o.summary ? JSON.stringify(o.summary) : null,
          eloApplied,
          at,
          at,
          id,
        );
      return true;
    });
  }

  /** Commit the writes already requested (or fail them: each commit takes at least one write off). */
  async close(): Promise<void> {
    while (this.pending.length > 0) this.commitPending();
  }
}
