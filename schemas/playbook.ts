/**
 * The shape of an ops playbook (YAML), checked with arktype; unknown keys are rejected everywhere.
 * Semantic rules (references, actions, step order) live in ops/playbook.ts, which reports every
 * problem as `file:line:col: message`.
 *
 * @example
 * const doc = PlaybookDocument(YAML.parse(text)); // PlaybookDocument.infer or type.errors
 */
import { type } from "arktype";
import { lazy } from "./lazy.ts";

/** A duration as written in YAML: `500ms`, `30s`, `5m`, `2h`, `1d`, or milliseconds. */
export const DurationText = lazy(() =>
  type("string | number")
    .narrow((v, ctx) =>
      (typeof v === "number" && v >= 0) ||
      (typeof v === "string" && /^(\d+(\.\d+)?(ms|s|m|h|d))+$|^\d+$/.test(v.trim()))
        ? true
        : ctx.reject("a duration such as 500ms, 30s, 5m, 2h or 1d"),
    )
    .describe("a duration such as 500ms, 30s, 5m, 2h or 1d"),
);

export const PARAM_TYPES = ["string", "integer", "boolean", "duration", "path", "secret"] as const;
export type ParamType = (typeof PARAM_TYPES)[number];

export const ParamSpec = lazy(() =>
  type({
    type: "'string' | 'integer' | 'boolean' | 'duration' | 'path' | 'secret'",
    "description?": "string",
    "default?": "string | number | boolean",
    "required?": "boolean",
    "+": "reject",
  }),
);
export type ParamSpec = typeof ParamSpec.infer;

export const RetrySpec = lazy(() =>
  type({
    max: "0 <= number.integer <= 100",
    "backoff?": "'fixed' | 'exponential'",
    "initial?": DurationText,
    "factor?": "1 <= number <= 10",
    "max_delay?": DurationText,
    "jitter?": "0 <= number <= 1",
    "+": "reject",
  }),
);
export type RetrySpec = typeof RetrySpec.infer;

export const OutputSpec = lazy(() =>
  type({
    "secret?": "boolean",
    "description?": "string",
    "+": "reject",
  }),
);

export const STEP_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const CompensationSpec = lazy(() =>
  type({
    action: "string > 0",
    "with?": "Record<string, unknown>",
    timeout: DurationText,
    "+": "reject",
  }),
);
export type CompensationSpec = typeof CompensationSpec.infer;

export const StepSpec = lazy(() =>
  type({
    id: type(STEP_ID).describe("an id of letters, digits, _ and - (not starting with a digit)"),
    action: "string > 0",
    "description?": "string",
    "with?": "Record<string, unknown>",
    "when?": "string | boolean",
    timeout: DurationText,
    "retry?": RetrySpec,
    "on_failure?": type(/^(abort|continue|goto:[A-Za-z_][A-Za-z0-9_-]*)$/).describe(
      "abort, continue or goto:<step id>",
    ),
    "compensate?": CompensationSpec,
    "outputs?": type({ "[string]": OutputSpec }),
    "+": "reject",
  }),
);
export type StepSpec = typeof StepSpec.infer;

export const PlaybookDocument = lazy(() =>
  type({
    name: "string > 0",
    "description?": "string",
    "params?": type({ "[string]": ParamSpec }),
    "shell_allowlist?": "string[]",
    steps: StepSpec.array().atLeastLength(1),
    "+": "reject",
  }),
);
export type PlaybookDocument = typeof PlaybookDocument.infer;
