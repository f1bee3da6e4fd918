/**
 * The one error mapper: every failure leaves the server as a JSON {@link ErrorBody}
 * with a stable `error` code. Validation failures name each field and the rule it broke;
 * internal errors are logged with the request id and never shown to the client.
 *
 * @example
 * errorResponse(404, "not_found", "no route GET /api/nope", "req-1");
 */
import type { ErrorBody } from "../../schemas/errors.ts";

/** Facts a client acts on, beside the error code (a 402's cap and spend): scalars only, never a secret. */
export type ErrorFields = Readonly<Record<string, string | number | boolean | null>>;

/** The media type of every error body. */
export const ERROR_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * The JSON {@link ErrorBody} of an error (`fields` first: they never replace the standard keys).
 *
 * @example errorBody("not_found", "no debate d-1", "req-1") // { error: "not_found", message: "no debate d-1", request_id: "req-1" }
 */
export function errorBody(
  error: string,
  message: string,
  requestId: string,
  details?: ErrorBody["details"],
  fields?: ErrorFields,
): ErrorBody {
  return { ...fields, error, message, request_id: requestId, ...(details ? { details } : {}) };
}

/** Build the JSON response for an error body (see {@link errorBody}). */
export function errorResponse(
  status: number,
  error: string,
  message: string,
  requestId: string,
  details?: ErrorBody["details"],
  headers: Record<string, string> = {},
  fields?: ErrorFields,
): Response {
  return new Response(JSON.stringify(errorBody(error, message, requestId, details, fields)), {
    status,
    headers: { "content-type": ERROR_CONTENT_TYPE, "x-request-id": requestId, ...headers },
  });
}

/**
 * A refusal a route throws: the one error mapper (app.ts) turns it into the JSON {@link ErrorBody}
 * with the request id, CORS headers and `headers`, so no route builds an error body itself.
 *
 * @example
 * if (!row) throw new HttpError(404, "not_found", `no debate ${id}`);
 * throw new HttpError(503, "draining", "the server is shutting down", undefined, { "retry-after": "5" });
 * throw new HttpError(402, "cost_cap_reached", "...", undefined, {}, { monthly_cost_cap_usd: 5, month_cost_usd: 5.2 });
 */
export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorBody["details"],
    readonly headers: Record<string, string> = {},
    /** Facts for the body beside the code (see {@link ErrorFields}). */
    readonly fields?: ErrorFields,
  ) {
    super(message);
  }
}

/**
 * A 401 for a credential nobody issued (an unknown API key, a token with a bad signature, a
 * malformed one): what guessing looks like, unlike an expired or revoked credential, which its
 * holder once had. The shell charges it to the client address's sign-in budget (rate-limit.ts).
 *
 * @example return new UnrecognisedCredential("invalid_api_key", "unknown API key", { "www-authenticate": "Bearer" });
 */
export class UnrecognisedCredential extends HttpError {
  constructor(code: string, message: string, headers: Record<string, string> = {}) {
    super(401, code, message, undefined, headers);
  }
}

interface ValidationIssue {
  path?: string | readonly (PropertyKey | { key: PropertyKey })[];
  summary?: string;
  message?: string;
}

/** arktype's problem for a key an object schema with `"+": "reject"` does not declare. */
const UNDECLARED = "must be removed";

/**
 * Turn Standard Schema issues (ArkType's, directly or through Elysia's ValidationError `all`)
 * into `{field, rule}` pairs. `on` is body, query, params or headers.
 * An undeclared key is reported as the playbook validator words it: `unknown key "x"`.
 */
export function validationDetails(all: readonly ValidationIssue[], on: string): NonNullable<ErrorBody["details"]> {
  return all.map((issue) => {
    const path = Array.isArray(issue.path)
      ? // Array.from, not .map: ArkType's path is an Array subclass whose constructor .map would misuse.
        Array.from(issue.path, (p) => (typeof p === "object" ? String(p.key) : String(p))).join(".")
      : typeof issue.path === "string"
        ? issue.path.replace(/^\//, "").replaceAll("/", ".")
        : "";
    // Elysia names the value itself "root" when the whole body (not one of its fields) is wrong.
    const field = path === "" || path === "root" ? on : `${on}.${path}`;
    let rule: string;
    try {
      rule = issue.summary ?? issue.message ?? "is invalid";
    } catch {
      // ArkType's union message groups errors in a plain object keyed by path, and a key such as
      // "constructor" finds Object.prototype's there and throws: the field is still named.
      rule = "is invalid: it matches none of the allowed forms";
    }
    if (path !== "" && rule.startsWith(`${path} `)) rule = rule.slice(path.length + 1);
    if (rule === UNDECLARED && path !== "" && path !== "root") {
      rule = `unknown key ${JSON.stringify(path.slice(path.lastIndexOf(".") + 1))}`;
    }
    return { field, rule };
  });
}

/** A body larger than ARAGORA_MAX_BODY_BYTES, found while reading a stream with no Content-Length. */
export class PayloadTooLargeError extends Error {
  readonly status = 413;
  constructor(limit: number) {
    super(`request body exceeds the limit of ${limit} bytes (ARAGORA_MAX_BODY_BYTES)`);
    this.name = "PayloadTooLargeError";
  }
}
