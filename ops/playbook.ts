/**
 * Load and validate a playbook: YAML -> shape (arktype, unknown keys rejected) -> semantics
 * (known actions, unique step ids, goto targets, template references, literal `with` values
 * checked against each action's input schema). Every problem is reported at once as
 * `file:line:col: message`, positioned with the yaml package's node ranges.
 *
 * @example
 * const result = loadPlaybook(readFileSync("ops/playbooks/backup.yml", "utf8"), "ops/playbooks/backup.yml");
 * if (!result.playbook) for (const d of result.diagnostics) console.error(formatDiagnostic(d));
 */
import { type } from "arktype";
import { type Alias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, visit } from "yaml";
import { MAX_JSON_DEPTH } from "../runtime/json-limits.ts";
import { type ParamSpec, PlaybookDocument, type RetrySpec } from "../schemas/playbook.ts";
import { ACTIONS, type AnyAction } from "./actions/index.ts";
import { parseDuration } from "./duration.ts";
import { checkParamValue } from "./params.ts";
import { isTemplated, parseTemplate, type Reference, type Template, TemplateSyntaxError } from "./template.ts";
import { flowNestingPast, nodeNestingPast } from "./yaml-depth.ts";

/** Nodes the aliases of a document may expand to, as the yaml package counts them (its default). */
const MAX_ALIAS_COUNT = 100;

/** Syntax errors reported one by one; past this, one line says how many more (a broken file can have thousands). */
const MAX_SYNTAX_ERRORS = 20;

export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  message: string;
}

/** `file:line:col: message`, the form editors and CI annotate. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: ${d.message}`;
}

export interface RetryPolicy {
  max: number;
  backoff: "fixed" | "exponential";
  initialMs: number;
  factor: number;
  maxDelayMs: number;
  jitter: number;
}

export type OnFailure = { kind: "abort" } | { kind: "continue" } | { kind: "goto"; target: string };

export interface CompiledStep {
  id: string;
  index: number;
  action: AnyAction;
  description?: string;
  with: Record<string, unknown>;
  when?: unknown;
  timeoutMs: number;
  retry?: RetryPolicy;
  onFailure: OnFailure;
  compensate?: { action: AnyAction; with: Record<string, unknown>; timeoutMs: number };
  /** Outputs redacted everywhere: the action's secretOutputs plus those the step marks secret. */
  secretOutputs: Set<string>;
  /** Every template reference in with/when/compensate (for resume and env snapshots). */
  refs: Reference[];
}

export interface Playbook {
  name: string;
  description: string;
  file: string;
  source: string;
  params: Record<string, ParamSpec>;
  shellAllowlist: string[];
  steps: CompiledStep[];
}

export interface LoadResult {
  playbook?: Playbook;
  diagnostics: Diagnostic[];
}

type Path = readonly (string | number)[];

/** Find the YAML node at `path`; `key` picks the key of the last pair instead of its value. */
function locate(root: Node | null | undefined, path: Path, key = false): Node | undefined {
  let node: Node | null | undefined = root;
  let last: Node | undefined = root ?? undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return last;
      if (key && i === path.length - 1 && isScalar(pair.key)) return pair.key;
      node = pair.value as Node | null;
      if (node) last = node;
      else return isScalar(pair.key) ? pair.key : last;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg] as Node | undefined;
      if (!item) return last;
      node = item;
      last = item;
    } else {
      return last;
    }
  }
  return node ?? last;
}

/**
 * Parse and validate playbook text. `file` is only used in diagnostics.
 *
 * @example
 * loadPlaybook("name: x\nsteps: []\n", "x.yml").diagnostics[0]; // { file: "x.yml", line: 2, col: 8, message: "steps must ..." }
 */
