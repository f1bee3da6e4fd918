/**
 * The audit log: an append-only table of {@link AuditEvent}s, hash-chained
 * (runtime/security/audit-chain.ts) so that an entry edited, removed or put in afterwards is found.
 *
 * One chain per organisation and one for the platform. An event with an `orgId` goes to that
 * organisation's chain, one without (a failed sign-in for an unknown address, an operator's ops
 * run) to the `platform` chain. So an organisation's admin verifies their own organisation's log
 * whole, without seeing another organisation's entries, and the operator verifies every chain.
 *
 * Appends are serialised per chain. In one process a queue per chain orders them; across
 * processes (two nodes on one PostgreSQL, or `aragora users` beside a server on one SQLite file)
 * the unique index on (chain, seq) does: an entry is inserted at the place after the head it
 * read, and when another process took that place first the insert fails, the head is read again
 * and the entry re-chained. A fork is impossible whoever writes, which a lock would only ensure
 * for writers that take it, and no transaction stays open while the hash is computed (the Repo's
 * transactions are lists of statements, runtime/store/repo.ts).
 *
 * What the chain cannot show: entries cut off the end before this process saw them (it does
 * report the loss of any entry it appended or verified itself), or a log rebuilt whole by someone
 * able to write the database and recompute hashes. Keep a head from GET /api/admin/audit elsewhere
 * to catch that.
 *
 * @example
 * const auditLog = await openAuditLog(ctx.store);
 * const audit = storeRecorder(auditLog, log);
 * await audit.record({ action: "key.created", outcome: "success", actor, orgId, target: { type: "api_key", id } });
 * const report = await auditLog.verify(orgId); // { chain, ok: true, head, length }
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, type SQL } from "drizzle-orm";
import { type AuditEvent, type AuditRecorder, scrubDetail } from "../runtime/audit.ts";
import type { Logger } from "../runtime/log.ts";
import { metrics } from "../runtime/metrics.ts";
import {
  type ChainBreak,
  type ChainLink,
  chainEntry,
  GENESIS_HASH,
  verifyChain,
} from "../runtime/security/audit-chain.ts";
import { dialectTables, type Repo } from "../runtime/store/repo.ts";
import type { Store } from "../runtime/store/store.ts";
import { isUniqueViolation } from "./access-store.ts";
import * as pg from "./schema-postgres.ts";
import * as lite from "./schema-sqlite.ts";

/** The chain of events that belong to no organisation. */
export const PLATFORM_CHAIN = "platform";

export const auditTables = dialectTables({
  sqlite: { auditLog: lite.auditLog },
  postgres: { auditLog: pg.auditLog },
});

/** One stored entry, as its row. */
export type AuditEntry = typeof pg.auditLog.$inferSelect;

/** The outcome of verifying one chain. */
export type ChainReport =
  | { chain: string; ok: true; head: string; length: number }
  | {
      chain: string;
      ok: false;
      /** Position in the chain (0 = its first entry) where it breaks. */
      index: number;
      /** The entry found there; null when the break is after the last entry (`truncated`). */
      entryId: string | null;
      seq: number | null;
      reason: ChainBreak;
    };

/** What {@link AuditLog.list} selects. */
export interface AuditFilter {
  /** The chains to read; undefined: all of them. */
  chains?: readonly string[];
  action?: string;
  actorUserId?: string;
  outcome?: "success" | "failure";
  /** Entries at or after. */
  since?: Date;
  /** Entries at or before. */
  until?: Date;
  /** The `next_cursor` of the previous page: entries older than it. */
  cursor?: string;
  limit: number;
}

/** How many times an append re-reads the head after losing its place to another process. */
const MAX_APPEND_ATTEMPTS = 25;
/** Rows read per statement while verifying a chain. */
const VERIFY_PAGE = 5000;

/** The chain an event belongs to. */
export function chainOf(orgId: string | null): string {
  return orgId ?? PLATFORM_CHAIN;
}

function parseDetail(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    // An edited row may hold anything: its hash will not match, which is the finding.
    return text;
  }
}

/**
 * The JSON an entry's hash covers, built from its row: the same at append and at verification,
 * so what is verified is exactly what is stored. `seq` is the row's place, not part of the entry:
 * an entry put in between others shows as inserted there, not as every later entry edited.
 *
 * @example chainHash(row.prevHash, hashedEntry(row)) === row.hash // for an untouched row
 */
