/**
 * Where the installation lives: the directory holding Aragora's package.json. Found by walking
 * up from this module, so it is right both from source (runtime/) and from the compiled binary (dist/).
 *
 * @example
 * join(PROJECT_ROOT, "migrations", "sqlite"); // the shipped migrations
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function findRoot(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      try {
        if ((JSON.parse(readFileSync(candidate, "utf8")) as { name?: string }).name === "aragora") return dir;
      } catch {
        // not ours: keep walking
      }
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// A compiled binary (`bun run build`) may have been moved next to its checkout: look beside it too.
const root = findRoot(import.meta.dir) ?? findRoot(dirname(process.execPath)) ?? findRoot(process.cwd());
if (root === undefined)
  throw new Error(`cannot find Aragora's package.json above ${import.meta.dir} or ${process.cwd()}`);

export const PROJECT_ROOT: string = root;
