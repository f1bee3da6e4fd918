/**
 * An organisation's own provider keys, for its owners and admins (`keys.manage`): its debates call
 * a provider with the organisation's key when it set one, with the server's otherwise.
 *
 * - `GET /api/org/provider-keys`: the keys set (provider, last four, who set them when) and the
 *   providers a key may be set for; never a key, never its stored form.
 * - `PUT /api/org/provider-keys/:provider` {key}: sets or replaces the key (201 set, 200 replaced);
 *   the answer shows its last four only.
 * - `DELETE /api/org/provider-keys/:provider`: removes it; the server's key applies again.
 *
 * Everything is scoped to the caller's organisation: another organisation's keys are neither
 * listed nor touched. A change applies to this node's next turn at once (the cached keys are
 * forgotten), to other nodes' within ORG_KEY_TTL_MS. Every change is in the audit log, with the
 * provider and the last four, never the key.
 *
 * @example
 * curl -X PUT -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' \
 *   -d '{"key":"sk-ant-..."}' localhost:8080/api/org/provider-keys/anthropic
 */
import { Elysia } from "elysia";
import type { AuditRecorder } from "../../runtime/audit.ts";
import { auditedRequest } from "../../runtime/http/audit-request.ts";
import { HttpError } from "../../runtime/http/errors.ts";
import { accessControl, principalOf } from "../../runtime/http/permission.ts";
import { responses, validated } from "../../runtime/http/route-schemas.ts";
import type { Logger } from "../../runtime/log.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import {
  type ProviderKeyBody,
  ProviderKeyListResponse,
  providerKeyParams,
  RemovedProviderKeyResponse,
  SetProviderKeyBody,
  SetProviderKeyResponse,
} from "../../schemas/provider-keys.ts";
import type { ProviderKeyRow, ProviderKeyStore } from "./provider-key-store.ts";

export interface ProviderKeyRoutesDeps {
  store: Pick<ProviderKeyStore, "list" | "put" | "remove">;
  /** Told after each change, so this node's next turn reads the organisation's keys again. */
  forget(orgId: string): void;
  /** The providers a key may be set for (built-in ones that take a key, then the local servers). */
  providers: readonly string[];
  audit: AuditRecorder;
  log: Logger;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

const TAGS = ["organisation"];
/** Who set a key with the operator's token (which has no user). */
const OPERATOR = "operator";

function keyBody(row: ProviderKeyRow): ProviderKeyBody {
  return {
    provider: row.provider,
    last_four: row.lastFour,
    created_at: row.createdAt.toISOString(),
    created_by: row.createdBy,
    updated_at: row.updatedAt.toISOString(),
    updated_by: row.updatedBy,
  };
}

/**
 * The /api/org/provider-keys routes.
 *
 * @example app.use(providerKeyRoutes({ store, forget: (org) => keys.forget(org), providers, audit, log }));
 */
export function providerKeyRoutes(deps: ProviderKeyRoutesDeps) {
  const { store, forget, audit, log } = deps;
  const clock = deps.clock ?? Date.now;
  const providers = [...deps.providers];
  const Params = providerKeyParams(providers);
  return new Elysia({ name: "aragora-org-provider-keys", prefix: "/api/org/provider-keys" })
    .use(accessControl)
    .get(
      "",
      async ({ request, set }) => {
        const p = principalOf(request);
        set.headers["cache-control"] = "no-store";
        return { provider_keys: (await store.list(p.orgId)).map(keyBody), providers };
      },
      {
        permission: "keys.manage",
        detail: {
          summary: "The organisation's own provider keys: provider, last four characters, who set them when",
          tags: TAGS,
        },
        response: responses({ 200: ProviderKeyListResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    )
    .put(
      "/:provider",
      async ({ params, body, request, set, status }) => {
        const p = principalOf(request);
        const by = p.userId ?? OPERATOR;
        const { row, replaced } = await store.put(p.orgId, params.provider, body.key, by, new Date(clock()));
        forget(p.orgId);
        log.info(
          { org_id: p.orgId, provider: row.provider, last_four: row.lastFour, by, replaced },
          `provider key ${replaced ? "replaced" : "set"} org_id=${p.orgId} provider=${row.provider}`,
        );
        await audit.record({
          action: replaced ? "provider_key.replaced" : "provider_key.set",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "provider_key", id: row.provider },
          detail: { provider: row.provider, last_four: row.lastFour },
        });
        set.headers["cache-control"] = "no-store";
        const answer = { ...keyBody(row), replaced };
        return replaced ? status(200, answer) : status(201, answer);
      },
      {
        permission: "keys.manage",
        params: validated(Params, "params"),
        body: validated(SetProviderKeyBody, "body"),
        parse: "json",
        detail: {
          summary:
            "Set (or replace) the organisation's own key for a provider: its debates call the provider with it; it is never shown again",
          tags: TAGS,
        },
        response: responses({
          200: SetProviderKeyResponse,
          201: SetProviderKeyResponse,
          401: ErrorBody,
          403: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .delete(
      "/:provider",
      async ({ params, request, set }) => {
        const p = principalOf(request);
        const row = await store.remove(p.orgId, params.provider);
        if (row === undefined) {
          throw new HttpError(404, "not_found", `the organisation has no key of its own for ${params.provider}`);
        }
        forget(p.orgId);
        log.info(
          { org_id: p.orgId, provider: row.provider, by: p.userId ?? OPERATOR },
          `provider key removed org_id=${p.orgId} provider=${row.provider}`,
        );
        await audit.record({
          action: "provider_key.removed",
          outcome: "success",
          ...auditedRequest(request),
          target: { type: "provider_key", id: row.provider },
          detail: { provider: row.provider, last_four: row.lastFour },
        });
        set.headers["cache-control"] = "no-store";
        return { provider: row.provider, removed: true as const };
      },
      {
        permission: "keys.manage",
        params: validated(Params, "params"),
        detail: {
          summary: "Remove the organisation's own key for a provider: its debates use the server's key again",
          tags: TAGS,
        },
        response: responses({
          200: RemovedProviderKeyResponse,
          401: ErrorBody,
          403: ErrorBody,
          404: ErrorBody,
          422: ErrorBody,
        }),
      },
    );
}
