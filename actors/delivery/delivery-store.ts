/**
 * The delivery engine's ledger: every delivery to a target (a webhook endpoint or an integration,
 * `target_kind`) and every attempt at it, in `webhook_deliveries` and `webhook_attempts`
 * (actors/webhook/webhook-schema-*.ts), one class for both dialects. A delivery is inserted in the
 * step that commits its event (idempotently: unique per (target, event key)), advanced by its
 * target's actor after each attempt (./delivery-journal.ts, group-committed), and read back by the
 * routes: every read a client can reach is scoped by the organisation and the target kind; the
 * actors read their own target's deliveries by id.
 *
 * @example
 * const deliveries = await openDeliveryStore(ctx.store);
 * await deliveries.insertDeliveries([newTargetDelivery("webhook", endpoint, "debate_end", "d-1:9", (id) => body(id), new Date())]);
 * await deliveries.deadLetters("org-1", "integration", 100);
 */

import type { Database } from "bun:sqlite";
import { and, asc, count, desc, eq, exists, gte, inArray, ne, notInArray, or, type SQL, sql } from "drizzle-orm";
import { deliveryLeases } from "../../runtime/store/leases-schema-postgres.ts";
import { dialectTables, type Prepared, type Repo, slotsAsValues } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import * as pg from "../webhook/webhook-schema-postgres.ts";
import * as lite from "../webhook/webhook-schema-sqlite.ts";

export const deliveryTables = dialectTables({
  sqlite: { deliveries: lite.webhookDeliveries, attempts: lite.webhookAttempts },
  postgres: { deliveries: pg.webhookDeliveries, attempts: pg.webhookAttempts },
});

type Tables = typeof deliveryTables.postgres;
export type DeliveryRow = Tables["deliveries"]["$inferSelect"];
export type AttemptRow = Tables["attempts"]["$inferSelect"];

/** What a delivery goes to: a webhook endpoint (signed JSON) or an integration (a connector). */
export const TARGET_KINDS = ["webhook", "integration"] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];
const ID_PREFIX: Record<TargetKind, string> = { webhook: "dlv", integration: "idl" };

