/**
 * Sign-ins between `begin` and the callback, in memory, keyed by `state`: each lives `ttlMs`
 * (10 minutes), is handed out once, and the store holds at most `maxEntries` (the oldest go first),
 * so a flood of started sign-ins costs bounded memory.
 *
 * `take` also wants the state the browser carried in its own cookie (set by the start route). A
 * callback URL alone proves nothing about who opens it: without the cookie, someone could start a
 * sign-in as themselves and send the callback link to a victim, who would land signed in to the
 * attacker's account.
 *
 * The store lives in one process: with several instances behind a balancer, the callback must reach
 * the instance that started the flow.
 *
 * @example
 * const pending = createPendingStore();
 * // start: remember the flow, and set cookie `oauth_state=<started.state>` (HttpOnly, SameSite=Lax, 10 min)
 * pending.put("google", started);
 * // callback:
 * const flow = pending.take("google", url.searchParams.get("state"), cookies.oauth_state);
 * if (!flow) fail("state_mismatch");
 */
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
  /** How many started sign-ins are kept at once (default 10,000). */
  maxEntries?: number;
  /** The clock, in ms (default `Date.now`). */
  now?: () => number;
}

export interface PendingStore {
  /** Remembers a started sign-in for `provider`. */
  put(provider: string, flow: PendingAuthorization): void;
  /**
   * Hands out the sign-in `state` names, once: only when it exists, has not expired, was started for
   * `provider`, and `browserState` (from the browser's cookie) is the same state. A lookup that
   * finds the entry uses it up, whatever the outcome.
   */
  take(
    provider: string,
    state: string | null | undefined,
    browserState: string | null | undefined,
  ): PendingAuthorization | undefined;
  /** How many sign-ins are held now (expired ones may still count until swept). */
  readonly size: number;
}

interface Entry {
  provider: string;
  flow: PendingAuthorization;
  expiresAt: number;
}

/**
 * Makes an empty store.
 *
 * @example
 * const store = createPendingStore({ ttlMs: 600_000, maxEntries: 10_000 });
 */
export function createPendingStore(options: PendingStoreOptions = {}): PendingStore {
  const ttlMs = options.ttlMs ?? 600_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  if (!(ttlMs > 0)) throw new TypeError("createPendingStore: ttlMs must be positive");
  if (!(Number.isInteger(maxEntries) && maxEntries > 0)) {
    throw new TypeError("createPendingStore: maxEntries must be a positive integer");
  }
  // A Map iterates in insertion order, which with one TTL for all is expiry order: the oldest
  // entries, expired or not, are always at the front.
  const entries = new Map<string, Entry>();

  function sweep(at: number): void {
    for (const [state, entry] of entries) {
      if (entry.expiresAt > at) break;
      entries.delete(state);
    }
  }

  return {
    put(provider, flow) {
      const at = now();
      sweep(at);
      entries.delete(flow.state);
      while (entries.size >= maxEntries) {
        const oldest = entries.keys().next();
        if (oldest.done) break;
        entries.delete(oldest.value);
      }
      // A copy of the four fields: `begin`'s result (with its URL) can be passed as it is.
      const { state, codeVerifier, nonce, returnTo } = flow;
      entries.set(state, { provider, flow: { state, codeVerifier, nonce, returnTo }, expiresAt: at + ttlMs });
    },

    take(provider, state, browserState) {
      if (typeof state !== "string" || state === "") return undefined;
      const entry = entries.get(state);
      if (!entry) return undefined;
      entries.delete(state);
      if (entry.expiresAt <= now()) return undefined;
      if (entry.provider !== provider) return undefined;
      if (typeof browserState !== "string" || !sameSecret(browserState, state)) return undefined;
      return entry.flow;
    },

    get size() {
      return entries.size;
    },
  };
}
