/**
 * `${{ ... }}` templates in playbook values. A value that is exactly one expression keeps the
 * expression's type (`${{ steps.health.outputs.status == 200 }}` is a boolean); any other string
 * interpolates each expression as text. Expressions are small on purpose: references
 * (`params.x`, `env.X`, `steps.id.outputs.y`, `steps.id.status`), literals ('text', 42, true,
 * null), `!`, comparisons (== != < <= > >=), `&&`, `||` and parentheses.
 *
 * @example
 * const t = parseTemplate("backup-${{ params.label }}.tar.gz");
 * renderTemplate(t, { params: { label: "daily" }, env: {}, steps: {} }); // "backup-daily.tar.gz"
 */

export type Reference =
  | { kind: "params"; name: string; text: string; offset: number }
  | { kind: "env"; name: string; text: string; offset: number }
  | { kind: "output"; step: string; name: string; text: string; offset: number }
  | { kind: "status"; step: string; text: string; offset: number };

type Expr =
  | { t: "lit"; value: unknown }
  | { t: "ref"; ref: Reference }
  | { t: "not"; e: Expr }
  | { t: "bin"; op: string; l: Expr; r: Expr };

/** A parsed template: literal text and expressions, in order. */
export interface Template {
  parts: (string | { expr: Expr; source: string; offset: number })[];
  /** The whole value is one expression: render keeps its type. */
  whole: boolean;
  refs: Reference[];
}

