/**
 * Where the built console is, and making it when a development server finds none. The compiled
 * binary reads `web/` beside itself (dist/web, which `bun run build` makes with dist/aragora, as
 * it makes the worker bundles); from source it is the checkout's dist/web. A server run from
 * source outside production builds the console on start when dist/web has no manifest or the
 * client's source changed since it was built: in the background, so the server listens at once
 * and the first page waits for the build instead.
 *
 * @example
 * const assets = openConsoleAssets({ env: config.env, log });
 * const manifest = await assets.manifest(); // throws ConsoleNotBuilt in production without a build
 * Bun.file(assets.path(manifest.entry));
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Environment } from "../runtime/config.ts";
import type { Logger } from "../runtime/log.ts";
import { PROJECT_ROOT } from "../runtime/paths.ts";
import { COMPILED } from "../runtime/worker-entry.ts";
import { buildConsole, CLIENT_DIR, type ConsoleManifest, MANIFEST_FILE } from "./build.ts";

/** The built console's directory: beside the compiled binary, or the checkout's dist/web. */
export function consoleDir(): string {
  return COMPILED ? join(dirname(process.execPath), "web") : join(PROJECT_ROOT, "dist", "web");
}

/** The console was not built and this server does not build it (production, or the compiled binary). */
export class ConsoleNotBuilt extends Error {
  constructor(readonly dir: string) {
    super(`the web console is not built (no ${join(dir, MANIFEST_FILE)}): run \`bun run build\``);
    this.name = "ConsoleNotBuilt";
  }
}

export interface ConsoleAssets {
  /** The directory the files are in. */
  readonly dir: string;
  /** The manifest once the console is there (built now if need be); rejects with why it is not. */
  manifest(): Promise<ConsoleManifest>;
  /** The path of a built file named in the manifest. */
  path(file: string): string;
}

export interface ConsoleAssetsOptions {
  env: Environment;
  log: Logger;
  /** Where the built console is (default {@link consoleDir}). */
  dir?: string;
  /** Build it when missing or older than its source (default: from source, outside production). */
  buildWhenStale?: boolean;
}

/** The newest modification time of the client's source files, in ms. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestSource(path) : stat.mtimeMs);
  }
  return newest;
}

function readManifest(dir: string): ConsoleManifest | undefined {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, "utf8")) as ConsoleManifest;
}

/**
 * The console's files for this server (see the module comment).
 *
 * @example const assets = openConsoleAssets({ env: "development", log });
 */
export function openConsoleAssets(options: ConsoleAssetsOptions): ConsoleAssets {
  const dir = options.dir ?? consoleDir();
  const log = options.log;
  const mayBuild = options.buildWhenStale ?? (!COMPILED && options.env !== "production");
  let pending: Promise<ConsoleManifest> | undefined;

  const load = async (): Promise<ConsoleManifest> => {
    const found = readManifest(dir);
    if (!mayBuild) {
      if (found === undefined) throw new ConsoleNotBuilt(dir);
      return found;
    }
    const builtAt = found === undefined ? 0 : statSync(join(dir, MANIFEST_FILE)).mtimeMs;
    if (found !== undefined && existsSync(CLIENT_DIR) && newestSource(CLIENT_DIR) <= builtAt) return found;
    const started = performance.now();
    const manifest = await buildConsole({ outdir: dir });
    log.info(
      { dir, build_ms: Math.round(performance.now() - started), reason: found === undefined ? "missing" : "stale" },
      "web console built",
    );
    return manifest;
  };

  return {
    dir,
    manifest() {
      pending ??= load();
      // A failed build is tried again by the next page asked for (the source may be fixed by then).
      pending.catch(() => {
        pending = undefined;
      });
      return pending;
    },
    path: (file) => join(dir, file),
  };
}