/** The runbook's delivery states. */
export const DELIVERY_STATES = ["PENDING", "IN_PROGRESS", "DELIVERED", "RETRYING", "DEAD_LETTERED"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** The states of a delivery that still has to be sent. */
export const OPEN_STATES: readonly DeliveryState[] = ["PENDING", "IN_PROGRESS", "RETRYING"];

/** How long a PostgreSQL session of the ledger may idle inside a transaction before the server ends it. */
const IDLE_IN_TRANSACTION_MS = 10_000;

/** A response body is kept up to this many characters in an attempt's record. */
export const ATTEMPT_BODY_LIMIT = 1024;

/**
 * The delivery lease an attempt began under (several nodes on one PostgreSQL database,
 * actors/node/lease-keeper.ts): the target's lease, held by `nodeId` at `epoch`.
 */
export interface AttemptLease {
  kind: TargetKind;
  targetId: string;
  nodeId: string;
  epoch: number;
}

/** One attempt's outcome, written with the delivery's next state in one transaction. */
export interface AttemptRecord {
  deliveryId: string;
  /** The attempt's number, the first 1 (the delivery's attempts after it). */
  attempt: number;
  at: Date;
  status: number | null;
  latencyMs: number;
  responseBody: string | null;
  error: string | null;
  state: DeliveryState;
  nextAttemptAt: Date;
  /**
   * Several nodes: the lease the attempt began under. The record is written only while that lease
   * is still the node's at that epoch (see {@link DeliveryStore.recordAttempts}). Ignored on SQLite
   * (one node, no leases).
   */
  lease?: AttemptLease;
}

/** A delivery with its attempts, newest delivery first. */
export interface DeliveryWithAttempts extends DeliveryRow {
  attemptLog: AttemptRow[];
}

/** The runbook's metrics summary, for one organisation. */
export interface DeliverySummary {
  total: number;
  byState: Record<DeliveryState, number>;
  /** Mean latency of the attempts that got an answer, in milliseconds; null without any. */
  avgLatencyMs: number | null;
}

/**
 * A delivery to a target of `kind` to insert: new id (`<prefix>-<uuidv7>`, time-ordered), PENDING,
 * due now. The prefix says the kind to a reader: `dlv` a webhook endpoint's, `idl` an integration's.
 *
 * @example newTargetDelivery("integration", integration, "debate_end", "d-1:9", () => JSON.stringify(outcome), new Date())
 */
export function newTargetDelivery(
  kind: TargetKind,
  target: { id: string; orgId: string },
  eventType: string,
  eventKey: string,
  payloadOf: (deliveryId: string) => string,
  now: Date,
): DeliveryRow {
  const id = `${ID_PREFIX[kind]}-${Bun.randomUUIDv7()}`;
  return {
    id,
    endpointId: target.id,
    targetKind: kind,
    orgId: target.orgId,
    eventType,
    eventKey,
    payload: payloadOf(id),
    state: "PENDING",
    attempts: 0,
    retryBase: 0,
    nextAttemptAt: now,
    lastError: null,
    lastStatus: null,
    createdAt: now,
    updatedAt: now,
  };
}

export class DeliveryStore {
  private readonly saveAttempt: Prepared<AttemptRow, unknown>;
  /** SQLite only (see insertDeliveries): the deliveries, each skipped when its (endpoint, event) is stored. */
  private readonly insertOne: ((rows: readonly DeliveryRow[]) => DeliveryRow[]) | undefined;
  /** SQLite only (see recordAttempts): marks one delivery IN_PROGRESS unless it has moved on. */
  private readonly markOne: Prepared<Pick<DeliveryRow, "id" | "updatedAt">, unknown> | undefined;
  private readonly advance: Prepared<
    Pick<DeliveryRow, "id" | "state" | "attempts" | "nextAttemptAt" | "lastError" | "lastStatus" | "updatedAt">,
    unknown
  >;

  constructor(private readonly repo: Repo<Tables>) {
    const { attempts, deliveries } = repo.tables;
    // Every attempt writes these two: built once.
    this.saveAttempt = repo.prepare(
      {
        deliveryId: attempts.deliveryId,
        attempt: attempts.attempt,
        at: attempts.at,
        status: attempts.status,
        latencyMs: attempts.latencyMs,
        responseBody: attempts.responseBody,
        error: attempts.error,
      },
      (db, v) => db.insert(attempts).values(v).onConflictDoNothing(),
    );
    this.insertOne = repo.driver.dialect === "sqlite" ? sqliteInsertAll(repo.driver.client) : undefined;
    this.markOne =
      repo.driver.dialect === "sqlite"
        ? repo.prepare({ id: deliveries.id, updatedAt: deliveries.updatedAt }, (db, { id, updatedAt }) =>
            db
              .update(deliveries)
              .set(slotsAsValues({ state: "IN_PROGRESS", updatedAt }))
              .where(and(eq(deliveries.id, id), inArray(deliveries.state, ["PENDING", "RETRYING"]))),
          )
        : undefined;
    this.advance = repo.prepare(
      {
        id: deliveries.id,
        state: deliveries.state,
        attempts: deliveries.attempts,
        nextAttemptAt: deliveries.nextAttemptAt,
        lastError: deliveries.lastError,
        lastStatus: deliveries.lastStatus,
        updatedAt: deliveries.updatedAt,
      },
      // Never over a delivered one: an attempt a node began before its lease lapsed may be written
      // after the node that took the target over delivered it (several nodes on PostgreSQL).
      (db, { id, ...set }) =>
        db
          .update(deliveries)
          .set(slotsAsValues(set))
          .where(and(eq(deliveries.id, id), ne(deliveries.state, "DELIVERED"))),
    );
  }

  /**
   * Inserts deliveries; one whose (target, event key) is already stored is skipped, so making the
   * deliveries of an event twice makes each once. Returns those inserted.
   */
  async insertDeliveries(rows: readonly DeliveryRow[]): Promise<DeliveryRow[]> {
    if (rows.length === 0) return [];
    const { deliveries } = this.repo.tables;
    const made = new Set<string>();
    if (this.insertOne !== undefined) {
      return this.insertOne(rows);
    } else {
      // PostgreSQL: a statement per row would be a round trip per row; one per slice instead
      // (14 parameters a row, far under the protocol's 65,535).
      for (let i = 0; i < rows.length; i += 500) {
        const ids = await this.repo.write((db) =>
          db
            .insert(deliveries)
            .values([...rows.slice(i, i + 500)])
            .onConflictDoNothing({ target: [deliveries.endpointId, deliveries.eventKey] })
            .returning({ id: deliveries.id }),
        );
        for (const { id } of ids) made.add(id);
      }
    }
    return rows.filter((r) => made.has(r.id));
  }

  /** A target's deliveries still to send, soonest due first (its actor's queue). */
  openDeliveries(endpointId: string, limit: number): Promise<DeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(and(eq(deliveries.endpointId, endpointId), inArray(deliveries.state, [...OPEN_STATES])))
        .orderBy(asc(deliveries.nextAttemptAt), asc(deliveries.id))
        .limit(limit),
    );
  }

  /**
   * Writes attempts and their deliveries' next states, all in one transaction (a delivery already
   * DELIVERED keeps that state: only its attempt is logged); with `inProgress`,
   * marks those deliveries IN_PROGRESS first, in the same transaction (the journal's batch is then
   * one commit, not two).
   *
   * Several nodes (PostgreSQL): a record carrying the {@link AttemptLease} its attempt began under
   * is written only if the node still holds that lease at that epoch. A node that paused or was cut
   * off past its lease, and whose target another node took over, writes nothing of its late
   * outcome: neither the delivery's state (the holder's own attempts decide it) nor the attempt's
   * row (it would take the attempt number of the holder's next attempt, whose row would then be
   * lost). The late node logs it instead (../delivery/target-actor.ts): what the operator needs is
   * that its receiver may have had that request once more, under the same delivery id.
   *
   * Each write checks the lease as of its statement's start, and locks no lease row: a lock held
   * across the transaction's round trips would be held by a node paused between two of them, and
   * the node taking its targets over would wait on it (until the idle-in-transaction timeout). So a
   * takeover committed while the statement runs is not seen by it: that is a write made while the
   * lease was expired but no other node's yet, which the new holder's load may or may not see (it
   * sends again, at least once, and its own outcome is written after). Returns the ids of the
   * deliveries whose record was not written for the lease, as the transaction's first statement saw
   * the leases.
   */
  async recordAttempts(
    records: readonly AttemptRecord[],
    inProgress?: { ids: readonly string[]; at: Date },
  ): Promise<Set<string>> {
    if (records.length === 0 && (inProgress === undefined || inProgress.ids.length === 0)) return new Set();
    const { deliveries, attempts } = this.repo.tables;
    const markOne = this.markOne;
    // SQLite is one node: no leases there.
    const leased = this.repo.driver.dialect === "postgres" ? records.filter((r) => r.lease !== undefined) : [];
    const leaseOf = (l: AttemptLease) =>
      and(
        eq(deliveryLeases.kind, l.kind),
        eq(deliveryLeases.resourceId, l.targetId),
        eq(deliveryLeases.nodeId, l.nodeId),
        eq(deliveryLeases.epoch, l.epoch),
      );
    const results = await this.repo.transaction((tx) => [
      ...(leased.length === 0
        ? []
        : [
            tx
              .select({
                kind: deliveryLeases.kind,
                targetId: deliveryLeases.resourceId,
                nodeId: deliveryLeases.nodeId,
                epoch: deliveryLeases.epoch,
              })
              .from(deliveryLeases)
              .where(or(...leased.map((r) => leaseOf(r.lease as AttemptLease)))),
          ]),
      ...(inProgress === undefined || inProgress.ids.length === 0
        ? []
        : markOne !== undefined
          ? // SQLite: a compiled statement bound per id costs less than building one for the batch.
            inProgress.ids.map((id) => markOne.on(tx, { id, updatedAt: inProgress.at }))
          : [
              tx
                .update(deliveries)
                .set({ state: "IN_PROGRESS", updatedAt: inProgress.at })
                .where(
                  and(inArray(deliveries.id, [...inProgress.ids]), inArray(deliveries.state, ["PENDING", "RETRYING"])),
                ),
            ]),
      ...records.flatMap((r) => {
        const attempt = {
          deliveryId: r.deliveryId,
          attempt: r.attempt,
          at: r.at,
          status: r.status,
          latencyMs: r.latencyMs,
          responseBody: r.responseBody === null ? null : r.responseBody.slice(0, ATTEMPT_BODY_LIMIT),
          error: r.error,
        };
        const next = {
          id: r.deliveryId,
          state: r.state,
          attempts: r.attempt,
          nextAttemptAt: r.nextAttemptAt,
          lastError: r.state === "DELIVERED" ? null : (r.error ?? `HTTP ${r.status}`),
          lastStatus: r.status,
          updatedAt: r.at,
        };
        if (r.lease === undefined || !leased.includes(r)) {
          return [this.saveAttempt.on(tx, attempt), this.advance.on(tx, next)];
        }
        // Each statement checks the lease itself, as of its own start.
        const stillHeld = exists(tx.select({ one: sql`1` }).from(deliveryLeases).where(leaseOf(r.lease)));
        const { id, ...set } = next;
        return [
          tx
            .insert(attempts)
            .select(
              sql`select ${attempt.deliveryId}, ${attempt.attempt}::integer, ${attempt.at.toISOString()}::timestamptz, ${attempt.status}::integer, ${attempt.latencyMs}::double precision, ${attempt.responseBody}, ${attempt.error} where ${stillHeld}`,
            )
            .onConflictDoNothing(),
          tx
            .update(deliveries)
            .set(set)
            .where(and(eq(deliveries.id, id), ne(deliveries.state, "DELIVERED"), stillHeld)),
        ];
      }),
    ]);
    const key = (l: AttemptLease) => `${l.kind}\n${l.targetId}\n${l.nodeId}\n${l.epoch}`;
    if (leased.length === 0) return new Set();
    const still = new Set((results[0] as AttemptLease[]).map(key));
    return new Set(leased.filter((r) => !still.has(key(r.lease as AttemptLease))).map((r) => r.deliveryId));
  }

  /** The target's deliveries (it must be the organisation's), newest first, each with its attempts. */
  async deliveries(orgId: string, endpointId: string, limit: number): Promise<DeliveryWithAttempts[]> {
    const { deliveries, attempts } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(and(eq(deliveries.endpointId, endpointId), eq(deliveries.orgId, orgId)))
        .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
        .limit(limit),
    );
    if (rows.length === 0) return [];
    const log = await this.repo.read((db) =>
      db
        .select()
        .from(attempts)
        .where(
          inArray(
            attempts.deliveryId,
            rows.map((r) => r.id),
          ),
        )
        .orderBy(asc(attempts.deliveryId), asc(attempts.attempt)),
    );
    const byDelivery = new Map<string, AttemptRow[]>();
    for (const a of log) {
      const list = byDelivery.get(a.deliveryId);
      if (list) list.push(a);
      else byDelivery.set(a.deliveryId, [a]);
    }
    return rows.map((r) => ({ ...r, attemptLog: byDelivery.get(r.id) ?? [] }));
  }

  /**
   * The organisation's dead letters to targets of `kind`, most recently dead-lettered first;
   * `without`: event types left out (the operator's, for anyone else: ../webhook/operator-events.ts).
   */
  deadLetters(orgId: string, kind: TargetKind, limit: number, without: readonly string[] = []): Promise<DeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(
          and(
            eq(deliveries.orgId, orgId),
            eq(deliveries.targetKind, kind),
            eq(deliveries.state, "DEAD_LETTERED"),
            without.length === 0 ? undefined : notInArray(deliveries.eventType, [...without]),
          ),
        )
        .orderBy(desc(deliveries.updatedAt), desc(deliveries.id))
        .limit(limit),
    );
  }

  /**
   * Puts a dead letter of the organisation to a target of `kind` back in its target's queue, due
   * now, with a fresh retry budget (its attempts so far stay counted and listed). Undefined when it
   * has no such dead letter (`without`: event types the caller may not retry).
   */
  async retryDeadLetter(
    orgId: string,
    kind: TargetKind,
    id: string,
    now: Date,
    without: readonly string[] = [],
  ): Promise<DeliveryRow | undefined> {
    const { deliveries } = this.repo.tables;
    const [row] = await this.requeue(
      and(
        eq(deliveries.id, id),
        eq(deliveries.orgId, orgId),
        eq(deliveries.targetKind, kind),
        eq(deliveries.state, "DEAD_LETTERED"),
        without.length === 0 ? undefined : notInArray(deliveries.eventType, [...without]),
      ),
      now,
    );
    return row;
  }

  /**
   * Puts the target's dead letters made since `since` back in its queue (and, with
   * `includeDelivered`, its delivered ones too: the receiver lost them), due now, each with a
   * fresh retry budget and its own delivery id. Returns those re-queued.
   */
  async recoverSince(
    orgId: string,
    endpointId: string,
    since: Date,
    includeDelivered: boolean,
    now: Date,
  ): Promise<DeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    const states: DeliveryState[] = includeDelivered ? ["DEAD_LETTERED", "DELIVERED"] : ["DEAD_LETTERED"];
    return this.requeue(
      and(
        eq(deliveries.endpointId, endpointId),
        eq(deliveries.orgId, orgId),
        inArray(deliveries.state, states),
        gte(deliveries.createdAt, since),
      ),
      now,
    );
  }

  /** Puts the deliveries `where` picks back in their targets' queues, due now, with a fresh retry budget. */
  private requeue(where: SQL | undefined, now: Date): Promise<DeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.write((db) =>
      db
        .update(deliveries)
        .set({ state: "PENDING", retryBase: deliveries.attempts, nextAttemptAt: now, updatedAt: now })
        .where(where)
        .returning(),
    );
  }

  /**
   * The organisation's deliveries to targets of `kind` counted by state, and the mean latency of
   * answered attempts; `without`: event types left out (as in {@link deadLetters}).
   */
  async summary(orgId: string, kind: TargetKind, without: readonly string[] = []): Promise<DeliverySummary> {
    const { deliveries, attempts } = this.repo.tables;
    const kept = without.length === 0 ? undefined : notInArray(deliveries.eventType, [...without]);
    const [byState, latency] = await this.repo.snapshot((tx) => [
      tx
        .select({ state: deliveries.state, n: count() })
        .from(deliveries)
        .where(and(eq(deliveries.orgId, orgId), eq(deliveries.targetKind, kind), kept))
        .groupBy(deliveries.state),
      tx
        .select({ mean: sql<number | string | null>`avg(${attempts.latencyMs})` })
        .from(attempts)
        .innerJoin(deliveries, eq(deliveries.id, attempts.deliveryId))
        .where(
          and(eq(deliveries.orgId, orgId), eq(deliveries.targetKind, kind), kept, sql`${attempts.status} is not null`),
        ),
    ]);
    const counts = Object.fromEntries(DELIVERY_STATES.map((s) => [s, 0])) as Record<DeliveryState, number>;
    let total = 0;
    for (const r of byState) {
      const n = Number(r.n);
      counts[r.state as DeliveryState] = n;
      total += n;
    }
    const mean = latency[0]?.mean;
    return { total, byState: counts, avgLatencyMs: mean === null || mean === undefined ? null : Number(mean) };
  }

  /** Removes a target's deliveries and their attempts (the target is being removed). */
  async removeTarget(targetId: string): Promise<void> {
    const { deliveries, attempts } = this.repo.tables;
    await this.repo.transaction((tx) => [
      tx
        .delete(attempts)
        .where(
          inArray(
            attempts.deliveryId,
            tx.select({ id: deliveries.id }).from(deliveries).where(eq(deliveries.endpointId, targetId)),
          ),
        ),
      tx.delete(deliveries).where(eq(deliveries.endpointId, targetId)),
    ]);
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The delivery ledger on the server's database.
 *
 * @example const deliveries = await openDeliveryStore(ctx.store);
 */
export async function openDeliveryStore(store: Pick<Store, "openRepo">, name = "deliveries"): Promise<DeliveryStore> {
  // A node paused or cut off inside a transaction (a journal batch) would otherwise keep its
  // deliveries' rows locked from the node that took its targets over (several nodes on PostgreSQL).
  return new DeliveryStore(
    await store.openRepo(deliveryTables, { name, idleInTransactionTimeoutMs: IDLE_IN_TRANSACTION_MS }),
  );
}

/**
 * SQLite's insert of deliveries (see DeliveryStore.insertDeliveries): one statement compiled once,
 * bound per row, all in one transaction (BEGIN IMMEDIATE, as the Repo's own), a row skipped when
 * its (target, event key) is stored, told by the change count. Hand-written because it is the
 * ledger's hottest statement: building a 500-row insert with drizzle (7,000 parameters) cost more
 * than SQLite took to store the rows, and a `RETURNING` clause (to learn which rows went in) made
 * each row's insert about 2.5 times as costly as counting its changes (bench/webhooks.ts).
 */
function sqliteInsertAll(client: Database): (rows: readonly DeliveryRow[]) => DeliveryRow[] {
  // Compiled at the first insert, not when the store opens (the server's start builds many stores).
  let insertAll: ((rows: readonly DeliveryRow[]) => DeliveryRow[]) | undefined;
  return (rows) => {
    insertAll ??= compileInsertAll(client);
    return insertAll(rows);
  };
}

function compileInsertAll(client: Database): (rows: readonly DeliveryRow[]) => DeliveryRow[] {
  const insert = client.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, target_kind, org_id, event_type, event_key, payload, state,
       attempts, retry_base, next_attempt_at, last_error, last_status, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
     ON CONFLICT (endpoint_id, event_key) DO NOTHING`,
  );
  const transaction = client.transaction((rows: readonly DeliveryRow[]) =>
    rows.filter(
      (r) =>
        insert.run(
          r.id,
          r.endpointId,
          r.targetKind,
          r.orgId,
          r.eventType,
          r.eventKey,
          r.payload,
          r.state,
          r.attempts,
          r.retryBase,
          r.nextAttemptAt.getTime(),
          r.lastError,
          r.lastStatus,
          r.createdAt.getTime(),
          r.updatedAt.getTime(),
        ).changes === 1,
    ),
  );
  return (rows) => transaction.immediate(rows) as DeliveryRow[];
}