export function loadPlaybook(
  source: string,
  file: string,
  actions: ReadonlyMap<string, AnyAction> = ACTIONS,
): LoadResult {
  const tooDeep = `the document nests collections deeper than ${MAX_JSON_DEPTH} levels`;
  const flow = flowNestingPast(source, MAX_JSON_DEPTH);
  if (flow !== -1) {
    // Before the parser, which recurses on flow collections: one problem, not an overflow per bracket.
    const before = source.slice(0, flow);
    const line = before.split("\n").length;
    return { diagnostics: [{ file, line, col: flow - before.lastIndexOf("\n"), message: tooDeep }] };
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const diagnostics: Diagnostic[] = [];
  const at = (offset: number, message: string) => {
    const { line, col } = lines.linePos(offset);
    diagnostics.push({ file, line, col, message });
  };
  const atNode = (node: Node | undefined, message: string) => at(node?.range?.[0] ?? 0, message);
  const atPath = (path: Path, message: string, key = false) => atNode(locate(doc.contents, path, key), message);

  for (const err of doc.errors.slice(0, MAX_SYNTAX_ERRORS)) at(err.pos[0], err.message.split("\n")[0] as string);
  if (doc.errors.length > MAX_SYNTAX_ERRORS) {
    at(doc.errors[MAX_SYNTAX_ERRORS]?.pos[0] ?? 0, `and ${doc.errors.length - MAX_SYNTAX_ERRORS} more syntax errors`);
  }
  if (diagnostics.length > 0) return { diagnostics };
  const deep = nodeNestingPast(doc.contents, MAX_JSON_DEPTH);
  if (deep) {
    atNode(deep, tooDeep);
    return { diagnostics };
  }

  // Aliases the yaml package would throw on (*x with no &x before it) or expand forever (an alias
  // inside the collection it names): problems at their position, not exceptions.
  let firstAlias: Alias | undefined;
  visit(doc, {
    Alias(_, node, path) {
      firstAlias ??= node;
      const target = node.resolve(doc);
      if (target === undefined) atNode(node, `alias *${node.source} has no anchor &${node.source} before it`);
      else if (path.includes(target as never)) {
        atNode(node, `alias *${node.source} is inside the collection &${node.source} names (it would never end)`);
      }
    },
  });
  if (diagnostics.length > 0) return { diagnostics };
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // An alias bomb: aliases of aliases that would expand past MAX_ALIAS_COUNT nodes.
    atNode(firstAlias, (err as Error).message);
    return { diagnostics };
  }
  const shaped = PlaybookDocument(raw);
  if (shaped instanceof type.errors) {
    for (const e of shaped) {
      const path = e.path as unknown as Path;
      const name = String(path.at(-1) ?? "document");
      if (e.code === "predicate" && e.problem === "must be removed") {
        atPath(path, `unknown key "${name}"`, true);
      } else if (e.code === "required") {
        const where = path.length > 1 ? ` in ${describe(path.slice(0, -1), raw)}` : "";
        atPath(path.slice(0, -1), `missing required key "${name}"${where}`);
      } else {
        const prefix = `${e.propString} `;
        const problem = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.problem;
        atPath(path, `${e.propString || "document"} ${problem}`);
      }
    }
  }
  // Keep checking what is well-formed so one run shows every problem: steps with shape errors are
  // skipped (their ids still count), unless the document or its params are unusable.
  const badSteps = new Set<number>();
  let usable: PlaybookDocument | undefined = shaped instanceof type.errors ? undefined : shaped;
  if (shaped instanceof type.errors) {
    const top = raw as Partial<PlaybookDocument> | null;
    const paths = [...shaped].map((e) => e.path as unknown as Path);
    if (top && Array.isArray(top.steps) && !paths.some((p) => p[0] === "params" || p.length === 0)) {
      for (const p of paths) if (p[0] === "steps" && typeof p[1] === "number") badSteps.add(p[1]);
      usable = { ...(top as PlaybookDocument), steps: top.steps as PlaybookDocument["steps"] };
    }
  }
  if (!usable) return { diagnostics: sortDiagnostics(diagnostics) };
  const shapedDoc: PlaybookDocument = usable;

  const stepIds = new Map<string, number>();
  shapedDoc.steps.forEach((s, i) => {
    if (typeof s?.id !== "string") return;
    if (stepIds.has(s.id))
      atPath(["steps", i, "id"], `duplicate step id "${s.id}" (first used by step ${(stepIds.get(s.id) ?? 0) + 1})`);
    else stepIds.set(s.id, i);
  });
  const params = shapedDoc.params ?? {};
  for (const [name, spec] of Object.entries(params)) {
    if (spec.default !== undefined) {
      const problem = checkParamValue(spec, spec.default);
      if (problem) atPath(["params", name, "default"], `default of param "${name}" ${problem}`);
    }
  }

  const steps: CompiledStep[] = [];
  shapedDoc.steps.forEach((spec, index) => {
    if (badSteps.has(index)) return;
    const stepPath: Path = ["steps", index];
    const action = actions.get(spec.action);
    if (!action) {
      atPath(
        [...stepPath, "action"],
        `unknown action "${spec.action}" (known: ${[...actions.keys()].sort().join(", ")})`,
      );
    }
    const refs: Reference[] = [];
    // Which steps may be referenced: those before this one (and, from compensate, this one too).
    const checkTemplates = (value: unknown, path: Path, selfAllowed: boolean): Path[] => {
      const templated: Path[] = [];
      walkStrings(value, path, (text, p) => {
        if (!isTemplated(text)) return;
        templated.push(p);
        let template: Template;
        const node = locate(doc.contents, p);
        const offsetOf = (within: number) => templateOffset(source, node, text, within);
        try {
          template = parseTemplate(text);
        } catch (err) {
          if (err instanceof TemplateSyntaxError) at(offsetOf(err.offset), err.message);
          else throw err;
          return;
        }
        for (const ref of template.refs) {
          refs.push(ref);
          const problem = referenceProblem(ref, index, selfAllowed, params, stepIds, shapedDoc.steps, actions);
          if (problem) at(offsetOf(ref.offset), problem);
        }
      });
      return templated;
    };
    const templated = checkTemplates(spec.with ?? {}, [...stepPath, "with"], false);
    if (spec.when !== undefined) checkTemplates(spec.when, [...stepPath, "when"], false);
    if (action) checkLiteralInput(action, spec.with ?? {}, templated, [...stepPath, "with"], atPath);

    let compensate: CompiledStep["compensate"];
    if (spec.compensate) {
      const cAction = actions.get(spec.compensate.action);
      const cPath: Path = [...stepPath, "compensate"];
      if (!cAction) atPath([...cPath, "action"], `unknown action "${spec.compensate.action}"`);
      const cTemplated = checkTemplates(spec.compensate.with ?? {}, [...cPath, "with"], true);
      if (cAction) {
        checkLiteralInput(cAction, spec.compensate.with ?? {}, cTemplated, [...cPath, "with"], atPath);
        compensate = {
          action: cAction,
          with: spec.compensate.with ?? {},
          timeoutMs: parseDuration(spec.compensate.timeout) as number,
        };
      }
    }

    let onFailure: OnFailure = { kind: "abort" };
    if (spec.on_failure === "continue") onFailure = { kind: "continue" };
    else if (spec.on_failure?.startsWith("goto:")) {
      const target = spec.on_failure.slice(5);
      if (!stepIds.has(target)) atPath([...stepPath, "on_failure"], `goto target "${target}" is not a step id`);
      else if (target === spec.id) atPath([...stepPath, "on_failure"], `goto target "${target}" is this step itself`);
      onFailure = { kind: "goto", target };
    }

    const secretOutputs = new Set<string>(action?.secretOutputs ?? []);
    for (const [name, out] of Object.entries(spec.outputs ?? {})) {
      if (action && !action.outputs.includes(name)) {
        atPath(
          [...stepPath, "outputs", name],
          `action "${action.name}" has no output "${name}" (it has: ${action.outputs.join(", ") || "none"})`,
          true,
        );
      }
      if (out.secret) secretOutputs.add(name);
    }

    if (action) {
      steps.push({
        id: spec.id,
        index,
        action,
        description: spec.description,
        with: spec.with ?? {},
        when: spec.when,
        timeoutMs: parseDuration(spec.timeout) as number,
        retry: spec.retry ? retryPolicy(spec.retry) : undefined,
        onFailure,
        compensate,
        secretOutputs,
        refs,
      });
    }
  });

  if (diagnostics.length > 0) return { diagnostics: sortDiagnostics(diagnostics) };
  return {
    diagnostics,
    playbook: {
      name: shapedDoc.name,
      description: shapedDoc.description ?? "",
      file,
      source,
      params,
      shellAllowlist: shapedDoc.shell_allowlist ?? [],
      steps,
    },
  };
}