export function hashedEntry(row: Omit<AuditEntry, "seq" | "prevHash" | "hash">): Record<string, unknown> {
  // The event's own shape (runtime/audit.ts), with where and when it was stored.
  return {
    v: 1,
    id: row.id,
    chain: row.chain,
    at: row.at.toISOString(),
    orgId: row.orgId,
    action: row.action,
    outcome: row.outcome,
    actor: {
      kind: row.actorKind,
      userId: row.actorUserId,
      keyId: row.actorKeyId,
      impersonatorId: row.impersonatorId,
    },
    target: row.targetType === null && row.targetId === null ? null : { type: row.targetType, id: row.targetId },
    ip: row.ip,
    requestId: row.requestId,
    detail: parseDetail(row.detail),
  };
}

const linkOf = (row: AuditEntry): ChainLink => ({ prevHash: row.prevHash, hash: row.hash, entry: hashedEntry(row) });

/** The audit log's repository. */
export class AuditLog {
  /** The last entry of each chain as this process knows it: where its next append goes. */
  private readonly heads = new Map<string, { seq: number; hash: string }>();
  /** A hash this process stored or verified in each chain: a chain that lost it was cut. */
  private readonly knownHeads = new Map<string, string>();
  /** The tail of each chain's queue of appends in this process. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly repo: Repo<typeof auditTables.postgres>,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * Stores `event` at the end of its chain; the stored row. Throws when the store cannot write.
   * `detail` is scrubbed of anything that looks like a secret (runtime/audit.ts scrubDetail).
   *
   * @example const row = await auditLog.append({ action: "auth.signed_out", outcome: "success", actor, orgId });
   */
  append(event: AuditEvent): Promise<AuditEntry> {
    const chain = chainOf(event.orgId);
    const previous = this.queues.get(chain) ?? Promise.resolve();
    const next = previous.then(
      () => this.appendNow(chain, event),
      () => this.appendNow(chain, event),
    );
    this.queues.set(chain, next);
    // Drop the queue once it is idle, so a chain that stops being written holds nothing.
    const settle = () => {
      if (this.queues.get(chain) === next) this.queues.delete(chain);
    };
    next.then(settle, settle);
    return next;
  }

  private async appendNow(chain: string, event: AuditEvent): Promise<AuditEntry> {
    const { auditLog } = this.repo.tables;
    const detail = scrubDetail(event.detail);
    for (let attempt = 1; ; attempt++) {
      const head = this.heads.get(chain) ?? (await this.readHead(chain));
      const at = new Date(this.clock());
      const unchained = {
        id: `al-${Bun.randomUUIDv7()}`,
        chain,
        at,
        orgId: event.orgId,
        action: event.action,
        outcome: event.outcome,
        actorKind: event.actor.kind,
        actorUserId: event.actor.userId,
        actorKeyId: event.actor.keyId ?? null,
        impersonatorId: event.actor.impersonatorId ?? null,
        targetType: event.target?.type ?? null,
        targetId: event.target?.id ?? null,
        ip: event.ip ?? null,
        requestId: event.requestId ?? null,
        detail: detail === null ? null : JSON.stringify(detail),
      };
      const link = chainEntry(head?.hash ?? GENESIS_HASH, hashedEntry(unchained));
      const row: AuditEntry = { ...unchained, seq: (head?.seq ?? 0) + 1, prevHash: link.prevHash, hash: link.hash };
      try {
        await this.repo.write((db) => db.insert(auditLog).values(row));
      } catch (err) {
        // Another process appended to this chain since we read its head: read it again.
        this.heads.delete(chain);
        if (!isUniqueViolation(err) || attempt >= MAX_APPEND_ATTEMPTS) throw err;
        metrics.auditAppendConflicts.inc();
        await Bun.sleep(Math.random() * 2 * attempt);
        continue;
      }
      this.heads.set(chain, { seq: row.seq, hash: row.hash });
      this.knownHeads.set(chain, row.hash);
      metrics.auditEntries.inc();
      return row;
    }
  }

