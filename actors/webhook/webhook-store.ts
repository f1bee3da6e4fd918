/**
 * Where the webhooks feature keeps its endpoints, deliveries and attempts (./webhook-schema-*.ts),
 * one class for both dialects on drizzle's builder. Every read and write a client can reach is
 * scoped by the organisation; the endpoint actors read their own endpoint and deliveries by id.
 *
 * An endpoint's signing secret is sealed with the configured encryption key before it is written
 * (bound to `webhook_endpoints`, the endpoint's id and the field `secret`), and so is the secret a
 * rotation replaced (field `previous_secret`), kept until its overlap window ends. Secrets are
 * opened only to sign ({@link WebhookStore.secretsOf}) and returned to a client once, when made.
 *
 * @example
 * const store = await openWebhookStore(ctx.store, ctx.sealer);
 * const { endpoint, secret } = await store.createEndpoint({ orgId: "o-1", url, eventTypes: [], description: "", enabled: true, by: "u-1", now: new Date() });
 * await store.insertDeliveries([newDelivery(endpoint, "debate_end", "d-1:9", body, new Date())]);
 */
import { and, asc, count, desc, eq, gte, inArray, like, notInArray, sql } from "drizzle-orm";
import type { EncryptedStore, FieldReplacement, StoredField } from "../../runtime/security/encrypted-store.ts";
import type { FieldRef } from "../../runtime/security/field-cipher.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import { dialectTables, type Prepared, type Repo, slotsAsValues } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import { generateSigningSecret } from "./signatures.ts";
import * as pg from "./webhook-schema-postgres.ts";
import * as lite from "./webhook-schema-sqlite.ts";

export const webhookTables = dialectTables({
  sqlite: { endpoints: lite.webhookEndpoints, deliveries: lite.webhookDeliveries, attempts: lite.webhookAttempts },
  postgres: { endpoints: pg.webhookEndpoints, deliveries: pg.webhookDeliveries, attempts: pg.webhookAttempts },
});

type Tables = typeof webhookTables.postgres;
export type EndpointRow = Tables["endpoints"]["$inferSelect"];
export type DeliveryRow = Tables["deliveries"]["$inferSelect"];
export type AttemptRow = Tables["attempts"]["$inferSelect"];

/** The runbook's delivery states. */
export const DELIVERY_STATES = ["PENDING", "IN_PROGRESS", "DELIVERED", "RETRYING", "DEAD_LETTERED"] as const;
export type DeliveryState = (typeof DELIVERY_STATES)[number];
/** The states of a delivery that still has to be sent. */
export const OPEN_STATES: readonly DeliveryState[] = ["PENDING", "IN_PROGRESS", "RETRYING"];

/** The store's name: the encryption metrics' `store` label and `encrypt-existing --store webhook_secrets`. */
export const WEBHOOK_SECRET_STORE = "webhook_secrets";
const TABLE = "webhook_endpoints";
type SecretField = "secret" | "previous_secret";

/** Where a secret's ciphertext is bound: the endpoint's row and the field. */
function refOf(id: string, field: SecretField): FieldRef {
  return { table: TABLE, id, field };
}

/** A response body is kept up to this many characters in an attempt's record. */
export const ATTEMPT_BODY_LIMIT = 1024;

export interface NewEndpoint {
  orgId: string;
  url: string;
  /** Empty: every event type. */
  eventTypes: readonly string[];
  description: string;
  enabled: boolean;
  by: string;
  now: Date;
}

