/**
 * The operator's routes over the encryption keys' source and the nodes' keys:
 *
 * - `POST /api/admin/keys/reload` (`admin.write`, audited as `keys.reloaded`): re-reads the key file
 *   (ARAGORA_ENCRYPTION_KEY_FILE), as SIGHUP does; a file that cannot be used is 422
 *   `key_file_invalid` naming `path:line` (the keys in use stay), keys that do not come from a file
 *   are 409 `keys_not_reloadable`.
 * - `GET /api/admin/nodes` (`system.read`): the live nodes with the key ids each reports in its
 *   heartbeat, the active one first, so a rotation can wait until every node uses the new key.
 *
 * Key ids and paths only; never key material.
 *
 * @example
 * kill -HUP $(pgrep -f "aragora serve")   # or:
 * curl -X POST -H "Authorization: Bearer $ARAGORA_API_TOKEN" http://localhost:8080/api/admin/keys/reload
 */
import { Elysia } from "elysia";
import { ErrorBody } from "../../schemas/errors.ts";
import { KeyReloadResponse, NodesResponse } from "../../schemas/key-source.ts";
import type { AuditRecorder } from "../audit.ts";
import type { KeyReloadResult, KeySource, KeySourceStatus } from "../security/key-source.ts";
import { liveNodeKeys, NODE_LIVE_WITHIN_MS } from "../store/node-keys.ts";
import type { NodeRepository } from "../store/store.ts";
import { auditedRequest } from "./audit-request.ts";
import { HttpError } from "./errors.ts";
import { accessControl } from "./permission.ts";
import { responses } from "./route-schemas.ts";

/**
 * The key source's status as the API spells it.
 *
 * @example keySourceView(keys.status()).active_key_id
 */
export function keySourceView(status: KeySourceStatus) {
  return {
    kind: status.kind,
    path: status.path,
    variable: status.variable,
    reloadable: status.reloadable,
    active_key_id: status.activeKeyId,
    key_ids: [...status.keyIds],
    loaded_at: status.loadedAt.toISOString(),
    last_reload: {
      at: status.lastReload.at.toISOString(),
      trigger: status.lastReload.trigger,
      ok: status.lastReload.ok,
      error: status.lastReload.error,
    },
  };
}

export interface KeySourceRoutesDeps {
  keys: KeySource;
  nodes: Pick<NodeRepository, "list">;
  audit: AuditRecorder;
}

/**
 * What the audit log records of a key reload (ids and counts, never a key), for the route and the
 * SIGHUP alike.
 *
 * @example await audit.record({ action: "keys.reloaded", ..., detail: { trigger: "sighup", ...reloadAuditDetail(result) } });
 */
export function reloadAuditDetail(result: KeyReloadResult): Record<string, string | number | null> {
  const { status } = result;
  return {
    source: status.kind,
    key_file: status.path,
    active_key_id: status.activeKeyId,
    key_count: status.keyIds.length,
    ...(result.ok
      ? { added: result.added.join(",") || null, removed: result.removed.join(",") || null }
      : { reason: result.error }),
  };
}

/**
 * The routes, on `keys` and the nodes' table.
 *
 * @example app.use(keySourceRoutes({ keys, nodes: store.nodes, audit }));
 */
export function keySourceRoutes({ keys, nodes, audit }: KeySourceRoutesDeps) {
  return new Elysia({ name: "aragora-key-source", prefix: "/api/admin" })
    .use(accessControl)
    .post(
      "/keys/reload",
      async ({ request }) => {
        const result = keys.reload("request");
        const status = result.status;
        await audit.record({
          action: "keys.reloaded",
          outcome: result.ok ? "success" : "failure",
          ...auditedRequest(request),
          // The platform's keys, not an organisation's.
          orgId: null,
          detail: reloadAuditDetail(result),
        });
        if (!result.ok) {
          if (result.reason === "not_reloadable") throw new HttpError(409, "keys_not_reloadable", result.error);
          throw new HttpError(
            422,
            "key_file_invalid",
            `the key file was not reloaded: ${result.error}; the keys in use stay (active key ${status.activeKeyId ?? "none"})`,
          );
        }
        return {
          reloaded: true as const,
          active_key_id: status.activeKeyId as string,
          active_changed: result.activeChanged,
          added_key_ids: [...result.added],
          removed_key_ids: [...result.removed],
          source: keySourceView(status),
        };
      },
      {
        permission: "admin.write",
        detail: {
          summary: "Re-read the encryption key file (ARAGORA_ENCRYPTION_KEY_FILE), as SIGHUP does",
          description:
            "The first key of the file encrypts from now on; every key in it decrypts. A file that cannot be used (malformed, unreadable, readable by other users) is 422 naming file:line, and the keys in use stay.",
          tags: ["admin"],
        },
        response: responses({
          200: KeyReloadResponse,
          401: ErrorBody,
          403: ErrorBody,
          409: ErrorBody,
          422: ErrorBody,
        }),
      },
    )
    .get(
      "/nodes",
      async () => {
        const live = await liveNodeKeys(nodes);
        return {
          live_within_s: Math.round(NODE_LIVE_WITHIN_MS / 1000),
          nodes: live.map((n) => ({
            node_id: n.nodeId,
            hostname: n.hostname,
            pid: n.pid,
            api_port: n.apiPort,
            version: n.version,
            started_at: n.startedAt.toISOString(),
            heartbeat_at: n.heartbeatAt.toISOString(),
            active_key_id: n.activeKeyId,
            encryption_key_ids: n.keyIds === null ? null : [...n.keyIds],
          })),
        };
      },
      {
        permission: "system.read",
        detail: {
          summary: "The live nodes and the encryption key ids each reports in its heartbeat (the active one first)",
          tags: ["admin"],
        },
        response: responses({ 200: NodesResponse, 401: ErrorBody, 403: ErrorBody }),
      },
    );
}
