/**
 * The registry by path. Paths mirror the supervision tree (`/system/debates/d-42`), so the tree
 * itself is the registry: each actor indexes its children by name, lookup walks the segments,
 * and an actor's entry disappears with its parent's child-map entry when it stops. No second
 * map of every actor to keep in sync or to leak.
 */
import type { ActorCell } from "./cell.ts";

const DOLLAR = 36;

/** Throws unless `name` can be a child name: non-empty, no "/", no leading "$" (reserved). */
export function assertChildName(name: string): void {
  if (name.length === 0 || name.indexOf("/") >= 0 || name.charCodeAt(0) === DOLLAR) {
    throw new TypeError(`invalid actor name ${JSON.stringify(name)}: non-empty, no "/", no leading "$"`);
  }
}

/** Resolves an absolute path from the root cell; undefined when nothing lives there. */
export function resolvePath(root: ActorCell, path: string): ActorCell | undefined {
  const rootPath = root.path;
  if (path === rootPath) return root;
  if (!path.startsWith(`${rootPath}/`)) return undefined;
  let cell: ActorCell | undefined = root;
  for (const segment of path.slice(rootPath.length + 1).split("/")) {
    cell = cell.childMap?.get(segment);
    if (cell === undefined) return undefined;
  }
  return cell;
}