  private async readHead(chain: string): Promise<{ seq: number; hash: string } | undefined> {
    const { auditLog } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select({ seq: auditLog.seq, hash: auditLog.hash })
        .from(auditLog)
        .where(eq(auditLog.chain, chain))
        .orderBy(desc(auditLog.seq))
        .limit(1),
    );
    return row;
  }

  /**
   * Entries matching `filter`, newest first, and the cursor of the next page (null on the last).
   *
   * @example const { entries, nextCursor } = await auditLog.list({ chains: [orgId], action: "auth.signed_in", limit: 50 });
   */
  async list(filter: AuditFilter): Promise<{ entries: AuditEntry[]; nextCursor: string | null }> {
    const { auditLog } = this.repo.tables;
    const where: SQL[] = [];
    if (filter.chains !== undefined) where.push(inArray(auditLog.chain, [...filter.chains]));
    if (filter.action !== undefined) where.push(eq(auditLog.action, filter.action));
    if (filter.actorUserId !== undefined) where.push(eq(auditLog.actorUserId, filter.actorUserId));
    if (filter.outcome !== undefined) where.push(eq(auditLog.outcome, filter.outcome));
    if (filter.since !== undefined) where.push(gte(auditLog.at, filter.since));
    if (filter.until !== undefined) where.push(lte(auditLog.at, filter.until));
    if (filter.cursor !== undefined) where.push(lt(auditLog.id, filter.cursor));
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(auditLog)
        .where(and(...where))
        .orderBy(desc(auditLog.id))
        .limit(filter.limit + 1),
    );
    const more = rows.length > filter.limit;
    const entries = more ? rows.slice(0, filter.limit) : rows;
    return { entries, nextCursor: more ? (entries.at(-1)?.id ?? null) : null };
  }

  /** Every chain that has an entry, the platform's first. */
  async chains(): Promise<string[]> {
    const { auditLog } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db.selectDistinct({ chain: auditLog.chain }).from(auditLog).orderBy(asc(auditLog.chain)),
    );
    const names = rows.map((r) => r.chain);
    return names.includes(PLATFORM_CHAIN) ? [PLATFORM_CHAIN, ...names.filter((c) => c !== PLATFORM_CHAIN)] : names;
  }

  /**
   * Verifies `chain` whole, from its first entry, in order of `seq`: its head, or the first break
   * (the entry there and why). An empty chain is whole, with the genesis hash as its head.
   *
   * @example
   * const report = await auditLog.verify("platform");
   * if (!report.ok) console.error(`entry ${report.entryId}: ${report.reason}`);
   */
  async verify(chain: string): Promise<ChainReport> {
    const { auditLog } = this.repo.tables;
    const known = this.knownHeads.get(chain);
    let sawKnown = known === undefined;
    let start = GENESIS_HASH;
    let offset = 0;
    let afterSeq = Number.NEGATIVE_INFINITY;
    for (;;) {
      const after = afterSeq;
      const rows = await this.repo.read((db) =>
        db
          .select()
          .from(auditLog)
          .where(and(eq(auditLog.chain, chain), Number.isFinite(after) ? gt(auditLog.seq, after) : undefined))
          .orderBy(asc(auditLog.seq))
          .limit(VERIFY_PAGE),
      );
      const verdict = verifyChain(rows.map(linkOf), { start });
      if (!verdict.ok) {
        const row = rows[verdict.index];
        return {
          chain,
          ok: false,
          index: offset + verdict.index,
          entryId: row?.id ?? null,
          seq: row?.seq ?? null,
          reason: verdict.reason,
        };
      }
      if (!sawKnown && rows.some((r) => r.hash === known)) sawKnown = true;
      offset += rows.length;
      start = verdict.head;
      if (rows.length < VERIFY_PAGE) break;
      afterSeq = (rows.at(-1) as AuditEntry).seq;
    }
    if (!sawKnown) return { chain, ok: false, index: offset, entryId: null, seq: null, reason: "truncated" };
    if (offset > 0) this.knownHeads.set(chain, start);
    return { chain, ok: true, head: start, length: offset };
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The audit log on the server's database (its table is made by the migrations the store ran).
 *
 * @example const auditLog = await openAuditLog(ctx.store);
 */
export async function openAuditLog(store: Pick<Store, "openRepo">, clock?: () => number): Promise<AuditLog> {
  return new AuditLog(await store.openRepo(auditTables, { name: "audit", maxConnections: 2 }), clock);
}

/**
 * The {@link AuditRecorder} features are given: appends to `auditLog`. An entry that cannot be
 * stored does not fail the action it records (a sign-in still answers, an ops run still starts):
 * the event is written to the log at ERROR instead, whole but for scrubbed details, and counted in
 * aragora_audit_write_failures_total, which an alert should watch.
 *
 * @example const audit = storeRecorder(auditLog, log); await audit.record(event);
 */
export function storeRecorder(auditLog: Pick<AuditLog, "append">, log: Logger): AuditRecorder {
  return {
    async record(event) {
      try {
        await auditLog.append(event);
      } catch (err) {
        metrics.auditWriteFailures.inc();
        log.error(
          { err, audit: { ...event, detail: scrubDetail(event.detail) } },
          `audit entry not stored: ${event.action} ${event.outcome}`,
        );
      }
    },
  };
}