export interface EndpointPatch {
  url?: string;
  eventTypes?: readonly string[];
  description?: string;
  /** Enabling clears the reason it was disabled for. */
  enabled?: boolean;
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
 * The event types an endpoint takes, from its stored JSON array (empty: all).
 *
 * @example eventTypesOf(row) // ["debate_end"]
 */
export function eventTypesOf(row: Pick<EndpointRow, "eventTypes">): string[] {
  return JSON.parse(row.eventTypes) as string[];
}

/**
 * Whether an endpoint takes events of `type`.
 *
 * @example takes(row, "debate_end") // true when it lists it or lists none
 */
export function takes(row: Pick<EndpointRow, "eventTypes">, type: string): boolean {
  const types = eventTypesOf(row);
  return types.length === 0 || types.includes(type);
}

/**
 * A delivery to insert: new id (`dlv-<uuidv7>`, time-ordered), PENDING, due now.
 *
 * @example newDelivery(endpoint, "debate_end", "d-1:9", (id) => body(id), new Date())
 */
export function newDelivery(
  endpoint: Pick<EndpointRow, "id" | "orgId">,
  eventType: string,
  eventKey: string,
  payloadOf: (deliveryId: string) => string,
  now: Date,
): DeliveryRow {
  const id = `dlv-${Bun.randomUUIDv7()}`;
  return {
    id,
    endpointId: endpoint.id,
    orgId: endpoint.orgId,
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

export class WebhookStore {
  private readonly saveAttempt: Prepared<AttemptRow, unknown>;
  /** SQLite only (see insertDeliveries): one delivery, skipped when its (endpoint, event) is stored. */
  private readonly insertOne: Prepared<DeliveryRow, { id: string }[]> | undefined;
  private readonly advance: Prepared<
    Pick<DeliveryRow, "id" | "state" | "attempts" | "nextAttemptAt" | "lastError" | "lastStatus" | "updatedAt">,
    unknown
  >;

  constructor(
    private readonly repo: Repo<Tables>,
    private readonly sealer: FieldSealer,
  ) {
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
    this.insertOne =
      repo.driver.dialect === "sqlite"
        ? repo.prepare(
            {
              id: deliveries.id,
              endpointId: deliveries.endpointId,
              orgId: deliveries.orgId,
              eventType: deliveries.eventType,
              eventKey: deliveries.eventKey,
              payload: deliveries.payload,
              state: deliveries.state,
              attempts: deliveries.attempts,
              retryBase: deliveries.retryBase,
              nextAttemptAt: deliveries.nextAttemptAt,
              lastError: deliveries.lastError,
              lastStatus: deliveries.lastStatus,
              createdAt: deliveries.createdAt,
              updatedAt: deliveries.updatedAt,
            },
            (db, v) =>
              db
                .insert(deliveries)
                .values(v)
                .onConflictDoNothing({ target: [deliveries.endpointId, deliveries.eventKey] })
                .returning({ id: deliveries.id }),
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
      (db, { id, ...set }) => db.update(deliveries).set(slotsAsValues(set)).where(eq(deliveries.id, id)),
    );
  }

  /** Makes an endpoint with a new signing secret; the secret is returned here and never again. */
  async createEndpoint(e: NewEndpoint): Promise<{ endpoint: EndpointRow; secret: string }> {
    const { endpoints } = this.repo.tables;
    const id = `wh-${Bun.randomUUIDv7()}`;
    const secret = generateSigningSecret();
    const row: EndpointRow = {
      id,
      orgId: e.orgId,
      url: e.url,
      eventTypes: JSON.stringify(e.eventTypes),
      description: e.description,
      enabled: e.enabled,
      disabledReason: null,
      secret: this.sealer.seal(WEBHOOK_SECRET_STORE, secret, refOf(id, "secret")),
      previousSecret: null,
      previousSecretExpiresAt: null,
      createdBy: e.by,
      createdAt: e.now,
      updatedAt: e.now,
    };
    await this.repo.write((db) => db.insert(endpoints).values(row));
    return { endpoint: row, secret };
  }

  /** The organisation's endpoints, oldest first. */
  listEndpoints(orgId: string): Promise<EndpointRow[]> {
    const { endpoints } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(endpoints)
        .where(eq(endpoints.orgId, orgId))
        .orderBy(asc(endpoints.createdAt), asc(endpoints.id)),
    );
  }

  /** The endpoint if it is the organisation's (another's answers undefined, as a missing one). */
  async endpoint(orgId: string, id: string): Promise<EndpointRow | undefined> {
    const { endpoints } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select()
        .from(endpoints)
        .where(and(eq(endpoints.id, id), eq(endpoints.orgId, orgId))),
    );
    return row;
  }

  /** Server-internal, unscoped: the endpoint actor reading its own endpoint. */
  async endpointById(id: string): Promise<EndpointRow | undefined> {
    const { endpoints } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(endpoints).where(eq(endpoints.id, id)));
    return row;
  }

