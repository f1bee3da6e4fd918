/**
 * The stored debates as `aragora verify` reads them: ids a page at a time, then each debate (its
 * record, seats, event chunks and receipt) in one short read transaction, so what is compared is
 * one consistent state and a live server is never held up for longer than one debate's read.
 * Written once for both dialects, on a Repo of the debate tables that the caller's store gives:
 * the verify command and step open the configured store read-only (`openStore(..., { readOnly })`:
 * SQLite through read-only connections, never through the file system; PostgreSQL through
 * read-only sessions), so nothing here can change what it checks.
 *
 * @example
 * const store = await openStore(config, log, { readOnly: true }); // NoDatabase when there is none
 * const source = await openDebateSnapshots(store);
 * const ids = await source.ids("", 100);
 * const debate = await source.debate(ids[0]);
 * await source.close();
 * await store.close();
 */
import { eq, gt, notInArray } from "drizzle-orm";
import type { Repo } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import { type DebateTables, debateTables } from "./debate-store-sql.ts";
import type { DebateSnapshots, StoredDebate } from "./debate-verify.ts";

/** {@link DebateSnapshots} on a Repo of the debate tables, which it closes. */
export class SqlDebateSnapshots implements DebateSnapshots {
  constructor(private readonly repo: Repo<DebateTables>) {}

  async ids(after: string, limit: number): Promise<string[]> {
    const { debates } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db.select({ id: debates.id }).from(debates).where(gt(debates.id, after)).orderBy(debates.id).limit(limit),
    );
    return rows.map((r) => r.id);
  }

  async debate(id: string): Promise<StoredDebate | null> {
    const { debates, participants, chunks, receipts } = this.repo.tables;
    const [[row], seats, stored, [receipt]] = await this.repo.snapshot((tx) => [
      tx
        .select({
          id: debates.id,
          question: debates.question,
          config: debates.config,
          status: debates.status,
          stopReason: debates.stopReason,
          consensus: debates.consensus,
          baseline: debates.baseline,
          lastSeq: debates.lastSeq,
          finishedAt: debates.finishedAt,
        })
        .from(debates)
        .where(eq(debates.id, id)),
      tx
        .select({ agent: participants.agent })
        .from(participants)
        .where(eq(participants.debateId, id))
        .orderBy(participants.seat),
      tx
        .select({ firstSeq: chunks.firstSeq, lastSeq: chunks.lastSeq, hashes: chunks.hashes, events: chunks.events })
        .from(chunks)
        .where(eq(chunks.debateId, id))
        .orderBy(chunks.firstSeq),
      tx.select({ receipt: receipts.receipt }).from(receipts).where(eq(receipts.debateId, id)),
    ]);
    if (!row) return null;
    return {
      ...row,
      finishedAt: row.finishedAt?.getTime() ?? null,
      participants: seats.map((s) => s.agent),
      chunks: stored,
      receipt: receipt?.receipt ?? null,
    };
  }

  async orphans(): Promise<{ debateId: string; table: "debate_receipts" | "debate_event_chunks" }[]> {
    const { debates, chunks, receipts } = this.repo.tables;
    const [receiptsOnly, chunksOnly] = await this.repo.snapshot((tx) => {
      const recorded = tx.select({ id: debates.id }).from(debates);
      return [
        tx
          .selectDistinct({ debateId: receipts.debateId })
          .from(receipts)
          .where(notInArray(receipts.debateId, recorded)),
        tx.selectDistinct({ debateId: chunks.debateId }).from(chunks).where(notInArray(chunks.debateId, recorded)),
      ];
    });
    return [
      ...receiptsOnly.map((r) => ({ debateId: r.debateId, table: "debate_receipts" as const })),
      ...chunksOnly.map((r) => ({ debateId: r.debateId, table: "debate_event_chunks" as const })),
    ];
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The snapshots of `store`'s debates, on a Repo of their own (one connection).
 *
 * @example const source = await openDebateSnapshots(await openStore(config, log, { readOnly: true }));
 */
export async function openDebateSnapshots(store: Pick<Store, "openRepo">): Promise<DebateSnapshots> {
  return new SqlDebateSnapshots(await store.openRepo(debateTables, { name: "verify", maxConnections: 1 }));
}
