/**
 * Sign-ins between `begin` and the callback, in the database (`oauth_pending`), keyed by the
 * SHA-256 of their `state`: the callback may reach any node behind a balancer. Each lives `ttlMs`
 * (ARAGORA_OAUTH_STATE_TTL_S), at most `maxEntries` are kept, and each is handed out once: `take` deletes the row it reads, in one
 * statement, so two callbacks racing with one state see one winner. The PKCE code verifier is sealed
 * with the encryption key; expired rows are swept as new sign-ins start.
 *
 * `take` also wants the state the browser carried in its own cookie (set by the start route). A
 * callback URL alone proves nothing about who opens it: without the cookie, someone could start a
 * sign-in as themselves and send the callback link to a victim, who would land signed in to the
 * attacker's account.
 *
 * @example
 * const pending = await openPendingStore(ctx.store, ctx.sealer);
 * // start: remember the flow, and set cookie `oauth_state=<started.state>` (HttpOnly, SameSite=Lax)
 * await pending.put("google", started);
 * // callback:
 * const flow = await pending.take("google", url.searchParams.get("state"), cookies.oauth_state);
 * if (!flow) fail("state_mismatch");
 */
import { createHash } from "node:crypto";
import { count, eq, lt, lte, sql } from "drizzle-orm";
import type { EncryptedStore } from "../../runtime/security/encrypted-store.ts";
import type { FieldSealer } from "../../runtime/security/field-sealer.ts";
import { dialectTables } from "../../runtime/store/repo.ts";
import { sealedColumnStore } from "../../runtime/store/sealed-column-store.ts";
import type { Store } from "../../runtime/store/store.ts";
import * as pg from "../schema-postgres.ts";
import * as lite from "../schema-sqlite.ts";
import { sameSecret } from "./same-secret.ts";

/** What a sign-in keeps between its start and its callback. */
export interface PendingAuthorization {
  state: string;
  codeVerifier: string;
  nonce: string;
  returnTo: string;
}

export interface PendingStoreOptions {
  /** How long a started sign-in may take (default 10 minutes). */
  ttlMs?: number;
  /** How many started sign-ins are kept at once (default 10,000): past it the oldest go. */
  maxEntries?: number;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

export interface PendingStore {
  /** Remembers a started sign-in for `provider`. */
  put(provider: string, flow: PendingAuthorization): Promise<void>;
  /**
   * Hands out the sign-in `state` names, once: only when it exists, has not expired, was started for
   * `provider`, and `browserState` (from the browser's cookie) is the same state. A lookup that
   * finds the entry uses it up, whatever the outcome.
   */
  take(
    provider: string,
    state: string | null | undefined,
    browserState: string | null | undefined,
  ): Promise<PendingAuthorization | undefined>;
  /** How many sign-ins are held now (expired ones may still count until swept). */
  size(): Promise<number>;
  close(): Promise<void>;
}

export const pendingTables = dialectTables({
  sqlite: { oauthPending: lite.oauthPending },
  postgres: { oauthPending: pg.oauthPending },
});

/** The name of the sealed code verifiers in the encryption metrics. */
const STORE = "oauth_pending";
const stateHashOf = (state: string) => createHash("sha256").update(state).digest("hex");
const verifierRef = (stateHash: string) => ({ table: STORE, id: stateHash, field: "code_verifier" });

/**
 * The sealed code verifiers as a store with encrypted fields, for `aragora keys verify`,
 * `aragora encrypt-existing` and the key rotation: a sign-in in progress (at most ten minutes old)
 * must not be left on a key that is about to be removed. A replacement lands only while the row
 * still holds what was read (a sign-in finished meanwhile is simply gone).
 *
 * @example const verifiers = await oauthPendingEncryptedStore(store); await verifiers.scan(null, 500);
 */
export async function oauthPendingEncryptedStore(
  store: Pick<Store, "openRepo">,
): Promise<EncryptedStore & { close(): Promise<void> }> {
  const repo = await store.openRepo(pendingTables, { name: "oauth-pending-secrets", maxConnections: 1 });
  const { oauthPending } = repo.tables;
  return sealedColumnStore(repo, {
    name: STORE,
    description: "PKCE verifiers of OAuth sign-ins in progress",
    table: oauthPending,
    id: oauthPending.stateHash,
    column: oauthPending.codeVerifier,
    columnKey: "codeVerifier",
    refOf: verifierRef,
  });
}

/**
 * The pending sign-ins on the server's database.
 *
 * @example const pending = await openPendingStore(ctx.store, ctx.sealer, { ttlMs: 600_000 });
 */
export async function openPendingStore(
  store: Pick<Store, "openRepo">,
  sealer: FieldSealer,
  options: PendingStoreOptions = {},
): Promise<PendingStore> {
  const ttlMs = options.ttlMs ?? 600_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  if (!(ttlMs > 0)) throw new TypeError("openPendingStore: ttlMs must be positive");
  if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
    throw new TypeError("openPendingStore: maxEntries must be a positive integer");
  }
  const repo = await store.openRepo(pendingTables, { name: "oauth-pending", maxConnections: 2 });
  const { oauthPending } = repo.tables;

  return {
    async put(provider, flow) {
      const at = now();
      const stateHash = stateHashOf(flow.state);
      await repo.transaction((tx) => [
        tx.delete(oauthPending).where(lte(oauthPending.expiresAt, new Date(at))),
        tx.insert(oauthPending).values({
          stateHash,
          provider,
          codeVerifier: sealer.seal(STORE, flow.codeVerifier, verifierRef(stateHash)),
          nonce: flow.nonce,
          returnTo: flow.returnTo,
          expiresAt: new Date(at + ttlMs),
        }),
        // A flood of started sign-ins (from many addresses: each is rate limited) costs bounded
        // space: past maxEntries, those that would expire first go.
        tx
          .delete(oauthPending)
          .where(
            lt(
              oauthPending.expiresAt,
              sql`(SELECT ${oauthPending.expiresAt} FROM ${oauthPending} ORDER BY ${oauthPending.expiresAt} DESC LIMIT 1 OFFSET ${maxEntries - 1})`,
            ),
          ),
      ]);
    },

    async take(provider, state, browserState) {
      if (typeof state !== "string" || state === "") return undefined;
      const stateHash = stateHashOf(state);
      const [row] = await repo.write((db) =>
        db.delete(oauthPending).where(eq(oauthPending.stateHash, stateHash)).returning(),
      );
      if (row === undefined) return undefined;
      if (row.expiresAt.getTime() <= now()) return undefined;
      if (row.provider !== provider) return undefined;
      if (typeof browserState !== "string" || !sameSecret(browserState, state)) return undefined;
      const codeVerifier = sealer.open(STORE, row.codeVerifier, verifierRef(stateHash));
      return { state, codeVerifier, nonce: row.nonce, returnTo: row.returnTo };
    },

    async size() {
      const [row] = await repo.read((db) => db.select({ n: count() }).from(oauthPending));
      return row?.n ?? 0;
    },

    close: () => repo.close(),
  };
}
