/**
 * Limits on JSON that the server checks without recursion, wherever JSON arrives (request bodies,
 * WebSocket messages, receipts given to `aragora receipt verify`, stored records): how deep it nests,
 * and values it cannot keep as sent (lone surrogates, NUL characters, non-finite numbers).
 *
 * @example
 * jsonNestingDepth("[[[]]]");                          // 3, from the text, before JSON.parse
 * jsonValueProblems(JSON.parse('{"n":1e309}'), "body"); // [{ field: "body.n", rule: "must be a finite number ..." }]
 */

/** One refused field: where (dotted path from a root such as `body`) and which rule it broke. */
export interface FieldProblem {
  field: string;
  rule: string;
}

/** The deepest nesting of arrays and objects a body (or a WebSocket message) may have. */
export const MAX_JSON_DEPTH = 32;

/**
 * How deeply a JSON text nests arrays and objects, by one pass over its characters (brackets inside
 * strings do not count). Stops as soon as the depth passes `stopAbove`, so a hostile text costs no
 * more than its prefix up to that depth.
 *
 * @example jsonNestingDepth('{"a":[1,{"b":"[["}]}') // 3
 */
export function jsonNestingDepth(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Skip the string: its closing quote is the next one not escaped by an odd run of backslashes.
      let close = text.indexOf('"', i + 1);
      while (close !== -1) {
        let slashes = 0;
        while (text.charCodeAt(close - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
        close = text.indexOf('"', close + 1);
      }
      i = close === -1 ? n : close;
    } else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
    i++;
  }
  return deepest;
}

function textProblem(s: string): string | undefined {
  if (!s.isWellFormed()) {
    const at = [...s].find((ch) => ch.length === 1 && ch.charCodeAt(0) >= 0xd800 && ch.charCodeAt(0) <= 0xdfff);
    const code = at ? `U+${at.charCodeAt(0).toString(16).toUpperCase()}` : "a surrogate";
    return `must be well-formed Unicode: it holds a lone surrogate (${code}) that cannot be stored or signed`;
  }
  if (s.includes("\u0000")) return "must not contain NUL (U+0000) characters";
  return undefined;
}

const fieldOf = (parent: string, key: string | number) => `${parent}.${key}`;

const textIsSafe = (s: string) => s.isWellFormed() && !s.includes("\u0000");

/**
 * Whether a parsed JSON document holds nothing {@link jsonValueProblems} would report. The common
 * case, walked without building a field name per value (a few times cheaper).
 */
function jsonValueIsSafe(value: unknown, maxDepth: number): boolean {
  const values: unknown[] = [value];
  const depths: number[] = [0];
  while (values.length > 0) {
    const v = values.pop();
    const depth = (depths.pop() as number) + 1;
    if (typeof v === "string") {
      if (!textIsSafe(v)) return false;
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) return false;
    } else if (typeof v === "object" && v !== null) {
      if (depth > maxDepth) return false;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (typeof item === "object" || typeof item === "string" || typeof item === "number") {
            values.push(item);
            depths.push(depth);
          }
        }
      } else {
        for (const key in v) {
          if (!textIsSafe(key)) return false;
          const item = (v as Record<string, unknown>)[key];
          if (typeof item === "object" || typeof item === "string" || typeof item === "number") {
            values.push(item);
            depths.push(depth);
          }
        }
      }
    }
  }
  return true;
}

/**
 * Every value in a parsed JSON document that cannot be kept as sent: strings and keys with lone
 * surrogates or NUL characters, numbers that are not finite, and nesting deeper than `maxDepth`.
 * Walks with an explicit stack (no recursion) and stops after `maxProblems`. Fields are named
 * from `root` with dots, e.g. `body.budget.max_cost_usd`, `body.agents.0`.
 *
 * @example jsonValueProblems(JSON.parse('{"n":1e309}'), "body") // [{ field: "body.n", rule: "must be a finite number ..." }]
 */
export function jsonValueProblems(
  value: unknown,
  root: string,
  maxDepth = MAX_JSON_DEPTH,
  maxProblems = 10,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (jsonValueIsSafe(value, maxDepth)) return problems;
  const stack: { value: unknown; field: string; depth: number }[] = [{ value, field: root, depth: 0 }];
  while (stack.length > 0 && problems.length < maxProblems) {
    const item = stack.pop() as { value: unknown; field: string; depth: number };
    const v = item.value;
    if (typeof v === "string") {
      const rule = textProblem(v);
      if (rule) problems.push({ field: item.field, rule });
    } else if (typeof v === "number") {
      if (!Number.isFinite(v)) {
        problems.push({ field: item.field, rule: "must be a finite number (JSON numbers beyond ±1.8e308 are not)" });
      }
    } else if (typeof v === "object" && v !== null) {
      const depth = item.depth + 1;
      if (depth > maxDepth) {
        problems.push({ field: item.field, rule: `nests arrays and objects deeper than ${maxDepth} levels` });
        continue;
      }
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], field: fieldOf(item.field, i), depth });
      } else {
        const keys = Object.keys(v);
        for (let i = keys.length - 1; i >= 0; i--) {
          const key = keys[i] as string;
          const rule = textProblem(key);
          if (rule) {
            problems.push({ field: item.field, rule: `keys ${rule}` });
            continue;
          }
          stack.push({ value: (v as Record<string, unknown>)[key], field: fieldOf(item.field, key), depth });
        }
      }
    }
  }
  return problems;
}

/**
 * How deeply a parsed JSON value nests arrays and objects, walking without recursion; stops as soon
 * as the depth passes `stopAbove`.
 *
 * @example jsonValueDepth({ a: [1, { b: 2 }] }) // 3
 */
export function jsonValueDepth(value: unknown, stopAbove = Number.POSITIVE_INFINITY): number {
  let deepest = 0;
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 1 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop() as { v: unknown; depth: number };
    if (typeof v !== "object" || v === null) continue;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > stopAbove) return deepest;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push({ v: child, depth: depth + 1 });
    }
  }
  return deepest;
}
