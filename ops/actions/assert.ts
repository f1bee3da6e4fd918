/**
 * `assert`: fail the step unless a condition holds. `that` is usually a whole-value expression,
 * so it arrives as a boolean: `that: ${{ steps.health.outputs.status == 200 }}`.
 *
 * @example
 * - id: healthy
 *   action: assert
 *   with: { that: "${{ steps.health.outputs.status == 200 }}", message: the API is not healthy }
 *   timeout: 1s
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";

const AssertInput = lazy(() =>
  type({
    that: "boolean | 'true' | 'false'",
    "message?": "string",
    "+": "reject",
  }),
);

/** Raised when an assertion does not hold; the message is the playbook's. */
export class AssertionFailed extends Error {
  override name = "AssertionFailed";
}

export const assertAction: ActionDefinition<typeof AssertInput.infer, Record<string, never>> = {
  name: "assert",
  description: "fail the step unless `that` is true",
  input: AssertInput,
  outputs: [],
  idempotent: true,
  async plan(input) {
    return {
      summary: `check ${input.message ? `"${input.message}"` : "a condition"} (now ${input.that})`,
      changes: [],
    };
  },
  async run(input) {
    if (input.that === true || input.that === "true") return {};
    throw new AssertionFailed(input.message ?? "assertion failed");
  },
};