/** A template that cannot be parsed; `offset` is within the original string. */
export class TemplateSyntaxError extends Error {
  override name = "TemplateSyntaxError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

/** Values a template reads. `steps[id]` holds a step's outputs and status once it has run. */
export interface TemplateScope {
  params: Record<string, unknown>;
  env: Record<string, string | undefined>;
  steps: Record<string, { status: string; outputs: Record<string, unknown> }>;
}

/** A reference the scope cannot answer (a dry run's outputs of steps that did not run). */
export class UnresolvedReference extends Error {
  override name = "UnresolvedReference";
  constructor(readonly ref: Reference) {
    super(`${ref.text} has no value`);
  }
}

const OPEN = "${{";
const CLOSE = "}}";

/** Whether a string contains a template expression at all (cheap pre-check). */
export function isTemplated(value: string): boolean {
  return value.includes(OPEN);
}

/**
 * Parse a string into a {@link Template}; throws {@link TemplateSyntaxError}.
 *
 * @example
 * parseTemplate("${{ params.n > 3 }}").whole; // true
 */
export function parseTemplate(source: string): Template {
  const parts: Template["parts"] = [];
  const refs: Reference[] = [];
  let i = 0;
  while (i < source.length) {
    const start = source.indexOf(OPEN, i);
    if (start < 0) {
      parts.push(source.slice(i));
      break;
    }
    if (start > i) parts.push(source.slice(i, start));
    const end = source.indexOf(CLOSE, start + OPEN.length);
    if (end < 0) throw new TemplateSyntaxError(`unterminated ${OPEN} (missing ${CLOSE})`, start);
    const inner = source.slice(start + OPEN.length, end);
    const expr = new ExprParser(inner, start + OPEN.length, refs).parseAll();
    parts.push({ expr, source: inner.trim(), offset: start });
    i = end + CLOSE.length;
  }
  const whole = parts.length === 1 && typeof parts[0] !== "string";
  return { parts, whole, refs };
}

/**
 * Evaluate a template against a scope. Throws {@link UnresolvedReference} when a referenced value
 * is absent (unless `lenient`, which renders it as `<steps.x.outputs.y>` for dry-run plans).
 */
export function renderTemplate(template: Template, scope: TemplateScope, lenient = false): unknown {
  const values = template.parts.map((p) => (typeof p === "string" ? p : evaluate(p.expr, scope, lenient)));
  if (template.whole) return values[0];
  return values.map((v) => (typeof v === "string" ? v : v === null || v === undefined ? "" : stringify(v))).join("");
}

function stringify(v: unknown): string {
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

/** Truthiness of a `when:` value: false, "", "false", "0", null and undefined are false. */
export function truthy(value: unknown): boolean {
  if (typeof value === "string") return !["", "false", "0", "no"].includes(value.trim().toLowerCase());
  return Boolean(value);
}

function lookup(ref: Reference, scope: TemplateScope, lenient: boolean): unknown {
  let value: unknown;
  let present: boolean;
  switch (ref.kind) {
    case "params":
      present = Object.hasOwn(scope.params, ref.name);
      value = scope.params[ref.name];
      break;
    case "env":
      present = scope.env[ref.name] !== undefined;
      value = scope.env[ref.name];
      break;
    case "output": {
      const step = scope.steps[ref.step];
      present = step !== undefined && Object.hasOwn(step.outputs, ref.name);
      value = step?.outputs[ref.name];
      break;
    }
    case "status":
      present = scope.steps[ref.step] !== undefined;
      value = scope.steps[ref.step]?.status;
      break;
  }
  if (present) return value;
  // A dry run's planned step has outputs known only at run time: shown as what they stand for.
  if (lenient && ref.kind === "output" && scope.steps[ref.step]?.status === "planned") return `<${ref.text}>`;
  // A skipped or failed step has no outputs: they read as null rather than stopping the run.
  if (ref.kind === "output" && scope.steps[ref.step] !== undefined) return null;
  if (ref.kind === "status") return "pending";
  if (lenient) return `<${ref.text}>`;
  throw new UnresolvedReference(ref);
}

function evaluate(e: Expr, scope: TemplateScope, lenient: boolean): unknown {
  switch (e.t) {
    case "lit":
      return e.value;
    case "ref":
      return lookup(e.ref, scope, lenient);
    case "not":
      return !truthy(evaluate(e.e, scope, lenient));
    case "bin": {
      if (e.op === "&&") return truthy(evaluate(e.l, scope, lenient)) && truthy(evaluate(e.r, scope, lenient));
      if (e.op === "||") return truthy(evaluate(e.l, scope, lenient)) || truthy(evaluate(e.r, scope, lenient));
      const l = evaluate(e.l, scope, lenient);
      const r = evaluate(e.r, scope, lenient);
      return compare(e.op, l, r);
    }
  }
}

/** Comparisons coerce numeric strings, so `--param n=3` compares with 3. */
function compare(op: string, l: unknown, r: unknown): boolean {
  const num = (v: unknown) => (typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN);
  const ln = num(l);
  const rn = num(r);
  const numeric = !Number.isNaN(ln) && !Number.isNaN(rn);
  const a = numeric ? ln : stringify(l ?? "");
  const b = numeric ? rn : stringify(r ?? "");
  switch (op) {
    case "==":
      return numeric || typeof l !== "boolean" ? a === b : l === truthy(r);
    case "!=":
      return !(numeric || typeof l !== "boolean" ? a === b : l === truthy(r));
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    default:
      return a >= b;
  }
}

const TOKEN =
  /\s*(?:(\|\||&&|==|!=|<=|>=|<|>|!|\(|\))|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(-?\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*)*))/y;

type Token = { kind: "op" | "str" | "num" | "word"; text: string; offset: number };

class ExprParser {
  private readonly tokens: Token[] = [];
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly base: number,
    private readonly refs: Reference[],
  ) {
    TOKEN.lastIndex = 0;
    let i = 0;
    while (i < text.length) {
      if (/^\s*$/.test(text.slice(i))) break;
      TOKEN.lastIndex = i;
      const m = TOKEN.exec(text);
      if (!m) {
        const rest = text.slice(i);
        const skipped = rest.length - rest.trimStart().length;
        throw new TemplateSyntaxError(`unexpected "${rest.trimStart()[0]}" in expression`, base + i + skipped);
      }
      const lead = m[0].length - m[0].trimStart().length;
      const offset = base + i + lead;
      if (m[1] !== undefined) this.tokens.push({ kind: "op", text: m[1], offset });
      else if (m[2] !== undefined) this.tokens.push({ kind: "str", text: m[2].replace(/\\(.)/g, "$1"), offset });
      else if (m[3] !== undefined) this.tokens.push({ kind: "str", text: m[3].replace(/\\(.)/g, "$1"), offset });
      else if (m[4] !== undefined) this.tokens.push({ kind: "num", text: m[4], offset });
      else this.tokens.push({ kind: "word", text: m[5] as string, offset });
      i = TOKEN.lastIndex;
    }
  }

