/**
 * Where organisations' integrations live: one row per integration in `integrations`, scoped to its
 * organisation in every query; its secrets (a chat webhook URL, which is a credential; an OAuth2
 * client secret and tokens) sealed as one JSON field with the configured encryption key
 * (runtime/security/field-sealer.ts: an `_encrypted` envelope bound to the row's id) and opened
 * only by {@link IntegrationStore.secretsOf}, when a post needs them.
 *
 * {@link integrationsEncryptedStore} is the table for `aragora keys verify` and
 * `aragora encrypt-existing` (app/encrypted-stores.ts lists it).
 *
 * @example
 * const store = await openIntegrationStore(ctx.store, ctx.sealer);
 * const row = await store.save({ orgId: "org-1", kind: "slack", name: "alerts", enabled: true,
 *   settings: {}, secrets: { webhook_url: "https://hooks.slack.com/services/..." } }, "u-1", new Date());
 * store.secretsOf(row).webhook_url;
 */
import { randomBytes } from "node:crypto";
import { and, asc, count, eq, inArray } from "drizzle-orm";
import type { EncryptedStore } from "../../runtime/security/encrypted-store.ts";
import type { FieldRef } from "../../runtime/security/field-cipher.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import { dialectTables, type Repo } from "../../runtime/store/repo.ts";
import { sealedColumnStore } from "../../runtime/store/sealed-column-store.ts";
import type { Store } from "../../runtime/store/store.ts";
import type { IntegrationKind } from "../../schemas/integrations.ts";
import * as pg from "./integration-schema-postgres.ts";
import * as lite from "./integration-schema-sqlite.ts";

export const integrationTables = dialectTables({
  sqlite: { integrations: lite.integrations },
  postgres: { integrations: pg.integrations },
});

type Tables = typeof integrationTables.postgres;
/** A stored integration: `credentials` as stored (sealed, or plaintext without an encryption key). */
export type IntegrationRow = Tables["integrations"]["$inferSelect"];

/** The store's name: the encryption metrics' `store` label, `encrypt-existing --store integrations`. */
export const INTEGRATION_STORE = "integrations";
const FIELD = "credentials";

const refOf = (id: string): FieldRef => ({ table: INTEGRATION_STORE, id, field: FIELD });

/** What {@link IntegrationStore.save} writes: a new integration without `id`, a replacement with it. */
export interface IntegrationInput {
  readonly orgId: string;
  readonly id?: string;
  readonly kind: IntegrationKind;
  readonly name: string;
  readonly enabled: boolean;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly secrets: Readonly<Record<string, unknown>>;
}

/** The operations the instrumented store wraps (./instrumented-integration-store.ts). */
export interface IntegrationBackend {
  get(orgId: string, id: string): Promise<IntegrationRow | undefined>;
  list(orgId: string): Promise<IntegrationRow[]>;
  save(input: IntegrationInput, by: string, now: Date): Promise<IntegrationRow | undefined>;
  delete(orgId: string, id: string): Promise<boolean>;
  refreshToken(orgId: string, id: string, secrets: Readonly<Record<string, unknown>>, now: Date): Promise<boolean>;
  countEnabled(): Promise<number>;
}

/** A new integration's id: `int_` and 16 random bytes, base64url. */
export const newIntegrationId = () => `int_${randomBytes(16).toString("base64url")}`;

export class IntegrationStore implements IntegrationBackend {
  constructor(
    private readonly repo: Repo<Tables>,
    private readonly sealer: FieldSealer,
  ) {}