function sortDiagnostics(list: Diagnostic[]): Diagnostic[] {
  return list.sort((a, b) => a.line - b.line || a.col - b.col);
}

function describe(path: Path, raw: unknown): string {
  if (path[0] === "steps" && typeof path[1] === "number") {
    const step = (raw as { steps?: { id?: unknown }[] }).steps?.[path[1]];
    const id = typeof step?.id === "string" ? `"${step.id}"` : `#${path[1] + 1}`;
    return path.length === 2 ? `step ${id}` : `step ${id} ${path.slice(2).join(".")}`;
  }
  return path.join(".");
}

function retryPolicy(spec: RetrySpec): RetryPolicy {
  return {
    max: spec.max,
    backoff: spec.backoff ?? "exponential",
    initialMs: parseDuration(spec.initial ?? "1s") as number,
    factor: spec.factor ?? 2,
    maxDelayMs: parseDuration(spec.max_delay ?? "5m") as number,
    jitter: spec.jitter ?? 0,
  };
}

function referenceProblem(
  ref: Reference,
  index: number,
  selfAllowed: boolean,
  params: Record<string, ParamSpec>,
  stepIds: Map<string, number>,
  specs: readonly { id: string; action: string; outputs?: Record<string, unknown> }[],
  actions: ReadonlyMap<string, AnyAction>,
): string | undefined {
  if (ref.kind === "env") return undefined;
  if (ref.kind === "params") {
    return Object.hasOwn(params, ref.name)
      ? undefined
      : `unknown param "${ref.name}" in ${ref.text} (declared: ${Object.keys(params).join(", ") || "none"})`;
  }
  const target = stepIds.get(ref.step);
  if (target === undefined) return `unknown step "${ref.step}" in ${ref.text}`;
  if (target > index || (target === index && !selfAllowed)) {
    return `${ref.text} refers to step "${ref.step}", which does not run before this one`;
  }
  if (ref.kind === "output") {
    const action = actions.get(specs[target]?.action ?? "");
    if (action && !action.outputs.includes(ref.name)) {
      return `step "${ref.step}" (${action.name}) has no output "${ref.name}" (it has: ${action.outputs.join(", ") || "none"})`;
    }
  }
  return undefined;
}