  parseAll(): Expr {
    if (this.tokens.length === 0) throw new TemplateSyntaxError("empty expression", this.base);
    const e = this.or();
    const extra = this.tokens[this.pos];
    if (extra) throw new TemplateSyntaxError(`unexpected "${extra.text}" in expression`, extra.offset);
    return e;
  }

  private peek(op: string): boolean {
    const t = this.tokens[this.pos];
    return t?.kind === "op" && t.text === op;
  }

  private or(): Expr {
    let l = this.and();
    while (this.peek("||")) {
      this.pos++;
      l = { t: "bin", op: "||", l, r: this.and() };
    }
    return l;
  }

  private and(): Expr {
    let l = this.cmp();
    while (this.peek("&&")) {
      this.pos++;
      l = { t: "bin", op: "&&", l, r: this.cmp() };
    }
    return l;
  }

  private cmp(): Expr {
    const l = this.unary();
    const t = this.tokens[this.pos];
    if (t?.kind === "op" && ["==", "!=", "<", "<=", ">", ">="].includes(t.text)) {
      this.pos++;
      return { t: "bin", op: t.text, l, r: this.unary() };
    }
    return l;
  }

  private unary(): Expr {
    if (this.peek("!")) {
      this.pos++;
      return { t: "not", e: this.unary() };
    }
    return this.primary();
  }

  private primary(): Expr {
    const t = this.tokens[this.pos++];
    if (!t) throw new TemplateSyntaxError("expression ends too early", this.base + this.text.length);
    if (t.kind === "op" && t.text === "(") {
      const e = this.or();
      if (!this.peek(")")) throw new TemplateSyntaxError("missing )", this.tokens[this.pos]?.offset ?? t.offset);
      this.pos++;
      return e;
    }
    if (t.kind === "str") return { t: "lit", value: t.text };
    if (t.kind === "num") return { t: "lit", value: Number(t.text) };
    if (t.kind === "word") {
      if (t.text === "true" || t.text === "false") return { t: "lit", value: t.text === "true" };
      if (t.text === "null") return { t: "lit", value: null };
      const ref = this.reference(t);
      this.refs.push(ref);
      return { t: "ref", ref };
    }
    throw new TemplateSyntaxError(`unexpected "${t.text}" in expression`, t.offset);
  }

  private reference(t: Token): Reference {
    const path = t.text.split(".");
    const [root, a, b, c] = path;
    const bad = (why: string) => new TemplateSyntaxError(`${t.text}: ${why}`, t.offset);
    if (root === "params" || root === "env") {
      if (path.length !== 2) throw bad(`write ${root}.<name>`);
      return { kind: root, name: a as string, text: t.text, offset: t.offset };
    }
    if (root === "steps") {
      if (path.length === 4 && b === "outputs") {
        return { kind: "output", step: a as string, name: c as string, text: t.text, offset: t.offset };
      }
      if (path.length === 3 && b === "status")
        return { kind: "status", step: a as string, text: t.text, offset: t.offset };
      throw bad("write steps.<id>.outputs.<name> or steps.<id>.status");
    }
    throw bad("unknown reference; use params.<name>, env.<NAME>, steps.<id>.outputs.<name> or steps.<id>.status");
  }
}
