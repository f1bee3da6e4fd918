/**
 * fast-check arbitraries for the JSON Schemas of the served OpenAPI document (the subset arktype
 * emits: type, enum, const, properties/required/additionalProperties, items, anyOf/oneOf, string
 * lengths and patterns, number bounds), so the fuzz suite starts from inputs a route would accept.
 *
 * @example
 * const body = fc.sample(arbitraryFor({ type: "object", properties: { q: { type: "string" } }, required: ["q"] }), 1)[0];
 */
import fc from "fast-check";

export interface JsonSchema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
}

/** Keeps generated values small: the fuzz suite makes them big on purpose, elsewhere. */
const MAX_STRING = 40;
const MAX_ITEMS = 4;

function stringFor(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.pattern) {
    try {
      return fc.stringMatching(new RegExp(schema.pattern));
    } catch {
      // A pattern fast-check cannot invert (lookarounds): arktype's integer strings are the only ones.
      return fc.integer({ min: -10, max: 100_000 }).map(String);
    }
  }
  const minLength = schema.minLength ?? 0;
  return fc.string({ minLength, maxLength: Math.max(minLength, Math.min(schema.maxLength ?? MAX_STRING, MAX_STRING)) });
}

function numberFor(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? schema.exclusiveMinimum;
  const max = schema.maximum ?? schema.exclusiveMaximum;
  if (integer) {
    const lo = min === undefined ? -1_000_000 : Math.ceil(min + (schema.exclusiveMinimum !== undefined ? 1 : 0));
    const hi = max === undefined ? 1_000_000 : Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER);
    return fc.integer({ min: lo, max: Math.max(lo, hi) });
  }
  return fc.double({
    min: min ?? -1e6,
    max: max ?? 1e6,
    minExcluded: schema.exclusiveMinimum !== undefined,
    maxExcluded: schema.exclusiveMaximum !== undefined,
    noNaN: true,
    noDefaultInfinity: true,
  });
}

/**
 * An arbitrary of values valid for `schema` (as far as a JSON Schema can say: arktype's narrows,
 * such as metadata's limits, are not in the document).
 *
 * @example fc.sample(arbitraryFor({ enum: ["a", "b"] }), 3) // ["b", "a", "a"]
 */
export function arbitraryFor(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  if (!schema) return fc.jsonValue({ maxDepth: 2 });
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return fc.oneof(...union.map(arbitraryFor));
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  switch (type) {
    case "string":
      return stringFor(schema);
    case "integer":
      return numberFor(schema, true);
    case "number":
      return numberFor(schema, false);
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(arbitraryFor(schema.items), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS)),
      });
    case "object": {
      if (schema.properties) {
        const model = Object.fromEntries(Object.entries(schema.properties).map(([k, s]) => [k, arbitraryFor(s)]));
        return fc.record(model, { requiredKeys: schema.required ?? [] });
      }
      const values =
        typeof schema.additionalProperties === "object"
          ? arbitraryFor(schema.additionalProperties)
          : fc.jsonValue({ maxDepth: 2 });
      return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: MAX_ITEMS });
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}