/** Visit every string inside a value with its path. */
function walkStrings(value: unknown, path: Path, visit: (text: string, path: Path) => void): void {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) walkStrings(v, [...path, i], visit);
  } else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walkStrings(v, [...path, k], visit);
  }
}

/**
 * Map an offset inside a parsed string back to the file: the n-th `${{` of the value is the n-th
 * `${{` of the node's source text, so positions stay exact through quotes and indentation.
 */
function templateOffset(source: string, node: Node | undefined, text: string, within: number): number {
  const start = node?.range?.[0] ?? 0;
  if (!node?.range) return start;
  const rawText = source.slice(node.range[0], node.range[1]);
  const open = text.lastIndexOf("${{", within);
  if (open < 0) return start;
  let nth = 0;
  for (let i = text.indexOf("${{"); i >= 0 && i < open; i = text.indexOf("${{", i + 3)) nth++;
  let rawOpen = -1;
  for (let k = 0, i = rawText.indexOf("${{"); i >= 0; k++, i = rawText.indexOf("${{", i + 3)) {
    if (k === nth) {
      rawOpen = i;
      break;
    }
  }
  if (rawOpen < 0) return start;
  return start + rawOpen + (within - open);
}

/** Check `with` against the action's input now, ignoring fields whose value is templated. */
function checkLiteralInput(
  action: AnyAction,
  input: Record<string, unknown>,
  templated: Path[],
  base: Path,
  atPath: (path: Path, message: string, key?: boolean) => void,
): void {
  const result = action.input(input);
  if (!(result instanceof type.errors)) return;
  const templatedKeys = templated.map((p) => p.slice(base.length).join("."));
  for (const e of result) {
    const rel = (e.path as unknown as Path).map(String);
    const joined = rel.join(".");
    if (templatedKeys.some((k) => joined === k || joined.startsWith(`${k}.`) || k.startsWith(`${joined}.`))) continue;
    if (joined === "" && templatedKeys.length > 0 && e.code === "predicate") continue;
    const path = [...base, ...rel];
    if (e.code === "predicate" && e.problem === "must be removed") {
      atPath(path, `${action.name}: unknown input "${rel.at(-1)}"`, true);
    } else if (e.code === "required") {
      atPath(base, `${action.name}: missing input "${rel.at(-1)}" (${e.problem.replace(/ \(was missing\)$/, "")})`);
    } else {
      atPath(path, `${action.name}: ${joined ? `${joined} ` : "input "}${e.problem}`);
    }
  }
}
