/**
 * Organisations' own provider keys as the agents use them: which providers an organisation has a
 * key for (POST /api/debates accepts a seat whose provider has no server key when the
 * organisation has its own), and the key itself when one of its debates' turns needs it.
 *
 * An organisation's rows are read once and kept for {@link ORG_KEY_TTL_MS}, so a debate's turns do
 * not each read the database; a key is opened (decrypted) only when a turn first needs it, and the
 * opened key is dropped with the rows. A change through this object (PUT or DELETE on this node)
 * forgets the organisation's entry at once; a change made on another node applies here within the
 * TTL. A load that was in flight when the entry was forgotten does not put the old rows back, and
 * when a reload fails (the store cannot be read) the rows read last are used until one succeeds.
 *
 * @example
 * const keys = new OrgProviderKeys(store);
 * (await keys.providers("org-1")).has("openai"); // true when the organisation set an OpenAI key
 * const own = await keys.key("org-1", "openai"); // { secret, fingerprint } or undefined
 */
import { createHash } from "node:crypto";
import type { ProviderKeyRow, ProviderKeyStore } from "./provider-key-store.ts";

/** How long an organisation's keys are used without reading them again (a change on another node applies within it). */
export const ORG_KEY_TTL_MS = 30_000;
/** Past this many cached organisations, expired entries are swept on the next load. */
const SWEEP_AT = 1024;

/** An organisation's key for one provider, opened. */
export interface OrgKey {
  readonly secret: string;
  /**
   * Names this key without revealing it (the first 16 hex characters of its SHA-256): clients and
   * circuit breakers are kept per key, so a replaced key gets a fresh client and a closed breaker.
   */
  readonly fingerprint: string;
}

/** What the agents ask of organisations' keys (the agent registry is given one). */
export interface OrgKeySource {
  /** The providers `orgId` has its own key for. */
  providers(orgId: string): Promise<ReadonlySet<string>>;
  /**
   * `orgId`'s own key for `provider`, opened; undefined when it has none. Rejects with
   * {@link OrgKeyUnreadable} when the stored key cannot be opened (a key id not configured, tampered).
   */
  key(orgId: string, provider: string): Promise<OrgKey | undefined>;
}

/** An organisation's stored key that cannot be opened; the message names why (a key id, never the key). */
export class OrgKeyUnreadable extends Error {
  override name = "OrgKeyUnreadable";
  constructor(
    readonly provider: string,
    cause: unknown,
  ) {
    super(`the organisation's ${provider} key cannot be decrypted: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}

interface Entry {
  loadedAt: number;
  rows: Map<string, ProviderKeyRow>;
  providers: ReadonlySet<string>;
  opened: Map<string, OrgKey>;
}

/**
 * The fingerprint of a key. @example fingerprintOf("sk-live-1234") // 16 hex characters
 */
export function fingerprintOf(secret: string): string {
  return createHash("sha256").update(secret).digest("hex").slice(0, 16);
}

export class OrgProviderKeys implements OrgKeySource {
  private readonly entries = new Map<string, Entry>();
  /** Bumped when an organisation's entry is forgotten: a load begun before must not be kept. */
  private readonly generations = new Map<string, number>();
  private readonly loading = new Map<string, Promise<Entry>>();
  private readonly ttlMs: number;
  private readonly now: () => number;

  constructor(
    private readonly store: Pick<ProviderKeyStore, "list" | "secretOf">,
    options: { ttlMs?: number; now?: () => number } = {},
  ) {
    this.ttlMs = options.ttlMs ?? ORG_KEY_TTL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** @example (await keys.providers(orgId)).has("anthropic") */
  async providers(orgId: string): Promise<ReadonlySet<string>> {
    return (await this.entryOf(orgId)).providers;
  }

  /** @example const own = await keys.key(orgId, "anthropic"); */
  async key(orgId: string, provider: string): Promise<OrgKey | undefined> {
    const entry = await this.entryOf(orgId);
    const opened = entry.opened.get(provider);
    if (opened !== undefined) return opened;
    const row = entry.rows.get(provider);
    if (row === undefined) return undefined;
    let secret: string;
    try {
      secret = this.store.secretOf(row);
    } catch (err) {
      throw new OrgKeyUnreadable(provider, err);
    }
    const key: OrgKey = { secret, fingerprint: fingerprintOf(secret) };
    entry.opened.set(provider, key);
    return key;
  }

  /**
   * Forget what is known of `orgId`'s keys: its next turn reads them again (after a PUT or DELETE).
   *
   * @example await store.put(...); keys.forget(orgId);
   */
  forget(orgId: string): void {
    this.entries.delete(orgId);
    this.loading.delete(orgId);
    this.generations.set(orgId, (this.generations.get(orgId) ?? 0) + 1);
  }

  private entryOf(orgId: string): Promise<Entry> {
    const entry = this.entries.get(orgId);
    if (entry !== undefined && this.now() - entry.loadedAt < this.ttlMs) return Promise.resolve(entry);
    const pending = this.loading.get(orgId);
    if (pending !== undefined) return pending;
    const generation = this.generations.get(orgId) ?? 0;
    const stale = entry;
    const load = (async () => {
      const loadedAt = this.now();
      let rows: ProviderKeyRow[];
      try {
        rows = await this.store.list(orgId);
      } catch (err) {
        // The store cannot be read just now: the keys read last are still the organisation's best
        // answer (its debates carry on as they were); with none, the turn fails naming the error.
        if (stale !== undefined) return stale;
        throw err;
      }
      const fresh: Entry = {
        loadedAt,
        rows: new Map(rows.map((r) => [r.provider, r])),
        providers: new Set(rows.map((r) => r.provider)),
        opened: new Map(),
      };
      if ((this.generations.get(orgId) ?? 0) === generation) {
        if (this.entries.size >= SWEEP_AT) this.sweep();
        this.entries.set(orgId, fresh);
      }
      return fresh;
    })();
    this.loading.set(orgId, load);
    const settle = () => {
      if (this.loading.get(orgId) === load) this.loading.delete(orgId);
    };
    load.then(settle, settle);
    return load;
  }

  private sweep(): void {
    const now = this.now();
    for (const [orgId, entry] of this.entries) if (now - entry.loadedAt >= this.ttlMs) this.entries.delete(orgId);
  }
}