  /** The organisation's integration `id`; undefined when it has none by that id. */
  async get(orgId: string, id: string): Promise<IntegrationRow | undefined> {
    const { integrations } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db
        .select()
        .from(integrations)
        .where(and(eq(integrations.id, id), eq(integrations.orgId, orgId))),
    );
    return row;
  }

  /** The organisation's integrations, by name. */
  async list(orgId: string): Promise<IntegrationRow[]> {
    const { integrations } = this.repo.tables;
    return this.repo.read((db) =>
      db.select().from(integrations).where(eq(integrations.orgId, orgId)).orderBy(asc(integrations.name)),
    );
  }

  /**
   * Creates (no `input.id`) or replaces one of the organisation's integrations, its secrets sealed;
   * undefined when `input.id` names no integration of the organisation. A name taken by another of
   * its integrations is the database's unique constraint error.
   */
  async save(input: IntegrationInput, by: string, now: Date): Promise<IntegrationRow | undefined> {
    const { integrations } = this.repo.tables;
    const id = input.id ?? newIntegrationId();
    const credentials = this.sealer.seal(INTEGRATION_STORE, JSON.stringify(input.secrets), refOf(id));
    const values = {
      kind: input.kind,
      name: input.name,
      enabled: input.enabled,
      // Saved by a person: why the server disabled it no longer stands.
      disabledReason: null,
      settings: JSON.stringify(input.settings),
      credentials,
      updatedBy: by,
      updatedAt: now,
    };
    const rows =
      input.id === undefined
        ? await this.repo.write((db) =>
            db
              .insert(integrations)
              .values({ id, orgId: input.orgId, createdBy: by, createdAt: now, ...values })
              .returning(),
          )
        : await this.repo.write((db) =>
            db
              .update(integrations)
              .set(values)
              .where(and(eq(integrations.id, id), eq(integrations.orgId, input.orgId)))
              .returning(),
          );
    return rows[0];
  }

  /** Removes the organisation's integration `id`; false when it had none. */
  async delete(orgId: string, id: string): Promise<boolean> {
    const { integrations } = this.repo.tables;
    const rows = await this.repo.write((db) =>
      db
        .delete(integrations)
        .where(and(eq(integrations.id, id), eq(integrations.orgId, orgId)))
        .returning({ id: integrations.id }),
    );
    return rows.length > 0;
  }

  /** Stores refreshed secrets (an OAuth2 connector's new tokens); false when the integration is gone. */
  async refreshToken(
    orgId: string,
    id: string,
    secrets: Readonly<Record<string, unknown>>,
    now: Date,
  ): Promise<boolean> {
    const { integrations } = this.repo.tables;
    const credentials = this.sealer.seal(INTEGRATION_STORE, JSON.stringify(secrets), refOf(id));
    const rows = await this.repo.write((db) =>
      db
        .update(integrations)
        .set({ credentials, updatedAt: now })
        .where(and(eq(integrations.id, id), eq(integrations.orgId, orgId)))
        .returning({ id: integrations.id }),
    );
    return rows.length > 0;
  }

  /** Server-internal, unscoped: an integration's actor reading its own row. */
  async byId(id: string): Promise<IntegrationRow | undefined> {
    const { integrations } = this.repo.tables;
    const [row] = await this.repo.read((db) => db.select().from(integrations).where(eq(integrations.id, id)));
    return row;
  }

  /** Every integration's id (the feature starts an actor for each). */
  async ids(): Promise<string[]> {
    const { integrations } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db.select({ id: integrations.id }).from(integrations).orderBy(integrations.id),
    );
    return rows.map((r) => r.id);
  }

  /** When each of these integrations' rows last changed (epoch ms); one that does not exist is left out. */
  async updatedAtOf(ids: readonly string[]): Promise<Map<string, number>> {
    if (ids.length === 0) return new Map();
    const { integrations } = this.repo.tables;
    const rows = await this.repo.read((db) =>
      db
        .select({ id: integrations.id, updatedAt: integrations.updatedAt })
        .from(integrations)
        .where(inArray(integrations.id, [...ids])),
    );
    return new Map(rows.map((r) => [r.id, r.updatedAt.getTime()]));
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

  /** Disables an integration, saying why (its service answered 410 Gone); unscoped: its actor's. */
  async disable(id: string, reason: string, now: Date): Promise<void> {
    const { integrations } = this.repo.tables;
    await this.repo.write((db) =>
      db
        .update(integrations)
        .set({ enabled: false, disabledReason: reason, updatedAt: now })
        .where(eq(integrations.id, id)),
    );
  }

  /** Enabled integrations of every organisation. */
  async countEnabled(): Promise<number> {
    const { integrations } = this.repo.tables;
    const [row] = await this.repo.read((db) =>
      db.select({ n: count() }).from(integrations).where(eq(integrations.enabled, true)),
    );
    return Number(row?.n ?? 0);
  }

  /**
   * The secrets, opened from the row: throws KeyNotFoundError, TamperedFieldError (a sealed value
   * copied to another row) or EnvelopeFormatError, never garbage.
   */
  secretsOf(row: Pick<IntegrationRow, "id" | "credentials">): Record<string, unknown> {
    return JSON.parse(this.sealer.open(INTEGRATION_STORE, row.credentials, refOf(row.id))) as Record<string, unknown>;
  }

  close(): Promise<void> {
    return this.repo.close();
  }
}

/**
 * The integration store on the server's database (its table made by the migrations).
 *
 * @example const integrations = await openIntegrationStore(ctx.store, ctx.sealer);
 */
export async function openIntegrationStore(
  store: Pick<Store, "openRepo">,
  sealer: FieldSealer,
): Promise<IntegrationStore> {
  return new IntegrationStore(await store.openRepo(integrationTables, { name: INTEGRATION_STORE }), sealer);
}

/**
 * The integrations' sealed credentials as an {@link EncryptedStore}, for `aragora keys verify`
 * and `aragora encrypt-existing`; a replacement lands only while the row still holds the value
 * read (a token refreshed meanwhile stands).
 *
 * @example const sealed = await integrationsEncryptedStore(store); await sealed.scan(null, 500);
 */
export async function integrationsEncryptedStore(
  store: Pick<Store, "openRepo">,
): Promise<EncryptedStore & { close(): Promise<void> }> {
  const repo = await store.openRepo(integrationTables, { name: "integration-credentials", maxConnections: 1 });
  const { integrations } = repo.tables;
  return sealedColumnStore(repo, {
    name: INTEGRATION_STORE,
    description: "organisations' integration credentials (Slack, Discord, Teams webhook URLs, OAuth2 tokens)",
    table: integrations,
    id: integrations.id,
    column: integrations.credentials,
    columnKey: "credentials",
    refOf,
  });
}
