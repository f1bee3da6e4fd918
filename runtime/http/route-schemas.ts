/**
 * The schemas a route declares, as Elysia and the OpenAPI document see them, with the run-time
 * checks each one is worth:
 *
 * - {@link validated}: a request's body, params, query or headers, checked once; a failure is the
 *   one error mapper's 422 naming each field and rule, built straight from ArkType's issues.
 *   Elysia's own ValidationError would re-validate the value and pretty-print every issue into a
 *   message we never send: two thirds of a refused request's CPU (bench/http.ts, the 422 row).
 * - {@link responses}: each status's body, documented and typed for the handler; checked at run
 *   time in development and tests (a mismatch is a 500 naming the field), not in production, where
 *   the check costs about a third of a request's CPU on a route like `GET /api/debates/:id`
 *   (ArkType walks the whole record, jitless) for bodies that the same code built and the tests
 *   checked (`ARAGORA_VALIDATE_RESPONSES`).
 *
 * @example
 * new Elysia().get("/:id", handler, {
 *   params: validated(DebateIdParams, "params"),
 *   response: responses({ 200: DebateRecord, 404: ErrorBody }),
 * });
 */
import { HttpError, validationDetails } from "./errors.ts";

/** What Elysia and @elysiajs/openapi read of a Standard Schema (an ArkType type is one). */
interface StandardProps {
  readonly version: 1;
  readonly vendor: string;
  validate(value: unknown): unknown;
}

interface DocumentedSchema {
  readonly "~standard": StandardProps;
  toJsonSchema(): unknown;
}

interface StandardResult {
  value?: unknown;
  issues?: readonly { message: string; path?: readonly (PropertyKey | { key: PropertyKey })[] }[];
}

/** Elysia reports at most this many issues; so do we. */
const MAX_ISSUES = 64;

let checkingResponses = true;

/**
 * Turn response checks on or off for the whole process (createHttpApp calls it once, from
 * `config.validateResponses`). On by default, so a route built in a test is checked.
 *
 * @example
 * checkResponses(config.validateResponses);
 */
export function checkResponses(enabled: boolean): void {
  checkingResponses = enabled;
}

/**
 * The schema as Elysia and OpenAPI see it, with `validate` replaced. Nothing of `schema` is read
 * here: a lazy schema (schemas/lazy.ts) is built on the route's first check or when the OpenAPI
 * document is first made, not when the route is registered at start-up.
 */
function wrap<S extends DocumentedSchema>(schema: S, validate: (value: unknown) => unknown): S {
  const jsonSchema = () => schema.toJsonSchema();
  const wrapper: DocumentedSchema = {
    "~standard": {
      version: 1,
      get vendor() {
        return schema["~standard"].vendor;
      },
      validate,
      // @elysiajs/openapi reads a Standard JSON Schema's converter first.
      jsonSchema: { input: jsonSchema, output: jsonSchema },
    } as StandardProps,
    toJsonSchema: jsonSchema,
  };
  // Typed as the schema itself: Elysia infers the handler's context and return types from it.
  return wrapper as S;
}

/**
 * A request part's schema, checked once; a failure throws the 422 {@link HttpError} naming each
 * field (`body.question`, `params.id`, `query.limit`) and the rule it broke.
 *
 * @example
 * { body: validated(CreateDebateBody, "body") }
 */
export function validated<S extends DocumentedSchema>(schema: S, on: "body" | "params" | "query" | "headers"): S {
  let own: StandardProps | undefined;
  return wrap(schema, (value) => {
    own ??= schema["~standard"];
    const result = own.validate(value) as StandardResult;
    if (!result.issues) return result;
    // Array.from, not .slice: ArkErrors is an Array subclass whose constructor .slice would misuse.
    const details = validationDetails(Array.from(result.issues).slice(0, MAX_ISSUES), on);
    throw new HttpError(422, "validation_failed", details.map((d) => `${d.field}: ${d.rule}`).join("; "), details);
  });
}

/**
 * A route's response schemas by status, documented and typed, checked when checks are on.
 *
 * @example
 * { response: responses({ 200: HealthResponse, 503: HealthResponse }) }
 */
export function responses<M extends Record<number, DocumentedSchema>>(map: M): M {
  const out: Record<number, DocumentedSchema> = {};
  for (const [status, schema] of Object.entries(map)) {
    let own: StandardProps | undefined;
    out[Number(status)] = wrap(schema, (value) => {
      if (!checkingResponses) return { value };
      own ??= schema["~standard"];
      return own.validate(value);
    });
  }
  return out as M;
}
