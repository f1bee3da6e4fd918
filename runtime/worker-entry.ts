/**
 * Where a worker thread's code is. From source it is the worker's own module. In the compiled
 * binary (`bun run build`) it is the worker's prebuilt bundle in `dist/workers/`, beside the
 * binary: a bytecode-compiled executable starts workers from the source path and cannot resolve
 * their packages there, while a bundle has every dependency inlined and resolves nothing.
 *
 * @example
 * new Worker(workerEntry(new URL("./provider-worker.ts", import.meta.url), "provider-worker"));
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** True inside an executable made by `bun build --compile`. */
export const COMPILED = Bun.main.startsWith("/$bunfs/");

/**
 * The module a Worker should load: `source` when running from source, else
 * `<binary dir>/workers/<bundle>.js`. Throws, naming the file and the command that makes it, when
 * the bundle is missing.
 *
 * @example workerEntry(new URL("./wal-checkpoint-worker.ts", import.meta.url), "wal-checkpoint-worker")
 */
export function workerEntry(source: URL, bundle: string): string {
  if (!COMPILED) return source.href;
  const path = join(dirname(process.execPath), "workers", `${bundle}.js`);
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: the binary's worker bundles are built beside it by \`bun run build\``);
  }
  return path;
}
