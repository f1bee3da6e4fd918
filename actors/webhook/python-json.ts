/**
 * JSON written byte for byte as Python's `json.dumps(value)` with default arguments writes it: keys
 * in the object's order, `", "` between items and `": "` after keys, every character outside
 * printable ASCII as `\uXXXX` (lowercase hex, astral characters as surrogate pairs), and numbers as
 * Python writes the int or float it parsed them into. The runbook's recipient code verifies a
 * webhook by signing `json.dumps(json.loads(body))`, so a body is only verifiable when parsing and
 * writing it again in Python gives the same bytes: this is that fixed point.
 *
 * Numbers: an integral value is written as an integer (Python parses it back to an int and writes
 * the same digits, however large); any other as Python's `repr(float)`: the shortest digits that
 * read back to the same double (the digits JavaScript picks too), in exponent form below 1e-4
 * (`1e-05`, `2.5e-07`). Values JSON cannot carry (undefined, functions) are left out of objects
 * and written as null in arrays, as JSON.stringify does; NaN and the infinities become null.
 *
 * @example
 * pythonJsonDumps({ b: "café", a: [1, 2.5, 0.00001], n: null }) // '{"b": "caf\\u00e9", "a": [1, 2.5, 1e-05], "n": null}'
 */

const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: "\\\\",
  10: "\\n",
  13: "\\r",
  9: "\\t",
  8: "\\b",
  12: "\\f",
};

/**
 * A string as Python's `json.dumps` (ensure_ascii) quotes it.
 *
 * @example pythonJsonString('é"\n') // '"\\u00e9\\"\\n"'
 */
export function pythonJsonString(text: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // Printable ASCII but the quote and the backslash passes as it is (Python escapes 0x7f too).
    if (c >= 0x20 && c < 0x7f && c !== 0x22 && c !== 0x5c) continue;
    if (i > start) out += text.slice(start, i);
    out += SHORT_ESCAPES[c] ?? `\\u${c.toString(16).padStart(4, "0")}`;
    start = i + 1;
  }
  return `${out + text.slice(start)}"`;
}

/**
 * A number as Python's json.dumps writes the value it parses from it.
 *
 * @example pythonJsonNumber(1e21) // "1000000000000000000000"; pythonJsonNumber(0.1) // "0.1"
 */
export function pythonJsonNumber(n: number): string {
  if (!Number.isFinite(n)) return "null";
  if (Number.isInteger(n)) return Number.isSafeInteger(n) ? String(n === 0 ? 0 : n) : BigInt(n).toString();
  // The shortest round-trip digits and the decimal exponent, e.g. "1.2345e-7".
  const [mantissa, exp] = n.toExponential().split("e") as [string, string];
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const exponent = Number(exp);
  // Python's repr switches to exponent form when the exponent is below -4 or at least 16; a
  // non-integral double is below 2^53, so only the small ones get there.
  let text: string;
  if (exponent < -4 || exponent >= 16) {
    const lead = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exponent).toString().padStart(2, "0");
    text = `${lead}e${exponent < 0 ? "-" : "+"}${e}`;
  } else if (exponent < 0) {
    text = `0.${"0".repeat(-exponent - 1)}${digits}`;
  } else {
    const point = exponent + 1;
    text = digits.length > point ? `${digits.slice(0, point)}.${digits.slice(point)}` : `${digits}.0`;
  }
  return negative ? `-${text}` : text;
}

/**
 * `value` as Python's `json.dumps(value)` writes it (see the module's comment).
 *
 * @example pythonJsonDumps({ a: { b: [true, null] } }) // '{"a": {"b": [true, null]}}'
 */
export function pythonJsonDumps(value: unknown): string {
  const out = write(value, false);
  return out ?? "null";
}

function write(value: unknown, inArray: boolean): string | undefined {
  switch (typeof value) {
    case "string":
      return pythonJsonString(value);
    case "number":
      return pythonJsonNumber(value);
    case "boolean":
      return value ? "true" : "false";
    case "bigint":
      return value.toString();
    case "undefined":
    case "function":
    case "symbol":
      return inArray ? "null" : undefined;
  }
  if (value === null) return "null";
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === "function") return write(toJSON.call(value), inArray);
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[${value.map((v) => write(v, true) as string).join(", ")}]`;
  }
  const parts: string[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const written = write(v, false);
    if (written !== undefined) parts.push(`${pythonJsonString(key)}: ${written}`);
  }
  return parts.length === 0 ? "{}" : `{${parts.join(", ")}}`;
}
