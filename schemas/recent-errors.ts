/** GET /api/system/errors: the most recent server errors (runtime/http/recent-errors.ts). */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const RecentErrorsQuery = lazy(() =>
  type({
    "limit?": "string.integer.parse |> 1 <= number.integer <= 200",
    "+": "reject",
  }),
);

export const RecentErrorsResponse = lazy(() =>
  type({
    errors: type({
      at: "string",
      request_id: "string",
      method: "string",
      route: "string",
      status: "number.integer",
      error: "string",
      message: "string",
    }).array(),
    /** Errors since the process started; the list keeps the newest `capacity`. */
    total: "number.integer",
    capacity: "number.integer",
  }),
);
