/**
 * Where integrations' deliveries live (`integration_deliveries`, ./integration-schema-*.ts): one
 * row per (integration, debate end), made by the webhooks' fan-out in the same step that makes
 * webhook deliveries (before the debate's outbox rows are removed), and advanced by the
 * integration's actor after each attempt. The same states as webhook deliveries (PENDING,
 * IN_PROGRESS, DELIVERED, RETRYING, DEAD_LETTERED), so a crash at any instant loses none: at the
 * next start every integration's actor loads what is still open.
 *
 * Reads a client can reach are scoped by the organisation; the actors and the fan-out read by id.
 *
 * @example
 * const deliveries = await openIntegrationDeliveryStore(ctx.store);
 * await deliveries.insert([newIntegrationDelivery(row, "debate_end", "d-1:9", outcome, new Date())]);
 */
import { and, asc, desc, eq, inArray } from "drizzle-orm";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import type { DebateOutcome } from "../../schemas/integrations.ts";
import * as pg from "./integration-schema-postgres.ts";
import * as lite from "./integration-schema-sqlite.ts";

export const integrationDeliveryTables = dialectTables({
  sqlite: { integrations: lite.integrations, deliveries: lite.integrationDeliveries },
  postgres: { integrations: pg.integrations, deliveries: pg.integrationDeliveries },
});

type Tables = typeof integrationDeliveryTables.postgres;
export type IntegrationDeliveryRow = Tables["deliveries"]["$inferSelect"];
type IntegrationRow = Tables["integrations"]["$inferSelect"];

/** The states of a delivery that still has to be sent. */
export const OPEN_INTEGRATION_STATES = ["PENDING", "IN_PROGRESS", "RETRYING"] as const;
export type IntegrationDeliveryState = (typeof OPEN_INTEGRATION_STATES)[number] | "DELIVERED" | "DEAD_LETTERED";

/** An attempt's outcome: the delivery's next state. */
export interface IntegrationAttempt {
  state: IntegrationDeliveryState;
  attempts: number;
  nextAttemptAt: Date;
  lastError: string | null;
  lastStatus: number | null;
  at: Date;
}

/**
 * A delivery to insert: new id (`idl-<uuidv7>`), PENDING, due now.
 *
 * @example newIntegrationDelivery(row, "debate_end", "d-1:9", outcome, new Date())
 */
export function newIntegrationDelivery(
  integration: Pick<IntegrationRow, "id" | "orgId">,
  eventType: string,
  eventKey: string,
  outcome: DebateOutcome,
  now: Date,
): IntegrationDeliveryRow {
  return {
    id: `idl-${Bun.randomUUIDv7()}`,
    integrationId: integration.id,
    orgId: integration.orgId,
    eventType,
    eventKey,
    payload: JSON.stringify(outcome),
    state: "PENDING",
    attempts: 0,
    nextAttemptAt: now,
    lastError: null,
    lastStatus: null,
    createdAt: now,
    updatedAt: now,
  };
}

export class IntegrationDeliveryStore {
  constructor(private readonly repo: Repo<Tables>) {}

  /** Server-internal, unscoped: an integration's actor reading its own row. */
  async integrationById(id: string): Promise<IntegrationRow | undefined> {
    const { integrations } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(integrations).where(eq(integrations.id, id)));
    return row;
  }

  /** Every integration's id (the feature starts an actor for each). */
  async integrationIds(): Promise<string[]> {
    const { integrations } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db.select({ id: integrations.id }).from(integrations).orderBy(integrations.id),
    );
    return rows.map((r) => r.id);
  }

  /** The enabled integrations of these organisations (the fan-out of a batch of events). */
  enabledOf(orgIds: readonly string[]): Promise<IntegrationRow[]> {
    if (orgIds.length === 0) return Promise.resolve([]);
    const { integrations } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(integrations)
        .where(and(inArray(integrations.orgId, [...orgIds]), eq(integrations.enabled, true))),
    );
  }

  /**
   * Inserts deliveries; one whose (integration, event key) is stored already is skipped, so making
   * the deliveries of an event twice (a crash between the fan-out's steps) makes each once.
   */
  async insert(rows: readonly IntegrationDeliveryRow[]): Promise<IntegrationDeliveryRow[]> {
    if (rows.length === 0) return [];
    const { deliveries } = this.repo.tables;
    const inserted: IntegrationDeliveryRow[] = [];
    // In slices: SQLite binds at most 32766 parameters a statement (13 a row).
    for (let i = 0; i < rows.length; i += 500) {
      const slice = rows.slice(i, i + 500);
      inserted.push(
        ...(await this.repo.write((db) =>
          db
            .insert(deliveries)
            .values([...slice])
            .onConflictDoNothing({ target: [deliveries.integrationId, deliveries.eventKey] })
            .returning(),
        )),
      );
    }
    return inserted;
  }

  /** The integration's deliveries still to send, soonest due first. */
  open(integrationId: string, limit: number): Promise<IntegrationDeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(
          and(eq(deliveries.integrationId, integrationId), inArray(deliveries.state, [...OPEN_INTEGRATION_STATES])),
        )
        .orderBy(asc(deliveries.nextAttemptAt), asc(deliveries.id))
        .limit(limit),
    );
  }

  /** Marks a delivery IN_PROGRESS (an attempt is being made). */
  async markInProgress(id: string, now: Date): Promise<void> {
    const { deliveries } = this.repo.tables;
    await this.repo.write((db) =>
      db.update(deliveries).set({ state: "IN_PROGRESS", updatedAt: now }).where(eq(deliveries.id, id)),
    );
  }

  /** Writes an attempt's outcome. */
  async record(id: string, a: IntegrationAttempt): Promise<void> {
    const { deliveries } = this.repo.tables;
    await this.repo.write((db) =>
      db
        .update(deliveries)
        .set({
          state: a.state,
          attempts: a.attempts,
          nextAttemptAt: a.nextAttemptAt,
          lastError: a.lastError,
          lastStatus: a.lastStatus,
          updatedAt: a.at,
        })
        .where(eq(deliveries.id, id)),
    );
  }

  /** Disables an integration, saying why (its service answered 410 Gone); unscoped: the actor's. */
  async disable(id: string, reason: string, now: Date): Promise<void> {
    const { integrations } = this.repo.tables;
    await this.repo.write((db) =>
      db
        .update(integrations)
        .set({ enabled: false, disabledReason: reason, updatedAt: now })
        .where(eq(integrations.id, id)),
    );
  }

  /** The organisation's integration's deliveries, newest first. */
  list(orgId: string, integrationId: string, limit: number): Promise<IntegrationDeliveryRow[]> {
    const { deliveries } = this.repo.tables;
    return this.repo.read((db) =>
      db
        .select()
        .from(deliveries)
        .where(and(eq(deliveries.integrationId, integrationId), eq(deliveries.orgId, orgId)))
        .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
        .limit(limit),
    );
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The delivery store on the server's database.
 *
 * @example const deliveries = await openIntegrationDeliveryStore(ctx.store);
 */
export async function openIntegrationDeliveryStore(store: Pick<Store, "openRepo">): Promise<IntegrationDeliveryStore> {
  return new IntegrationDeliveryStore(
    await store.openRepo(integrationDeliveryTables, { name: "integration-deliveries" }),
  );
}
