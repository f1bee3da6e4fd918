/**
 * Who is calling, from what a request carries, for the shell's authentication step
 * (runtime/http/principal.ts):
 *
 * - `Authorization: Bearer <access JWT>`, or the `aragora_access` cookie (then a request that
 *   changes state also needs `X-CSRF-Token`, cookies.ts);
 * - `Authorization: Bearer ara_live_...` or `X-API-Key: ara_live_...`: an API key. A service key
 *   may name the user it acts for (`X-User-ID`, `X-Org-ID`, `X-User-Roles`), within its own
 *   organisation and role; from any other caller those headers mean nothing;
 * - `?ticket=ara_wst_...` on a WebSocket upgrade: a single-use ticket (POST /api/auth/ws-ticket).
 *
 * Any other Authorization (the operator token, Basic) is not this authenticator's: it answers
 * undefined and leaves it to the shell.
 *
 * Each request must not pay a signature check or a database read. A verified token is kept
 * (token -> claims, until it expires), so a repeated token is a map lookup; what a token's claims
 * can no longer say (the account deleted, the membership removed, the session signed out) is
 * checked against a per-user state read at most once a second, and a key against its row read at
 * most once a second. Entries are read again in the background once half that age, so a caller
 * making steady requests is always answered synchronously, and a revoked key, a deleted account or
 * a signed-out session stops working within a second on every node. A key's last use is written
 * at most once a minute, and its SHA-256 (what the store knows it by) is worked out once.
 *
 * @example
 * const authenticator = createAccessAuthenticator(access, signer, { log });
 * const who = authenticator.authenticate(request, request.headers); // Principal | HttpError | undefined | Promise<...>
 */
