/**
 * Where a request that names an organisation acts: the organisation and its default workspace. The
 * operator token acts in the first organisation unless `X-Org-ID` names another; that lookup is on
 * the request path, so a known organisation is answered synchronously from memory (organisations
 * are not deleted, and their default workspace does not change), an unknown id is read from the
 * store (an organisation made on another node is found) and remembered as unknown for a second.
 *
 * @example
 * const scopeOf = organisationScopes(access);
 * const scope = await scopeOf("o-0190..."); // { orgId, workspaceId } or undefined
 */
import { LruMap } from "../runtime/security/lru-map.ts";
import type { AccessStore } from "./access-store.ts";

/** An organisation and the workspace requests act in by default. */
export interface OrganisationScope {
  readonly orgId: string;
  readonly workspaceId: string;
}

export interface OrganisationScopesOptions {
  /** Most organisations (and unknown ids) remembered; default 10,000 each. */
  maxEntries?: number;
  /** How long an unknown id is answered as unknown without a read; default 1000 ms. */
  unknownForMs?: number;
  /** Monotonic milliseconds; defaults to performance.now. */
  monotonic?: () => number;
}

/**
 * The lookup of organisation scopes on `store`. The same object is answered for an organisation
 * each time, so callers may cache by identity.
 *
 * @example const scope = organisationScopes(access)(orgId);
 */
export function organisationScopes(
  store: Pick<AccessStore, "defaultWorkspace">,
  options: OrganisationScopesOptions = {},
): (orgId: string) => OrganisationScope | undefined | Promise<OrganisationScope | undefined> {
  const maxEntries = options.maxEntries ?? 10_000;
  const unknownForMs = options.unknownForMs ?? 1000;
  const monotonic = options.monotonic ?? (() => performance.now());
  const known = new LruMap<OrganisationScope>();
  const unknown = new LruMap<number>();
  const bound = <V>(map: LruMap<V>) => {
    while (map.size > maxEntries) map.delete((map.oldest() as [string, V])[0]);
  };
  return (orgId) => {
    const hit = known.get(orgId);
    if (hit !== undefined) return hit;
    const missedAt = unknown.get(orgId);
    if (missedAt !== undefined && monotonic() - missedAt < unknownForMs) return undefined;
    return store.defaultWorkspace(orgId).then((workspaceId) => {
      if (workspaceId === undefined) {
        unknown.set(orgId, monotonic());
        bound(unknown);
        return undefined;
      }
      const scope = known.get(orgId) ?? Object.freeze({ orgId, workspaceId });
      known.set(orgId, scope);
      bound(known);
      unknown.delete(orgId);
      return scope;
    });
  };
}