  /** Every endpoint's id (the feature starts an actor for each). */
  async endpointIds(): Promise<string[]> {
    const { endpoints } = this.repo.tables;
    const rows = await this.repo.read((db) => db.select({ id: endpoints.id }).from(endpoints).orderBy(endpoints.id));
    return rows.map((r) => r.id);
  }

  /** The enabled endpoints of these organisations (the fan-out of a batch of events). */
  enabledEndpointsOf(orgIds: readonly string[]): Promise<EndpointRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    const { endpoints } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(endpoints)
        .where(and(inArray(endpoints.orgId, [...orgIds]), eq(endpoints.enabled, true))),
    );
  }

  /**
   * Server-internal, across organisations: the enabled endpoints that list an ops run event by
   * name (the fan-out of the operator's events; only the operator can list one,
   * ./operator-events.ts). The types are JSON strings in `event_types`: the LIKE narrows the read,
   * the caller checks each type exactly.
   */
  enabledEndpointsListingOpsEvents(): Promise<EndpointRow[]> {
    const { endpoints } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(endpoints)
        .where(and(eq(endpoints.enabled, true), like(endpoints.eventTypes, '%"ops_%'))),
    );
  }

  /** Changes an endpoint of the organisation; undefined when it has none with that id. */
  async updateEndpoint(orgId: string, id: string, patch: EndpointPatch, now: Date): Promise<EndpointRow | undefined> {
    const { endpoints } = this.repo.tables;
    const set: Partial<EndpointRow> = { updatedAt: now };
    if (patch.url !== undefined) set.url = patch.url;
    if (patch.eventTypes !== undefined) set.eventTypes = JSON.stringify(patch.eventTypes);
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.enabled !== undefined) {
      set.enabled = patch.enabled;
      if (patch.enabled) set.disabledReason = null;
    }
    const [row] = await this.repo.write((db) =>
      db
        .update(endpoints)
        .set(set)
        .where(and(eq(endpoints.id, id), eq(endpoints.orgId, orgId)))
        .returning(),
    );
    return row;
  }

  /** Removes an endpoint of the organisation with its deliveries and attempts; the removed row, or undefined. */
  async deleteEndpoint(orgId: string, id: string): Promise<EndpointRow | undefined> {
    const { endpoints, deliveries, attempts } = this.repo.tables;
    const ofEndpoint = this.repo.tables.deliveries;
    // Children first: SQLite enforces the foreign keys only when told to.
    const [, , removed] = await this.repo.transaction((tx) => [
      tx
        .delete(attempts)
        .where(
          inArray(
            attempts.deliveryId,
            tx.select({ id: ofEndpoint.id }).from(ofEndpoint).where(eq(ofEndpoint.endpointId, id)),
          ),
        ),
      tx.delete(deliveries).where(and(eq(deliveries.endpointId, id), eq(deliveries.orgId, orgId))),
      tx
        .delete(endpoints)
        .where(and(eq(endpoints.id, id), eq(endpoints.orgId, orgId)))
        .returning(),
    ]);
    return removed[0];
  }

  /** Disables an endpoint, saying why (a 410 from its receiver); unscoped: the endpoint actor's. */
  async disableEndpoint(id: string, reason: string, now: Date): Promise<EndpointRow | undefined> {
    const { endpoints } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .update(endpoints)
        .set({ enabled: false, disabledReason: reason, updatedAt: now })
        .where(eq(endpoints.id, id))
        .returning(),
    );
    return row;
  }

  /**
   * Gives the endpoint a new signing secret; the one it had stays valid until `now + overlapMs`
   * (0: not at all). The new secret is returned here and never again; undefined when the
   * organisation has no such endpoint.
   */
  async rotateSecret(
    orgId: string,
    id: string,
    overlapMs: number,
    now: Date,
  ): Promise<{ endpoint: EndpointRow; secret: string } | undefined> {
    const { endpoints } = this.repo.tables;
    const before = await this.endpoint(orgId, id);
    if (before === undefined) return undefined;
    const old = this.sealer.open(WEBHOOK_SECRET_STORE, before.secret, refOf(id, "secret"));
    const secret = generateSigningSecret();
    const sealed = this.sealer.seal(WEBHOOK_SECRET_STORE, secret, refOf(id, "secret"));
    const previous = overlapMs > 0 ? this.sealer.seal(WEBHOOK_SECRET_STORE, old, refOf(id, "previous_secret")) : null;
    const expires = overlapMs > 0 ? new Date(now.getTime() + overlapMs) : null;
    // Compare-and-set on the secret read: two rotations at once leave one of them standing, whole.
    const [row] = await this.repo.write((db) =>
      db
        .update(endpoints)
        .set({ secret: sealed, previousSecret: previous, previousSecretExpiresAt: expires, updatedAt: now })
        .where(and(eq(endpoints.id, id), eq(endpoints.orgId, orgId), eq(endpoints.secret, before.secret)))
        .returning(),
    );
    if (row === undefined) return this.rotateSecret(orgId, id, overlapMs, now);
    return { endpoint: row, secret };
  }

  /**
   * The secrets a delivery is signed with at `now`: the current one, then the previous one while
   * its overlap window lasts.
   *
   * @example const [current, previous] = store.secretsOf(row, new Date());
   */
  secretsOf(
    row: Pick<EndpointRow, "id" | "secret" | "previousSecret" | "previousSecretExpiresAt">,
    now: Date,
  ): string[] {
    const secrets = [this.sealer.open(WEBHOOK_SECRET_STORE, row.secret, refOf(row.id, "secret"))];
    if (row.previousSecret !== null && row.previousSecretExpiresAt !== null && row.previousSecretExpiresAt > now) {
      secrets.push(this.sealer.open(WEBHOOK_SECRET_STORE, row.previousSecret, refOf(row.id, "previous_secret")));
    }
    return secrets;
  }

  /**
   * Inserts deliveries; one whose (endpoint, event key) is already stored is skipped, so making the
   * deliveries of an event twice makes each once. Returns those inserted.
   */
  async insertDeliveries(rows: readonly DeliveryRow[]): Promise<DeliveryRow[]> {
    if (rows.length === 0) return [];
    const { deliveries } = this.repo.tables;
    const made = new Set<string>();
    if (this.insertOne !== undefined) {
      // SQLite: one statement compiled once, bound per row, all in one transaction. Building a
      // 500-row insert with drizzle (7,000 parameters) and reading every column back cost more
      // than SQLite took to store the rows.
      const insertOne = this.insertOne;
      const results = await this.repo.transaction((tx) => rows.map((r) => insertOne.on(tx, r)));
      for (const ids of results) for (const { id } of ids) made.add(id);
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

  /** An endpoint's deliveries still to send, soonest due first (the endpoint actor's queue). */
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
   * Writes attempts and their deliveries' next states, all in one transaction; with `inProgress`,
   * marks those deliveries IN_PROGRESS first, in the same transaction (the journal's batch is then
   * one commit, not two).
   */
  async recordAttempts(
    records: readonly AttemptRecord[],
    inProgress?: { ids: readonly string[]; at: Date },
  ): Promise<void> {
    if (records.length === 0 && (inProgress === undefined || inProgress.ids.length === 0)) return;
    const { deliveries } = this.repo.tables;
    await this.repo.transaction((tx) => [
      ...(inProgress === undefined || inProgress.ids.length === 0
        ? []
        : [
            tx
              .update(deliveries)
              .set({ state: "IN_PROGRESS", updatedAt: inProgress.at })
              .where(
                and(inArray(deliveries.id, [...inProgress.ids]), inArray(deliveries.state, ["PENDING", "RETRYING"])),
              ),
          ]),
      ...records.flatMap((r) => [
        this.saveAttempt.on(tx, {
          deliveryId: r.deliveryId,
          attempt: r.attempt,
          at: r.at,
          status: r.status,
          latencyMs: r.latencyMs,
          responseBody: r.responseBody === null ? null : r.responseBody.slice(0, ATTEMPT_BODY_LIMIT),
          error: r.error,
        }),
        this.advance.on(tx, {
          id: r.deliveryId,
          state: r.state,
          attempts: r.attempt,
          nextAttemptAt: r.nextAttemptAt,
          lastError: r.state === "DELIVERED" ? null : (r.error ?? `HTTP ${r.status}`),
          lastStatus: r.status,
          updatedAt: r.at,
        }),
      ]),
    ]);
  }

  /** The endpoint's deliveries (it must be the organisation's), newest first, each with its attempts. */
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

  /** One delivery of the organisation. */
  async delivery(orgId: string, id: string): Promise<DeliveryRow | undefined> {
    const { deliveries } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(and(eq(deliveries.id, id), eq(deliveries.orgId, orgId))),
    );
    return row;
  }

  /**
   * The organisation's dead letters, most recently dead-lettered first; `without`: event types
   * left out (the operator's, for anyone else: ./operator-events.ts).
   */
  deadLetters(orgId: string, limit: number, without: readonly string[] = []): Promise<DeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(
          and(
            eq(deliveries.orgId, orgId),
            eq(deliveries.state, "DEAD_LETTERED"),
            without.length === 0 ? undefined : notInArray(deliveries.eventType, [...without]),
          ),
        )
        .orderBy(desc(deliveries.updatedAt), desc(deliveries.id))
        .limit(limit),
    );
  }

  /**
   * Puts a dead letter of the organisation back in its endpoint's queue, due now, with a fresh
   * retry budget (its attempts so far stay counted and listed). Undefined when it has no dead
   * letter with that id.
   */
  async retryDeadLetter(orgId: string, id: string, now: Date): Promise<DeliveryRow | undefined> {
    const { deliveries } = this.repo.tables;
    const [row] = await this.repo.write((db) =>
      db
        .update(deliveries)
        .set({ state: "PENDING", retryBase: deliveries.attempts, nextAttemptAt: now, updatedAt: now })
        .where(and(eq(deliveries.id, id), eq(deliveries.orgId, orgId), eq(deliveries.state, "DEAD_LETTERED")))
        .returning(),
    );
    return row;
  }

  /**
   * Puts the endpoint's dead letters made since `since` back in its queue (and, with
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
    return this.repo.write((db) =>
      db
        .update(deliveries)
        .set({ state: "PENDING", retryBase: deliveries.attempts, nextAttemptAt: now, updatedAt: now })
        .where(
          and(
            eq(deliveries.endpointId, endpointId),
            eq(deliveries.orgId, orgId),
            inArray(deliveries.state, states),
            gte(deliveries.createdAt, since),
          ),
        )
        .returning(),
    );
  }

  /**
   * The organisation's deliveries counted by state, and the mean latency of answered attempts;
   * `without`: event types left out (the operator's, for anyone else: ./operator-events.ts).
   */
  async summary(orgId: string, without: readonly string[] = []): Promise<DeliverySummary> {
    const { deliveries, attempts } = this.repo.tables;
    const kept = without.length === 0 ? undefined : notInArray(deliveries.eventType, [...without]);
    const [byState, latency] = await this.repo.snapshot((tx) => [
      tx
        .select({ state: deliveries.state, n: count() })
        .from(deliveries)
        .where(and(eq(deliveries.orgId, orgId), kept))
        .groupBy(deliveries.state),
      tx
        .select({ mean: sql<number | string | null>`avg(${attempts.latencyMs})` })
        .from(attempts)
        .innerJoin(deliveries, eq(deliveries.id, attempts.deliveryId))
        .where(and(eq(deliveries.orgId, orgId), kept, sql`${attempts.status} is not null`)),
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

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The webhook store on the server's database.
 *
 * @example const webhooks = await openWebhookStore(ctx.store, ctx.sealer);
 */
export async function openWebhookStore(store: Pick<Store, "openRepo">, sealer: FieldSealer): Promise<WebhookStore> {
  return new WebhookStore(await store.openRepo(webhookTables, { name: "webhooks" }), sealer);
}

/**
 * Endpoints' signing secrets as an {@link EncryptedStore}, for `aragora keys verify` and
 * `aragora encrypt-existing`: each endpoint gives its `secret` and, while it has one, its
 * `previous_secret`, in id order; a replacement lands only while the field still holds the value
 * the migration read (a rotation meanwhile stands). Works on a read-only store for scans.
 *
 * @example const secrets = await webhookSecretsEncryptedStore(store); await secrets.scan(null, 500);
 */
export async function webhookSecretsEncryptedStore(
  store: Pick<Store, "openRepo">,
): Promise<EncryptedStore & { close(): Promise<void> }> {
  const repo = await store.openRepo(webhookTables, { name: "webhook-secrets", maxConnections: 1 });
  const { endpoints } = repo.tables;
  const swapSecret = repo.prepare({ id: endpoints.id, previous: endpoints.secret, next: endpoints.secret }, (db, v) =>
    db
      .update(endpoints)
      .set(slotsAsValues({ secret: v.next }))
      .where(and(eq(endpoints.id, v.id), eq(endpoints.secret, v.previous)))
      .returning({ id: endpoints.id }),
  );
  const swapPrevious = repo.prepare({ id: endpoints.id, previous: endpoints.secret, next: endpoints.secret }, (db, v) =>
    db
      .update(endpoints)
      .set(slotsAsValues({ previousSecret: v.next }))
      .where(and(eq(endpoints.id, v.id), eq(endpoints.previousSecret, v.previous)))
      .returning({ id: endpoints.id }),
  );
  return {
    name: WEBHOOK_SECRET_STORE,
    description: "webhook endpoints' signing secrets",
    async scan(after: string | null, limit: number): Promise<StoredField[]> {
      const rows = await repo.read((db) =>
        db
          .select({ id: endpoints.id, secret: endpoints.secret, previous: endpoints.previousSecret })
          .from(endpoints)
          .where(after === null ? undefined : sql`${endpoints.id} > ${after}`)
          .orderBy(asc(endpoints.id))
          .limit(limit),
      );
      return rows.flatMap((r) => [
        { id: r.id, ref: refOf(r.id, "secret"), stored: r.secret },
        ...(r.previous === null ? [] : [{ id: r.id, ref: refOf(r.id, "previous_secret"), stored: r.previous }]),
      ]);
    },
    async replace(replacements: readonly FieldReplacement[]): Promise<boolean[]> {
      for (const r of replacements) {
        if (r.ref.table !== TABLE || (r.ref.field !== "secret" && r.ref.field !== "previous_secret")) {
          throw new Error(`${r.ref.table}.${r.ref.field} is not a field of the ${WEBHOOK_SECRET_STORE} store`);
        }
      }
      if (replacements.length === 0) return [];
      const results = await repo.transaction((tx) =>
        replacements.map((r) =>
          (r.ref.field === "secret" ? swapSecret : swapPrevious).on(tx, {
            id: r.ref.id,
            previous: r.previous,
            next: r.next,
          }),
        ),
      );
      return results.map((rows) => (rows as unknown[]).length > 0);
    },
    close: () => repo.close(),
  };
}
