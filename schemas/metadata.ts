/**
 * A debate's `metadata`: the caller's own JSON object, stored and shown back as sent, within limits
 * so that one record can never be too deep to serialise, nor too big to list and export.
 *
 * @example
 * DebateMetadata({ ticket: "OPS-12", tags: ["q3"] }); // the object
 * metadataProblem({ a: { b: { c: { d: { e: { f: { g: { h: { i: 1 } } } } } } } } }); // "at most 8 levels deep ..."
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

export const METADATA_LIMITS = {
  /** Levels of objects and arrays, the metadata object itself being the first. */
  depth: 8,
  /** Keys of every object in it, all levels together. */
  keys: 256,
  /** Its JSON text, in UTF-8. */
  bytes: 16_384,
} as const;

/**
 * Why a value is not acceptable metadata (not a plain object, or past a limit of
 * {@link METADATA_LIMITS}), or undefined when it is. Walks without recursion and stops at the
 * first limit passed, so it is safe on any parsed JSON, however deep.
 *
 * @example metadataProblem([1, 2]) // "an object (not an array)"
 */
export function metadataProblem(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Array.isArray(value) ? "an object (not an array)" : "an object";
  }
  let keys = 0;
  const stack: { v: object; depth: number }[] = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: object; depth: number };
    if (depth > METADATA_LIMITS.depth) {
      return `at most ${METADATA_LIMITS.depth} levels of objects and arrays deep (it is deeper)`;
    }
    const children = Array.isArray(v) ? v : Object.values(v);
    if (!Array.isArray(v)) {
      keys += children.length;
      if (keys > METADATA_LIMITS.keys)
        return `at most ${METADATA_LIMITS.keys} keys in all levels together (it has more)`;
    }
    for (const child of children)
      if (typeof child === "object" && child !== null) stack.push({ v: child, depth: depth + 1 });
  }
  // Bounded depth: JSON.stringify cannot overflow the stack here.
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > METADATA_LIMITS.bytes) return `at most ${METADATA_LIMITS.bytes} bytes as JSON (it is ${bytes})`;
  return undefined;
}

export const DebateMetadata = lazy(() =>
  type("object")
    .narrow((m, ctx) => {
      const problem = metadataProblem(m);
      return problem === undefined || ctx.reject({ expected: problem, actual: "" });
    })
    .as<Record<string, unknown>>()
    .describe(
      `a JSON object of your own, at most ${METADATA_LIMITS.depth} levels deep, ${METADATA_LIMITS.keys} keys and ${METADATA_LIMITS.bytes} bytes`,
    ),
);