import { HttpError, UnrecognisedCredential } from "../runtime/http/errors.ts";
import type { Principal } from "../runtime/http/principal.ts";
import type { Logger } from "../runtime/log.ts";
import type { AccessClaims, AccessTokenFailure, TokenSigner } from "../runtime/security/jwt.ts";
import { LruMap } from "../runtime/security/lru-map.ts";
import { ORG_ROLES, type OrgRole, type Role, roleRank } from "../runtime/security/rbac.ts";
import { hashSecretToken, isSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import { type AccessStore, type KeyRecord, parseScopes, type UserState } from "./access-store.ts";
import { ACCESS_COOKIE, CSRF_HEADER, csrfRefusal, readCookie } from "./cookies.ts";
import { passedSecondFactor } from "./sessions.ts";
import { parseTicketPrincipal, WS_TICKET_PREFIX } from "./ws-ticket.ts";

/** What the authenticator reads from the store. */
export type AuthenticatorStore = Pick<AccessStore, "userState" | "apiKeyByHash" | "touchApiKey" | "takeWsTicket">;

export interface AccessAuthenticatorOptions {
  log: Logger;
  /** How long a user's state or a key's row is trusted before it is read again (default 1000 ms). */
  freshnessMs?: number;
  /** How often a key's last_used_at may be written (default 60 s). */
  touchIntervalMs?: number;
  /** Most verified tokens, users and keys kept (each; default 10,000). */
  maxEntries?: number;
  /** Wall-clock time in epoch milliseconds (token expiry); defaults to Date.now. */
  clock?: () => number;
  /** Monotonic milliseconds (freshness); defaults to performance.now. */
  monotonic?: () => number;
}

/** The authenticator, and how the routes that change accounts make it forget at once on this node. */
export interface AccessAuthenticator {
  authenticate(
    request: Request,
    headers: Headers,
  ): Principal | HttpError | undefined | Promise<Principal | HttpError | undefined>;
  /** Read the user's state again on their next request (after a password change, a sign-out ...). */
  forgetUser(userId: string): void;
  /** Read the key's row again on its next use (after it was revoked). */
  forgetKey(keyHash: string): void;
}

type Outcome = Principal | HttpError;

interface TokenEntry {
  claims: AccessClaims;
  expiresAtMs: number;
  /** The principal last made from these claims, the state and the credential kind it was made from. */
  principal: Principal | HttpError | undefined;
  madeFrom: UserState | undefined;
  madeVia: Principal["via"] | undefined;
}

interface UserEntry {
  /** Undefined only while the first read is under way (loadedAt is then -Infinity: never fresh). */
  value: UserState | undefined;
  loadedAt: number;
  /** A read under way (the first one, or a refresh ahead of expiry). */
  loading: Promise<UserState> | undefined;
}

interface KeyEntry {
  /** Undefined for a key that does not exist (so unknown keys are not read again within the period). */
  value: KeyRecord | undefined;
  loadedAt: number;
  loading: Promise<KeyRecord | undefined> | undefined;
  /** The principal made from `value`, without service headers. */
  principal: Outcome | undefined;
  madeFrom: KeyRecord | undefined;
}

const BEARER = "Bearer ";
// A compact JWS: three base64url parts. Anything else after "Bearer " is someone else's credential.
const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
const CHALLENGE = 'Bearer realm="aragora", error="invalid_token"';

function invalidToken(message: string): HttpError {
  return new HttpError(401, "invalid_token", message, undefined, { "www-authenticate": CHALLENGE });
}

function invalidKey(message: string): HttpError {
  return new HttpError(401, "invalid_api_key", message, undefined, { "www-authenticate": CHALLENGE });
}

/** A token or key this server never issued: charged to the caller's address like a failed sign-in. */
function unrecognised(code: "invalid_token" | "invalid_api_key", message: string): HttpError {
  return new UnrecognisedCredential(code, message, { "www-authenticate": CHALLENGE });
}

/** Failures that mean the token was never one of ours (an expired one was, once). */
const FORGED: ReadonlySet<AccessTokenFailure> = new Set([
  "malformed",
  "bad_signature",
  "alg_not_allowed",
  "wrong_issuer",
  "wrong_audience",
  "wrong_type",
]);

/**
 * The authenticator of the access feature, on its store and its token signer.
 *
 * @example
 * const authenticator = createAccessAuthenticator(access, signer, { log });
 * createHttpApp({ ..., authenticator });
 */
export function createAccessAuthenticator(
  store: AuthenticatorStore,
  signer: Pick<TokenSigner, "verifyAccess" | "accessTtlSeconds">,
  options: AccessAuthenticatorOptions,
): AccessAuthenticator {
  const { log } = options;
  const freshnessMs = options.freshnessMs ?? 1000;
  const refreshAfterMs = freshnessMs / 2;
  const touchIntervalMs = options.touchIntervalMs ?? 60_000;
  const maxEntries = options.maxEntries ?? 10_000;
  const clock = options.clock ?? Date.now;
  const monotonic = options.monotonic ?? (() => performance.now());
  // A session revoked longer ago than a token lives (plus skew) can have no live token left.
  const revokedWithinMs = (signer.accessTtlSeconds + 60) * 1000;

  const tokens = new LruMap<TokenEntry>();
  // A presented key's SHA-256, worked out once per key: hashing it on every request cost about as
  // much as the rest of finding its caller.
  const keyHashes = new LruMap<string>();
  const users = new LruMap<UserEntry>();
  const keys = new LruMap<KeyEntry>();
  const touched = new LruMap<number>();
  // Bumped by forgetUser / forgetKey: a read that started before a forget may hold what was forgotten.
  const userGenerations = new LruMap<number>();
  const keyGenerations = new LruMap<number>();

  const bound = <V>(map: LruMap<V>) => {
    while (map.size > maxEntries) map.delete((map.oldest() as [string, V])[0]);
  };

  // --- per-user state, read at most once per freshness period ---

  const loadUser = (userId: string, entry: UserEntry | undefined): Promise<UserState> => {
    if (entry?.loading) return entry.loading;
    const startedAt = monotonic();
    const generation = userGenerations.get(userId);
    const loading = store.userState(userId, new Date(clock()), revokedWithinMs).then(
      (state): UserState | Promise<UserState> => {
        if (userGenerations.get(userId) !== generation) return loadUser(userId, undefined);
        // Freshness counts from when the read started: the state is at least that old.
        users.set(userId, { value: state, loadedAt: startedAt, loading: undefined });
        bound(users);
        return state;
      },
      (err: unknown) => {
        const current = users.get(userId);
        if (current) current.loading = undefined;
        throw err;
      },
    );
    if (entry) entry.loading = loading;
    else users.set(userId, { value: undefined, loadedAt: -Infinity, loading });
    return loading;
  };

  /** The user's state if fresh enough to answer now (refreshing it ahead when half-aged), else undefined. */
  const freshUser = (userId: string): { entry: UserEntry | undefined; state: UserState | undefined } => {
    const entry = users.get(userId);
    if (entry === undefined) return { entry, state: undefined };
    const age = monotonic() - entry.loadedAt;
    if (age >= freshnessMs || entry.value === undefined) return { entry, state: undefined };
    if (age >= refreshAfterMs && entry.loading === undefined) {
      loadUser(userId, entry).catch((err: unknown) =>
        log.warn({ err }, "reading an account's state failed; will retry"),
      );
    }
    return { entry, state: entry.value };
  };

  const userPrincipal = (claims: AccessClaims, state: UserState, via: Principal["via"]): Outcome => {
    const user = state.user;
    if (user === undefined || user.deletedAt !== null)
      return invalidToken("the account of this token no longer exists");
    if (claims.sid !== undefined && state.revokedSessions.has(claims.sid)) {
      return invalidToken("this token's session has ended (signed out, or the password changed)");
    }
    const membership = state.memberships.find((m) => m.orgId === claims.org);
    if (membership === undefined) return invalidToken("the account is no longer a member of this token's organisation");
    const roles: Role[] = user.isOperator ? [membership.role, "operator"] : [membership.role];
    return {
      kind: "user",
      userId: user.id,
      orgId: membership.orgId,
      workspaceId: membership.workspaceId,
      roles,
      ...(claims.sid === undefined ? {} : { sessionId: claims.sid }),
      ...(claims.act === undefined ? {} : { actor: { userId: claims.act.sub } }),
      mfa: passedSecondFactor(claims.amr),
      via,
    };
  };

  const fromClaims = (entry: TokenEntry, via: Principal["via"]): Outcome | Promise<Outcome> => {
    const { claims } = entry;
    const { entry: userEntry, state } = freshUser(claims.sub);
    const actorId = claims.act?.sub;
    if (actorId === undefined) {
      if (state !== undefined) return madeFrom(entry, state, via);
      return loadUser(claims.sub, userEntry).then((loaded) => madeFrom(entry, loaded, via));
    }
    // An impersonation token: the operator behind it is checked as often as the user it acts as.
    const actor = freshUser(actorId);
    if (state !== undefined && actor.state !== undefined) return impersonated(entry, state, actor.state, via);
    return Promise.all([state ?? loadUser(claims.sub, userEntry), actor.state ?? loadUser(actorId, actor.entry)]).then(
      ([loaded, actorState]) => impersonated(entry, loaded, actorState, via),
    );
  };

  /** The principal of an impersonation token while its operator still is one and its user is not. */
  const impersonated = (entry: TokenEntry, state: UserState, actorState: UserState, via: Principal["via"]): Outcome => {
    const actor = actorState.user;
    if (actor === undefined || actor.deletedAt !== null || !actor.isOperator) {
      return invalidToken("the operator who started this impersonation can no longer act as one");
    }
    if (state.user?.isOperator === true) return invalidToken("an operator cannot be impersonated");
    return madeFrom(entry, state, via);
  };

  /** The principal of a token entry and a user state, made once per state (states are replaced, not changed). */
  const madeFrom = (entry: TokenEntry, state: UserState, via: Principal["via"]): Outcome => {
    if (entry.madeFrom === state && entry.madeVia === via && entry.principal !== undefined) return entry.principal;
    const principal = userPrincipal(entry.claims, state, via);
    entry.principal = principal;
    entry.madeFrom = state;
    entry.madeVia = via;
    return principal;
  };

  const byAccessToken = (
    token: string,
    via: Principal["via"],
    cached: TokenEntry | undefined = tokens.get(token),
  ): Outcome | Promise<Outcome> => {
    if (cached !== undefined) {
      if (cached.expiresAtMs > clock()) return fromClaims(cached, via);
      tokens.delete(token);
      return invalidToken("access token expired");
    }
    return signer.verifyAccess(token).then((result) => {
      if (!result.ok) {
        const message = `access token ${result.reason.replaceAll("_", " ")}`;
        return FORGED.has(result.reason) ? unrecognised("invalid_token", message) : invalidToken(message);
      }
      const entry: TokenEntry = {
        claims: result.claims,
        expiresAtMs: result.claims.exp * 1000,
        principal: undefined,
        madeFrom: undefined,
        madeVia: undefined,
      };
      tokens.set(token, entry);
      bound(tokens);
      return fromClaims(entry, via);
    });
  };

  // --- API keys, read at most once per freshness period ---

  const keyPrincipal = (record: KeyRecord | undefined): Outcome => {
    if (record === undefined) return unrecognised("invalid_api_key", "unknown API key");
    const { key } = record;
    if (key.revokedAt !== null) return invalidKey("this API key was revoked");
    const scopes = parseScopes(key.scopes);
    return {
      kind: key.kind === "service" ? "service" : "api_key",
      userId: key.createdBy,
      orgId: key.orgId,
      workspaceId: record.workspaceId,
      roles: [key.role as OrgRole],
      keyId: key.id,
      keyHint: `${key.prefix}…${key.lastFour}`,
      ...(scopes.length > 0 ? { scopes } : {}),
      via: "api_key",
    };
  };

  const loadKey = (hash: string, entry: KeyEntry | undefined): Promise<KeyRecord | undefined> => {
    if (entry?.loading) return entry.loading;
    const startedAt = monotonic();
    const generation = keyGenerations.get(hash);
    const loading = store.apiKeyByHash(hash).then(
      (record): KeyRecord | undefined | Promise<KeyRecord | undefined> => {
        if (keyGenerations.get(hash) !== generation) return loadKey(hash, undefined);
        keys.set(hash, {
          value: record,
          loadedAt: startedAt,
          loading: undefined,
          principal: undefined,
          madeFrom: undefined,
        });
        bound(keys);
        return record;
      },
      (err: unknown) => {
        const current = keys.get(hash);
        if (current) current.loading = undefined;
        throw err;
      },
    );
    if (entry) entry.loading = loading;
    else keys.set(hash, { value: undefined, loadedAt: -Infinity, loading, principal: undefined, madeFrom: undefined });
    return loading;
  };

  /** Writes the key's last use, at most once per touch interval per key, never on the request's path. */
  const touch = (keyId: string) => {
    const now = clock();
    const last = touched.get(keyId);
    if (last !== undefined && now - last < touchIntervalMs) return;
    touched.set(keyId, now);
    bound(touched);
    store
      .touchApiKey(keyId, new Date(now))
      .catch((err: unknown) => log.warn({ err, key_id: keyId }, "recording an API key's last use failed"));
  };

  const withKey = (record: KeyRecord | undefined, entry: KeyEntry | undefined, headers: Headers): Outcome => {
    let principal: Outcome;
    if (entry !== undefined && entry.madeFrom === record && entry.principal !== undefined) principal = entry.principal;
    else {
      principal = keyPrincipal(record);
      if (entry !== undefined) {
        entry.principal = principal;
        entry.madeFrom = record;
      }
    }
    if (principal instanceof HttpError) return principal;
    touch(principal.keyId as string);
    return principal.kind === "service" ? actingFor(principal, headers) : principal;
  };

  const byApiKey = (token: string, headers: Headers): Outcome | Promise<Outcome> => {
    let hash = keyHashes.get(token);
    if (hash === undefined) {
      if (!isSecretToken(token, TOKEN_PREFIX.apiKey)) {
        return unrecognised("invalid_api_key", "not an Aragora API key (ara_live_...)");
      }
      hash = hashSecretToken(token);
      keyHashes.set(token, hash);
      bound(keyHashes);
    }
    const entry = keys.get(hash);
    if (entry !== undefined) {
      const age = monotonic() - entry.loadedAt;
      if (age < freshnessMs) {
        if (age >= refreshAfterMs && entry.loading === undefined) {
          loadKey(hash, entry).catch((err: unknown) => log.warn({ err }, "reading an API key failed; will retry"));
        }
        return withKey(entry.value, entry, headers);
      }
    }
    return loadKey(hash, entry).then((record) => withKey(record, keys.get(hash), headers));
  };

  // --- WebSocket tickets ---

  const byTicket = (request: Request): Promise<Outcome> | undefined => {
    const at = request.url.indexOf("ticket=");
    if (at === -1) return undefined;
    const ticket = new URL(request.url).searchParams.get("ticket");
    if (ticket === null) return undefined;
    if (!isSecretToken(ticket, WS_TICKET_PREFIX)) return Promise.resolve(invalidToken("not a WebSocket ticket"));
    return store.takeWsTicket(hashSecretToken(ticket), new Date(clock())).then((json) => {
      if (json === undefined) return invalidToken("the WebSocket ticket is unknown, used or expired");
      return parseTicketPrincipal(json);
    });
  };

  return {
    authenticate(request, headers) {
      const authorization = headers.get("authorization");
      if (authorization !== null) {
        if (!authorization.startsWith(BEARER)) return undefined;
        const credential = authorization.slice(BEARER.length).trim();
        if (credential.startsWith(TOKEN_PREFIX.apiKey)) return byApiKey(credential, headers);
        // A token verified before needs no second look at its form.
        const cached = tokens.get(credential);
        if (cached !== undefined || JWS.test(credential)) return byAccessToken(credential, "bearer", cached);
        return undefined;
      }
      const apiKey = headers.get("x-api-key");
      if (apiKey !== null) return byApiKey(apiKey.trim(), headers);
      const cookies = headers.get("cookie");
      const session = readCookie(cookies, ACCESS_COOKIE);
      if (session !== undefined) {
        const refused = csrfRefusal(request.method, headers.get(CSRF_HEADER), cookies);
        if (refused !== undefined) return refused;
        return byAccessToken(session, "cookie");
      }
      if (headers.get("upgrade")?.toLowerCase() === "websocket") return byTicket(request);
      return undefined;
    },
    forgetUser(userId) {
      users.delete(userId);
      userGenerations.set(userId, (userGenerations.get(userId) ?? 0) + 1);
      bound(userGenerations);
    },
    forgetKey(keyHash) {
      keys.delete(keyHash);
      keyGenerations.set(keyHash, (keyGenerations.get(keyHash) ?? 0) + 1);
      bound(keyGenerations);
    },
  };
}

/**
 * A service key's principal acting for the user its headers name: `X-User-ID` the user, `X-Org-ID`
 * (if sent) must be the key's organisation, `X-User-Roles` (comma-separated) each capped at the
 * key's role. Without X-User-ID the key acts as itself.
 */
function actingFor(service: Principal, headers: Headers): Outcome {
  const userId = headers.get("x-user-id");
  const orgId = headers.get("x-org-id");
  const rolesHeader = headers.get("x-user-roles");
  if (userId === null && orgId === null && rolesHeader === null) return service;
  if (orgId !== null && orgId !== service.orgId) {
    return new HttpError(403, "forbidden", "X-Org-ID must be the service key's own organisation", [
      { field: "headers.x-org-id", rule: "must be the organisation of the service key" },
    ]);
  }
  if (userId === null) return service;
  if (!USER_ID.test(userId)) {
    return new HttpError(400, "invalid_header", "X-User-ID must be a user id", [
      { field: "headers.x-user-id", rule: "must be a user id such as u-0190..." },
    ]);
  }
  const cap = service.roles[0] as OrgRole;
  let roles: Role[] = [cap];
  if (rolesHeader !== null) {
    roles = [];
    for (const raw of rolesHeader.split(",")) {
      const role = raw.trim();
      if (role === "") continue;
      if (!(ORG_ROLES as readonly string[]).includes(role)) {
        return new HttpError(400, "invalid_header", `X-User-Roles: unknown role ${JSON.stringify(role)}`, [
          { field: "headers.x-user-roles", rule: `roles must be among ${ORG_ROLES.join(", ")}` },
        ]);
      }
      const capped = roleRank(role as OrgRole) > roleRank(cap) ? cap : (role as OrgRole);
      if (!roles.includes(capped)) roles.push(capped);
    }
    if (roles.length === 0) roles = [cap];
  }
  return { ...service, userId, roles };
}
