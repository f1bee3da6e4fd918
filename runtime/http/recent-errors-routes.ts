/**
 * GET /api/system/errors?limit=20: this node's most recent server errors (recent-errors.ts), newest
 * first, with their request ids. The operator's (`system.read`): the errors are the whole server's,
 * every organisation's requests among them, and their messages describe the server's insides (a
 * store's state, a failing dependency), which no organisation's admin should read.
 *
 * @example
 * curl -H "Authorization: Bearer $ARAGORA_API_TOKEN" 'localhost:8080/api/system/errors?limit=20'
 * # {"errors":[{"at":"...","request_id":"...","method":"POST","route":"/api/debates","status":500,"error":"internal_error","message":"..."}],"total":1,"capacity":200}
 */
import { Elysia } from "elysia";
import { ErrorBody } from "../../schemas/errors.ts";
import { RecentErrorsQuery, RecentErrorsResponse } from "../../schemas/recent-errors.ts";
import { accessControl } from "./permission.ts";
import type { RecentErrors } from "./recent-errors.ts";
import { responses, validated } from "./route-schemas.ts";

const DEFAULT_LIMIT = 20;

export function recentErrorsRoutes(recent: RecentErrors) {
  return new Elysia({ name: "aragora-system-errors", prefix: "/api/system" }).use(accessControl).get(
    "/errors",
    ({ query }) => ({
      errors: recent.list(query.limit ?? DEFAULT_LIMIT),
      total: recent.total,
      capacity: recent.capacity,
    }),
    {
      permission: "system.read",
      query: validated(RecentErrorsQuery, "query"),
      detail: {
        summary: "This node's most recent server errors (5xx) with their request ids, newest first",
        tags: ["observability"],
      },
      response: responses({ 200: RecentErrorsResponse, 401: ErrorBody, 403: ErrorBody, 422: ErrorBody }),
    },
  );
}
