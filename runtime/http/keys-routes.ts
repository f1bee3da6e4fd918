/**
 * `GET /api/admin/keys`: the encryption keys' status, as `aragora keys status` prints it (the one
 * report of runtime/security/keys-report.ts): whether encryption is configured, the active key's
 * id, the configured ids, and every store's records per key id and in plaintext. Key ids only,
 * never key material. The platform's (`admin.read`): the operator's token, or a person granted
 * operator whose session passed MFA.
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" localhost:8080/api/admin/keys
 * # {"configured":true,"active_key_id":"k3f9a0c12b4de","key_ids":[...],"stores":[...],"ok":true,"problems":[]}
 */
import { Elysia } from "elysia";
import { ErrorBody } from "../../schemas/errors.ts";
import { KeysStatus } from "../../schemas/keys.ts";
import { accessControl } from "./permission.ts";
import { responses } from "./route-schemas.ts";

/**
 * The route, answering what `report` builds at each request (it counts the stores' records then).
 *
 * @example app.use(keysRoutes({ report: () => buildKeysReport(sealer.ring(), stores) }));
 */
export function keysRoutes(deps: { report: () => Promise<KeysStatus> }) {
  return new Elysia({ name: "aragora-keys", prefix: "/api/admin" })
    .use(accessControl)
    .get("/keys", () => deps.report(), {
      permission: "admin.read",
      detail: {
        summary:
          "The encryption keys: whether configured, the active key id, the configured ids, and every store's records per key id and in plaintext (no key material)",
        tags: ["admin"],
      },
      response: responses({ 200: KeysStatus, 401: ErrorBody, 403: ErrorBody }),
    });
}
