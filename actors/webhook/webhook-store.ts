/**
 * Where the webhooks feature keeps its endpoints (./webhook-schema-*.ts; their deliveries and attempts
 * are the delivery engine's, ../delivery/delivery-store.ts),
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
 * await deliveries.insertDeliveries([newDelivery(endpoint, "debate_end", "d-1:9", body, new Date())]); // ../delivery/delivery-store.ts
 */
import { and, asc, eq, inArray, like, sql } from "drizzle-orm";
import type { EncryptedStore, FieldReplacement, StoredField } from "../../runtime/security/encrypted-store.ts";
import type { FieldRef } from "../../runtime/security/field-cipher.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import { dialectTables, type Repo, slotsAsValues } from "../../runtime/store/repo.ts";
import type { Store } from "../../runtime/store/store.ts";
import { type DeliveryRow, newTargetDelivery } from "../delivery/delivery-store.ts";
import { generateSigningSecret } from "./signatures.ts";
import * as pg from "./webhook-schema-postgres.ts";
import * as lite from "./webhook-schema-sqlite.ts";

export const webhookTables = dialectTables({
  sqlite: { endpoints: lite.webhookEndpoints, deliveries: lite.webhookDeliveries, attempts: lite.webhookAttempts },
  postgres: { endpoints: pg.webhookEndpoints, deliveries: pg.webhookDeliveries, attempts: pg.webhookAttempts },
});

type Tables = typeof webhookTables.postgres;
export type EndpointRow = Tables["endpoints"]["$inferSelect"];
export type { AttemptRecord, DeliveryRow, DeliveryState } from "../delivery/delivery-store.ts";

/** The store's name: the encryption metrics' `store` label and `encrypt-existing --store webhook_secrets`. */
export const WEBHOOK_SECRET_STORE = "webhook_secrets";
const TABLE = "webhook_endpoints";
type SecretField = "secret" | "previous_secret";

/** Where a secret's ciphertext is bound: the endpoint's row and the field. */
function refOf(id: string, field: SecretField): FieldRef {
  return { table: TABLE, id, field };
}

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
 * A delivery to a webhook endpoint to insert (./delivery-store.ts's {@link newTargetDelivery}).
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
  return newTargetDelivery("webhook", endpoint, eventType, eventKey, payloadOf, now);
}

export class WebhookStore {
  constructor(
    private readonly repo: Repo<Tables>,
    private readonly sealer: FieldSealer,
  ) {}

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

  /** When each of these endpoints' rows last changed (epoch ms); one that does not exist is left out. */
  async updatedAtOf(ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const { endpoints } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select({ id: endpoints.id, updatedAt: endpoints.updatedAt })
        .from(endpoints)
        .where(inArray(endpoints.id, [...ids])),
    );
    return new Map(rows.map((r) => [r.id, r.updatedAt.getTime()]));
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
