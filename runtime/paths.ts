/**
 * Where the installation lives: the directory holding Aragora's package.json. Found by walking
 * up from this module, so it is right both from source (runtime/) and from the bundle (dist/).
 *
 * @example
 * join(PROJECT_ROOT, "migrations", "sqlite"); // the shipped migrations
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";

function findRoot(start: string): string {
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
    if (parent === dir) throw new Error(`cannot find Aragora's package.json above ${start}`);
    dir = parent;
  }
}

export const PROJECT_ROOT: string = findRoot(import.meta.dir);
