/**
 * Unit tests of the DSL's pure pieces: `${{ }}` templates, secret redaction, retry delays and the
 * progress renderings (tty redraw with a spinner, plain lines, JSON).
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: `${{ }}` is the playbook template syntax under test
import { describe, expect, test } from "bun:test";
import { retryDelay } from "../../ops/interpreter/index.ts";
import { eventJson, progressView } from "../../ops/progress.ts";
import { MASK, Redactor } from "../../ops/redact.ts";
import {
  parseTemplate,
  renderTemplate,
  type TemplateScope,
  TemplateSyntaxError,
  truthy,
  UnresolvedReference,
} from "../../ops/template.ts";

const ESC = "\x1b";
const scope: TemplateScope = {
  params: { label: "daily", n: 3, keep: "5", on: true },
  env: { HOME_DIR: "/home/op" },
  steps: {
    health: { status: "succeeded", outputs: { status: 200, body: "ok", json: { a: 1 } } },
    gone: { status: "skipped", outputs: {} },
  },
};
const render = (text: string, lenient = false) => renderTemplate(parseTemplate(text), scope, lenient);

describe("templates", () => {
  test("a whole expression keeps its type; text interpolates", () => {
    expect(render("${{ params.n }}")).toBe(3);
    expect(render("${{ steps.health.outputs.status == 200 }}")).toBe(true);
    expect(render("${{ steps.health.outputs.json }}")).toEqual({ a: 1 });
    expect(render("backup-${{ params.label }}-${{ params.n }}.tar.gz")).toBe("backup-daily-3.tar.gz");
    expect(render("json=${{ steps.health.outputs.json }}")).toBe('json={"a":1}');
    expect(render("${{ env.HOME_DIR }}/x")).toBe("/home/op/x");
    expect(render("no template")).toBe("no template");
  });

  test("operators: comparisons coerce numeric strings, && || ! and parentheses", () => {
    expect(render("${{ params.keep > 4 }}")).toBe(true);
    expect(render("${{ params.keep == 5 }}")).toBe(true);
    expect(render("${{ params.label != 'daily' }}")).toBe(false);
    expect(render("${{ params.n >= 3 && params.label == 'daily' }}")).toBe(true);
    expect(render("${{ params.n < 3 || !params.on }}")).toBe(false);
    expect(render("${{ !(params.n < 3 || params.on == false) }}")).toBe(true);
    expect(render("${{ params.on == true }}")).toBe(true);
    expect(render("${{ 'a' < 'b' }}")).toBe(true);
    expect(render("${{ null }}")).toBeNull();
  });

  test("references: step status, a skipped step's outputs read null, an unknown one is pending", () => {
    expect(render("${{ steps.health.status }}")).toBe("succeeded");
    expect(render("${{ steps.gone.outputs.body }}")).toBeNull();
    expect(render("${{ steps.later.status }}")).toBe("pending");
  });

  test("an absent value throws, unless lenient (a dry run's plan shows a placeholder)", () => {
    expect(() => render("${{ steps.later.outputs.x }}")).toThrow(UnresolvedReference);
    expect(() => render("${{ params.missing }}")).toThrow("params.missing has no value");
    expect(render("v=${{ steps.later.outputs.x }}", true)).toBe("v=<steps.later.outputs.x>");
  });

  test("the references of a template are listed with their offsets", () => {
    const t = parseTemplate("a ${{ params.x }} b ${{ steps.s.outputs.y == env.Z }}");
    expect(t.whole).toBe(false);
    expect(t.refs.map((r) => [r.kind, r.text, r.offset])).toEqual([
      ["params", "params.x", 6],
      ["output", "steps.s.outputs.y", 24],
      ["env", "env.Z", 45],
    ]);
  });

  test("syntax errors carry the offset of the problem", () => {
    const error = (text: string) => {
      try {
        parseTemplate(text);
      } catch (err) {
        if (err instanceof TemplateSyntaxError) return [err.message, err.offset];
        throw err;
      }
      throw new Error(`"${text}" parsed`);
    };
    expect(error("x ${{ params.a")).toEqual(["unterminated ${{ (missing }})", 2]);
    expect(error("${{ }}")).toEqual(["empty expression", 3]);
    expect(error("${{ params.a.b }}")).toEqual(["params.a.b: write params.<name>", 4]);
    expect(error("${{ steps.a.b }}")[0]).toContain("write steps.<id>.outputs.<name> or steps.<id>.status");
    expect(error("${{ secrets.x }}")[0]).toContain("unknown reference");
    expect(error("${{ params.a == }}")).toEqual(["expression ends too early", 16]);
    expect(error("${{ (params.a }}")[0]).toBe("missing )");
    expect(error("${{ params.a ; }}")).toEqual(['unexpected ";" in expression', 13]);
  });

  test("truthiness of when: values", () => {
    for (const v of [false, "", "false", "0", "no", " FALSE ", null, undefined, 0]) expect(truthy(v)).toBe(false);
    for (const v of [true, "true", "yes", "1", 1, "anything", {}]) expect(truthy(v)).toBe(true);
  });
});

describe("redaction", () => {
  test("secrets are masked wherever they occur, deep inside values", () => {
    const r = new Redactor();
    r.addSecret("hunter2");
    r.addSecret({ k: "v" });
    expect(
      r.redact({
        url: "https://x/?t=hunter2&u=hunter2",
        list: ["hunter2", 'a {"k":"v"} b'],
        n: 5,
        nested: { ok: "plain" },
      }),
    ).toEqual({ url: `https://x/?t=${MASK}&u=${MASK}`, list: [MASK, `a ${MASK} b`], n: 5, nested: { ok: "plain" } });
  });

  test("very short values are not secrets (they would mask ordinary text); empty redactors copy nothing", () => {
    const r = new Redactor();
    r.addSecret("ab");
    r.addSecret(null);
    r.addSecret(undefined);
    const value = { text: "ab cab" };
    expect(r.redact(value)).toBe(value);
  });

  test("redactKeys masks named keys outright and embedded secrets elsewhere", () => {
    const r = new Redactor();
    r.addSecret("tok-123");
    expect(r.redactKeys({ token: 42, note: "uses tok-123", label: "x" }, new Set(["token"]))).toEqual({
      token: MASK,
      note: `uses ${MASK}`,
      label: "x",
    });
  });
});

describe("retry delays", () => {
  const policy = { max: 5, backoff: "exponential" as const, initialMs: 100, factor: 2, maxDelayMs: 350, jitter: 0 };
  test("exponential from initial, capped by max_delay", () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(policy, n))).toEqual([100, 200, 350, 350]);
  });
  test("fixed ignores the factor", () => {
    expect([1, 2, 3].map((n) => retryDelay({ ...policy, backoff: "fixed" }, n))).toEqual([100, 100, 100]);
  });
  test("jitter adds up to its fraction of the delay", () => {
    const jittery = { ...policy, jitter: 0.5 };
    expect(retryDelay(jittery, 1, () => 0)).toBe(100);
    expect(retryDelay(jittery, 1, () => 0.999999)).toBe(150);
    expect(retryDelay(jittery, 3, () => 1)).toBe(525);
  });
});

describe("progress renderings", () => {
  const at = Date.parse("2026-11-28T10:00:00.000Z");
  const e = (seq: number, kind: string, stepId: string | null, data: Record<string, unknown> = {}) => ({
    runId: "r-20261128-0000abcd",
    seq,
    at: at + seq,
    stepId,
    kind,
    data,
  });
  const script = [
    e(1, "run_started", null, { playbook: "p", started_by: "alice", dry_run: false }),
    e(2, "step_started", "one", { action: "sleep" }),
    e(3, "step_progress", "one", { message: "halfway", fraction: 0.5 }),
    e(4, "step_finished", "one", { status: "succeeded", next: "two" }),
    e(5, "step_started", "two", { action: "assert" }),
    e(6, "attempt_failed", "two", { attempt: 1, error: "nope", retry_in_ms: 10 }),
    e(7, "step_finished", "two", { status: "failed", next: null, error: "nope" }),
    e(8, "run_finished", null, { status: "failed", error: 'step "two" failed: nope' }),
  ];
  const capture = () => {
    const chunks: string[] = [];
    return { chunks, out: { write: (t: string) => chunks.push(t) } };
  };

  test("plain: one timestamped line per notable event, no escape codes", () => {
    const { chunks, out } = capture();
    const view = progressView("plain", out);
    for (const ev of script) view.event(ev);
    view.close();
    expect(chunks.join("")).toBe(
      [
        "10:00:00 run r-20261128-0000abcd (p) started by alice",
        "10:00:00 one: started (sleep)",
        "10:00:00 one: halfway (50%)",
        "10:00:00 one: succeeded",
        "10:00:00 two: started (assert)",
        "10:00:00 two: attempt 1 failed: nope (retry in 10 ms)",
        "10:00:00 two: failed: nope",
        '10:00:00 run r-20261128-0000abcd failed: step "two" failed: nope',
        "",
      ].join("\n"),
    );
  });

  test("tty: the step list is redrawn in place, a spinner on the running step, marks when done", async () => {
    const { chunks, out } = capture();
    const view = progressView("tty", out, ["one", "two"]);
    for (const ev of script.slice(0, 3)) view.event(ev);
    // The spinner turns while a step runs (a frame every 100 ms).
    const before = chunks.length;
    for (let i = 0; i < 100 && chunks.length === before; i++) await Bun.sleep(20);
    expect(chunks.length).toBeGreaterThan(before);
    for (const ev of script.slice(3)) view.event(ev);
    view.close();
    const text = chunks.join("");
    expect(text).toMatch(new RegExp(`${ESC}\\[2K [⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] one {2}halfway`));
    expect(text).toContain("\x1b[2A"); // back up over the two-line list to redraw it
    const last = chunks.at(-1) as string;
    expect(last).toBe("\x1b[2K ✓ one\n\x1b[2K ✗ two  nope\n");
    expect(text).toContain('run r-20261128-0000abcd failed: step "two" failed: nope\n');
  });

  test("json: every event as one object per line", () => {
    const { chunks, out } = capture();
    const view = progressView("json", out);
    view.event(script[5] as (typeof script)[number]);
    expect(chunks).toEqual([`${eventJson(script[5] as (typeof script)[number])}\n`]);
    expect(JSON.parse(chunks[0] as string)).toEqual({
      run_id: "r-20261128-0000abcd",
      seq: 6,
      at: "2026-11-28T10:00:00.006Z",
      step: "two",
      kind: "attempt_failed",
      attempt: 1,
      error: "nope",
      retry_in_ms: 10,
    });
  });
});
