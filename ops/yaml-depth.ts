/**
 * How deeply a playbook nests its collections, measured without recursion: the flow collections
 * (`[...]`, `{...}`) in the text before the YAML parser (which recurses on them, and spends seconds
 * on a few thousand levels) sees it, and every collection of the parsed document before it is
 * turned into plain values. A playbook needs a handful of levels; a document past the limit is one
 * problem at its position, not a stack overflow reported once per bracket.
 *
 * @example
 * flowNestingPast("with: [[[1]]]", 2);                  // 8, the offset of the third "["
 * nodeNestingPast(parseDocument("a: {b: [1]}").contents, 1); // the node at depth 2
 */
import { isMap, isPair, isSeq, type Node } from "yaml";

/**
 * The offset where flow collections first nest deeper than `limit`, or -1. Quoted scalars and
 * comments are skipped; a bracket inside a plain scalar counts, so it can only make the answer
 * earlier, never let a deep document through.
 *
 * @example flowNestingPast("a: '[[['", 1) // -1
 */
export function flowNestingPast(text: string, limit: number): number {
  let depth = 0;
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "\n") {
      lineStart = true;
      continue;
    }
    const spaced = lineStart || text[i - 1] === " " || text[i - 1] === "\t";
    // A quote opens a quoted scalar only where a scalar starts (not the apostrophe in "don't").
    const opens = spaced || text[i - 1] === "[" || text[i - 1] === "{" || text[i - 1] === ",";
    if (c !== " " && c !== "\t") lineStart = false;
    if (c === "#" && spaced) {
      const end = text.indexOf("\n", i);
      i = end === -1 ? text.length : end - 1;
    } else if (c === "'" && opens) {
      // '' is a quote inside a single-quoted scalar.
      for (i++; i < text.length; i++) {
        if (text[i] === "'" && text[i + 1] === "'") i++;
        else if (text[i] === "'") break;
      }
    } else if (c === '"' && opens) {
      for (i++; i < text.length; i++) {
        if (text[i] === "\\") i++;
        else if (text[i] === '"') break;
      }
    } else if (c === "[" || c === "{") {
      depth++;
      if (depth > limit) return i;
    } else if ((c === "]" || c === "}") && depth > 0) {
      depth--;
    }
  }
  return -1;
}

/**
 * The first collection of a parsed YAML document nested deeper than `limit` (the top collection
 * is level 1), or undefined.
 *
 * @example nodeNestingPast(parseDocument("a: [1]").contents, 1) // the [1] sequence
 */
export function nodeNestingPast(root: unknown, limit: number): Node | undefined {
  const stack: { node: unknown; depth: number }[] = [{ node: root, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop() as { node: unknown; depth: number };
    if (!isMap(node) && !isSeq(node)) continue;
    if (depth > limit) return node as Node;
    for (const item of node.items) {
      if (isPair(item)) {
        stack.push({ node: item.key, depth: depth + 1 });
        stack.push({ node: item.value, depth: depth + 1 });
      } else stack.push({ node: item, depth: depth + 1 });
    }
  }
  return undefined;
}
