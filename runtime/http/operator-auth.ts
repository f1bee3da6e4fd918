/**
 * The platform operator's credentials, as an {@link Authenticator}:
 *
 * - `Authorization: Bearer <ARAGORA_API_TOKEN>`;
 * - `Authorization: Bearer <the handoff token>` (`<data dir>/ops.token`, ops/handoff.ts), so a
 *   process on this host that can read the data dir (`ops run`, a playbook's `debate.run` run in
 *   process) acts as the operator without knowing ARAGORA_API_TOKEN. It grants no more than that
 *   process holds already: the data dir has the databases, the receipt key and the token secrets.
 *
 * Both compare in constant time and give an operator {@link Principal} (role `operator`, which
 * grants every permission). The operator acts in the server's default organisation unless the
 * request names another in `X-Org-ID`.
 *
 * {@link adminApiOff} keeps the admin API off while ARAGORA_API_TOKEN is unset: placed after every
 * other authenticator, it answers requests to `/api/admin/*` that no one authenticated with 403
 * `admin_disabled`, so an unconfigured server never exposes operator controls.
 *
 * @example
 * const authenticator = firstOf([
 *   operatorAuthenticator(config, { handoffToken }),
 *   ...featureAuthenticators,
 *   adminApiOff(config),
 * ]);
 */
import { timingSafeEqual } from "node:crypto";
import type { Config } from "../config.ts";
import { HttpError } from "./errors.ts";
import type { Authenticator, Principal } from "./principal.ts";
import { pathOf } from "./public-routes.ts";

/**
 * The organisation (and workspace) every request acted in before organisations existed; the
 * operator's default until the access feature names the first organisation.
 */
export const LEGACY_SCOPE: OperatorScope = { orgId: "local", workspaceId: "local" };

/** Where an operator's request acts. */
export interface OperatorScope {
  orgId: string;
  workspaceId: string;
}

export interface OperatorAuthOptions {
  /** The handoff token of `ops run` (ops.token). */
  handoffToken?: string;
  /** The organisation an operator acts in without X-Org-ID (default {@link LEGACY_SCOPE}). */
  defaultScope?: () => OperatorScope;
  /**
   * The scope X-Org-ID names, or undefined when there is no such organisation (404). Default: any
   * well-formed id, in a workspace of the same id.
   */
  scopeOf?: (orgId: string) => OperatorScope | undefined | Promise<OperatorScope | undefined>;
}

/** The header an operator names another organisation with. */
export const ORG_HEADER = "x-org-id";
/** What an organisation id looks like (`o-<uuid>`, or the legacy `local`). */
const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Compares a presented bearer token with an expected one in constant time (for equal lengths;
 * the length of a configured token is not a secret worth a hash per request).
 *
 * @example bearerMatches(request.headers.get("authorization"), config.apiToken) // true or false
 */
export function bearerMatches(header: string | null, token: string | Buffer): boolean {
  if (header === null || !header.startsWith("Bearer ")) return false;
  const expected = typeof token === "string" ? Buffer.from(token) : token;
  // UTF-8 takes at least one byte per UTF-16 unit, so a longer credential cannot match: refused
  // without copying it. Every request with an access token or API key passes here first, and
  // those are longer than any operator token in practice.
  if (header.length - 7 > expected.length) return false;
  const presented = Buffer.from(header.slice(7));
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/**
 * The operator authenticator: a principal for the operator's tokens, undefined for anything else
 * (so the next authenticator may recognise it), a 400 for a malformed X-Org-ID and a 404 for an
 * organisation `scopeOf` does not know.
 *
 * @example operatorAuthenticator(config, { handoffToken }).authenticate(request, request.headers)
 */
export function operatorAuthenticator(
  config: Pick<Config, "apiToken">,
  options: OperatorAuthOptions = {},
): Authenticator {
  // Encoded once: every request presenting a bearer token is compared with them.
  const apiToken = config.apiToken === undefined ? undefined : Buffer.from(config.apiToken);
  const handoffToken = options.handoffToken === undefined ? undefined : Buffer.from(options.handoffToken);
  const defaultScope = options.defaultScope ?? (() => LEGACY_SCOPE);
  const scopeOf = options.scopeOf ?? ((orgId: string) => ({ orgId, workspaceId: orgId }));
  const principalIn = (scope: OperatorScope): Principal =>
    Object.freeze({
      kind: "operator",
      userId: null,
      orgId: scope.orgId,
      workspaceId: scope.workspaceId,
      roles: Object.freeze(["operator"] as const),
      via: "operator_token",
    });
  // The common request names no organisation: its principal is made once per default scope.
  let cached: { scope: OperatorScope; principal: Principal } | undefined;
  const principalFor = (headers: Headers): Principal | HttpError | Promise<Principal | HttpError> => {
    const named = headers.get(ORG_HEADER);
    if (named === null) {
      const scope = defaultScope();
      if (cached?.scope !== scope) cached = { scope, principal: principalIn(scope) };
      return cached.principal;
    }
    if (!ORG_ID.test(named)) {
      return new HttpError(400, "invalid_org", "X-Org-ID must be an organisation id (letters, digits, - and _)", [
        { field: "headers.x-org-id", rule: "must be an organisation id" },
      ]);
    }
    const found = (scope: OperatorScope | undefined) =>
      scope === undefined ? new HttpError(404, "not_found", `no organisation ${named}`) : principalIn(scope);
    // Known organisations answer at once; an id not seen yet is looked up in the store.
    const scope = scopeOf(named);
    return scope instanceof Promise ? scope.then(found) : found(scope);
  };
  return {
    authenticate(_request, headers) {
      const header = headers.get("authorization");
      if (header === null) return undefined;
      if (apiToken !== undefined && bearerMatches(header, apiToken)) return principalFor(headers);
      if (handoffToken !== undefined && bearerMatches(header, handoffToken)) return principalFor(headers);
      return undefined;
    },
  };
}

/**
 * The last word on `/api/admin/*` while ARAGORA_API_TOKEN is unset: 403 `admin_disabled` for a
 * request no other authenticator recognised (an operator signed in some other way still gets in).
 *
 * @example firstOf([..., adminApiOff(config)])
 */
export function adminApiOff(config: Pick<Config, "apiToken">): Authenticator {
  return {
    authenticate(request) {
      if (config.apiToken !== undefined || !pathOf(request.url).startsWith("/api/admin/")) return undefined;
      return new HttpError(403, "admin_disabled", "the admin API is off: set ARAGORA_API_TOKEN to enable it");
    },
  };
}
