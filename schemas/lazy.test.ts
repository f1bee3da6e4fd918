import { describe, expect, test } from "bun:test";
import { type } from "arktype";
import { buildAllLazy, lazy } from "./lazy.ts";

/** A lazy schema that counts how often its definition runs. */
function counted<T extends object>(build: () => T) {
  const state = { builds: 0 };
  const schema = lazy(() => {
    state.builds++;
    return build();
  });
  return { schema, state };
}

describe("lazy schemas", () => {
  test("the definition runs on first use, once", () => {
    const { schema, state } = counted(() => type({ id: "string", n: "number.integer >= 0" }));
    expect(state.builds).toBe(0);
    expect(schema.allows({ id: "a", n: 1 })).toBe(true);
    expect(schema.allows({ id: "a", n: -1 })).toBe(false);
    expect(schema({ id: "a", n: 2 })).toEqual({ id: "a", n: 2 });
    expect(state.builds).toBe(1);
  });

  test("it accepts and refuses exactly what the eager schema does, with the same messages", () => {
    const define = () =>
      type({ phase: "'proposal' | 'vote'", "tokens?": "number.integer >= 0", text: "string > 0", "+": "reject" });
    const eager = define();
    const { schema } = counted(define);
    const inputs: unknown[] = [
      { phase: "vote", text: "x" },
      { phase: "vote", text: "" },
      { phase: "judge", text: "x", tokens: 1.5 },
      { phase: "proposal", text: "x", extra: true },
      "not an object",
      null,
    ];
    for (const input of inputs) {
      const a = eager(input);
      const b = schema(input);
      expect(b instanceof type.errors).toBe(a instanceof type.errors);
      expect(String(b)).toBe(String(a));
      expect(schema.allows(input)).toBe(eager.allows(input));
    }
    expect(schema.expression).toBe(eager.expression);
    expect(schema.toJsonSchema()).toEqual(eager.toJsonSchema());
    expect(schema["~standard"].validate({ phase: "vote", text: "x" })).toEqual(
      eager["~standard"].validate({ phase: "vote", text: "x" }),
    );
  });

  test("composed into other schemas, it is built when they are and checks as part of them", () => {
    const phase = counted(() => type("'proposal' | 'vote'"));
    const turn = counted(() => type({ phase: phase.schema, text: "string" }));
    expect(phase.state.builds + turn.state.builds).toBe(0);
    const page = type({ turns: turn.schema.array(), "first?": turn.schema });
    expect(phase.state.builds).toBe(1);
    expect(page.allows({ turns: [{ phase: "vote", text: "a" }] })).toBe(true);
    expect(String(page({ turns: [{ phase: "judge", text: "a" }] }))).toBe(
      'turns[0].phase must be "proposal" or "vote" (was "judge")',
    );
    const union = type.or(type({ kind: "'a'", data: turn.schema }), type({ kind: "'b'", data: phase.schema }));
    expect(union.allows({ kind: "b", data: "vote" })).toBe(true);
    expect(union.allows({ kind: "a", data: "vote" })).toBe(false);
  });

  test("buildAllLazy builds every one made so far", () => {
    const { schema, state } = counted(() => type("string"));
    expect(buildAllLazy()).toBeGreaterThanOrEqual(1);
    expect(state.builds).toBe(1);
    expect(schema.allows("x")).toBe(true);
    expect(state.builds).toBe(1);
  });
});
