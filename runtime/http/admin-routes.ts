/**
 * Operator routes under /api/admin: the platform's, so only the operator's roles grant their
 * permissions (admin.read, admin.write, system.read). The operator signs in with
 * `Authorization: Bearer <ARAGORA_API_TOKEN>` (operator-auth.ts); without a configured token the
 * admin API is off (403), so an unconfigured server never exposes operator controls to anonymous callers.
 *
 * @example
 * curl -X PUT -H "Authorization: Bearer $ARAGORA_API_TOKEN" -H 'content-type: application/json' \
 *      -d '{"level":"DEBUG"}' http://localhost:8080/api/admin/log-level
 */
import { type } from "arktype";
import { Elysia } from "elysia";
import { ActorsResponse } from "../../schemas/actors.ts";
import { ErrorBody } from "../../schemas/errors.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActorSystem } from "../actor/index.ts";
import type { AuditRecorder } from "../audit.ts";
import type { LogLevel } from "../config.ts";
import type { Logger } from "../log.ts";
import { auditedRequest } from "./audit-request.ts";
import { accessControl } from "./permission.ts";
import { stateOf } from "./request-state.ts";
import { responses, validated } from "./route-schemas.ts";

const LogLevelBody = lazy(() => type({ level: "'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'", "+": "reject" }));
const ActorsQuery = lazy(() => type({ "limit?": "string.integer.parse |> 1 <= number.integer <= 1000" }));
const LogLevelResponse = lazy(() => type({ level: "'DEBUG' | 'INFO' | 'WARNING' | 'ERROR'" }));

const TO_PINO: Record<LogLevel, string> = { DEBUG: "debug", INFO: "info", WARNING: "warn", ERROR: "error" };
const FROM_PINO: Record<string, LogLevel> = { debug: "DEBUG", info: "INFO", warn: "WARNING", error: "ERROR" };

export function adminRoutes(deps: { log: Logger; system: ActorSystem; audit: AuditRecorder }) {
  const { log, system, audit } = deps;
  return new Elysia({ name: "aragora-admin", prefix: "/api/admin" })
    .use(accessControl)
    .get("/log-level", () => ({ level: FROM_PINO[log.level] ?? "INFO" }), {
      permission: "admin.read",
      detail: { summary: "Current log level", tags: ["admin"] },
      response: responses({ 200: LogLevelResponse, 401: ErrorBody, 403: ErrorBody }),
    })
    .get(
      "/actors",
      ({ query }) => ({
        tree: system.tree() ?? null,
        dead_letters: {
          total: system.deadLetters.count(),
          recent: system.deadLetters.recent(query.limit ?? 50).map((d) => ({
            at: new Date(d.at).toISOString(),
            sender: d.sender ?? null,
            target: d.target,
            message_type: d.messageType,
            reason: d.reason,
          })),
        },
      }),
      {
        query: validated(ActorsQuery, "query"),
        permission: "system.read",
        detail: {
          summary: "The actor tree (mailbox depth, restarts per actor) and the most recent dead letters",
          tags: ["admin"],
        },
        response: responses({ 200: ActorsResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    )
    .put(
      "/log-level",
      async ({ body, request }) => {
        const previous = FROM_PINO[log.level] ?? "INFO";
        log.level = TO_PINO[body.level] as string;
        log.warn({ request_id: stateOf(request)?.id, from: previous, to: body.level }, "log level changed");
        await audit.record({
          action: "admin.log_level_changed",
          outcome: "success",
          ...auditedRequest(request),
          // The platform's setting, not an organisation's.
          orgId: null,
          detail: { from: previous, to: body.level },
        });
        return { level: body.level };
      },
      {
        body: validated(LogLevelBody, "body"),
        // Named so OpenAPI lists application/json; the app's streaming size-limit parser runs first.
        parse: "json",
        permission: "admin.write",
        detail: { summary: "Change the log level without a restart", tags: ["admin"] },
        response: responses({ 200: LogLevelResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
      },
    );
}
