/**
 * Turn `--param k=v` strings (or JSON values from the API) into typed param values, applying
 * defaults and rejecting unknown or missing ones, all problems at once.
 *
 * @example
 * resolveParams(playbook.params, { keep: "3" }); // { values: { keep: 3, label: "daily" }, problems: [] }
 */
import type { ParamSpec } from "../schemas/playbook.ts";
import { parseDuration } from "./duration.ts";

export function resolveParams(
  specs: Record<string, ParamSpec>,
  given: Record<string, unknown>,
): { values: Record<string, unknown>; problems: string[] } {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(specs, name)) {
      problems.push(`unknown param "${name}" (declared: ${Object.keys(specs).join(", ") || "none"})`);
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const raw = Object.hasOwn(given, name) ? given[name] : spec.default;
    if (raw === undefined) {
      if (spec.required) problems.push(`param "${name}" is required (--param ${name}=...)`);
      continue;
    }
    const problem = checkParamValue(spec, raw);
    if (problem) {
      problems.push(`param "${name}" ${spec.type === "secret" ? "must be a string" : problem}`);
      continue;
    }
    values[name] =
      spec.type === "integer" ? Number(raw) : spec.type === "boolean" ? raw === true || raw === "true" : raw;
  }
  return { values, problems };
}

/** Parse `k=v` pairs from the command line. @example parseParamPairs(["a=1", "b=x=y"]) // { a: "1", b: "x=y" } */
export function parseParamPairs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`--param expects name=value (got "${pair}")`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

/** Why a value does not fit a param's type, or undefined. */
export function checkParamValue(spec: ParamSpec, value: unknown): string | undefined {
  switch (spec.type) {
    case "integer":
      return Number.isInteger(typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value)
        ? undefined
        : `must be an integer (was ${JSON.stringify(value)})`;
    case "boolean":
      return typeof value === "boolean" || value === "true" || value === "false"
        ? undefined
        : `must be true or false (was ${JSON.stringify(value)})`;
    case "duration":
      return parseDuration(value as string | number) === undefined
        ? `must be a duration such as 30s, 5m or 2h (was ${JSON.stringify(value)})`
        : undefined;
    default:
      return typeof value === "string" ? undefined : `must be a string (was ${JSON.stringify(value)})`;
  }
}
