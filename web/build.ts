/**
 * The console's build: `Bun.build` bundles web/client/main.tsx (Preact, signals, the pages split
 * into chunks loaded on demand) into content-hashed files under one directory, each with a gzip
 * twin, and writes `manifest.json` last, so a reader never sees a manifest naming files that are
 * not there yet. The files' names change with their content: the server may cache them for a year.
 *
 * Run by `bun run build` (into dist/web, beside the compiled binary) and by a development server
 * that finds no built console (assets.ts).
 *
 * @example
 * const manifest = await buildConsole({ outdir: "dist/web", clean: true });
 * manifest.entry; // "main-3f2a9c1d.js"
 *
 * bun web/build.ts dist/web   # what `bun run build` runs
 */
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** Where the client's source is. */
export const CLIENT_DIR = resolve(import.meta.dir, "client");
/** The URL path the built files are served under (plugin.ts). */
export const ASSETS_PATH = "/assets/";
/** The manifest's file name in the output directory. */
export const MANIFEST_FILE = "manifest.json";

/** What one build made: the files a page needs, and every file the server may serve. */
export interface ConsoleManifest {
  /** The entry script the HTML shell loads (a module). */
  entry: string;
  /** Scripts the entry imports statically: preloaded by the shell, shipped with every first page. */
  preload: string[];
  /**
   * Style sheets the shell links: every one built, a lazily loaded page's too (Bun's chunks do not
   * load their own CSS), so a page's styles are there before its script runs.
   */
  styles: string[];
  /** Every file built, by name: its size in bytes, plain and gzipped. */
  files: Record<string, { bytes: number; gzipBytes: number }>;
  builtAt: string;
}

export interface BuildOptions {
  /** The directory the files and manifest.json go to. */
  outdir: string;
  /** Remove what the directory held before (a release build); a development build leaves older files for pages still open. */
  clean?: boolean;
  /** Minify (default true). */
  minify?: boolean;
}

const STATIC_IMPORT = /(?:^|[;\n}])\s*import\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/g;

/** The built chunks `code` imports statically (not `import()`): their file names. */
function staticImportsOf(code: string): string[] {
  return [...code.matchAll(STATIC_IMPORT)]
    .map((m) => m[1] as string)
    .filter((spec) => spec.startsWith(ASSETS_PATH) || spec.startsWith("./"))
    .map((spec) => basename(spec));
}

/**
 * Bundle the console into `outdir` and return its manifest. Throws with Bun's messages when the
 * client does not build.
 *
 * @example await buildConsole({ outdir: join(PROJECT_ROOT, "dist", "web") });
 */
export async function buildConsole(options: BuildOptions): Promise<ConsoleManifest> {
  const outdir = resolve(options.outdir);
  mkdirSync(dirname(outdir), { recursive: true });
  // Built beside the target and moved in file by file: another server building at the same time
  // writes identical files, and one being read is replaced whole (rename), never half-written.
  const staging = mkdtempSync(join(dirname(outdir), `.${basename(outdir)}-build-`));
  try {
    const result = await Bun.build({
      entrypoints: [join(CLIENT_DIR, "main.tsx")],
      outdir: staging,
      target: "browser",
      format: "esm",
      splitting: true,
      minify: options.minify ?? true,
      sourcemap: "none",
      publicPath: ASSETS_PATH,
      naming: { entry: "[name]-[hash].[ext]", chunk: "chunk-[hash].[ext]", asset: "[name]-[hash].[ext]" },
      define: { "process.env.NODE_ENV": JSON.stringify("production") },
      throw: false,
    });
    if (!result.success) {
      throw new Error(`the console did not build:\n${result.logs.map((l) => String(l)).join("\n")}`);
    }
    const files: ConsoleManifest["files"] = {};
    const code = new Map<string, string>();
    let entry: string | undefined;
    const styles: string[] = [];
    for (const output of result.outputs) {
      const name = basename(output.path);
      const bytes = new Uint8Array(await output.arrayBuffer());
      const gzipped = Bun.gzipSync(bytes, { level: 9 });
      writeFileSync(join(staging, `${name}.gz`), gzipped);
      files[name] = { bytes: bytes.byteLength, gzipBytes: gzipped.byteLength };
      if (name.endsWith(".js")) code.set(name, new TextDecoder().decode(bytes));
      if (name.endsWith(".css")) styles.push(name);
      else if (output.kind === "entry-point") entry = name;
    }
    if (entry === undefined) throw new Error("the console's build made no entry script");
    const preload: string[] = [];
    const walk = (name: string) => {
      for (const imported of staticImportsOf(code.get(name) ?? "")) {
        if (!code.has(imported) || preload.includes(imported)) continue;
        preload.push(imported);
        walk(imported);
      }
    };
    walk(entry);
    const manifest: ConsoleManifest = { entry, preload, styles, files, builtAt: new Date().toISOString() };

    if (options.clean) rmSync(outdir, { recursive: true, force: true });
    mkdirSync(outdir, { recursive: true });
    for (const name of readdirSync(staging)) renameSync(join(staging, name), join(outdir, name));
    const manifestTemp = join(outdir, `.${MANIFEST_FILE}.${process.pid}`);
    writeFileSync(manifestTemp, `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(manifestTemp, join(outdir, MANIFEST_FILE));
    return manifest;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

// No top-level await: the server imports this module, and the compiled binary is CommonJS.
if (import.meta.main) {
  const outdir = process.argv[2] ?? join(import.meta.dir, "..", "dist", "web");
  buildConsole({ outdir, clean: true }).then(
    (manifest) => {
      const js = [manifest.entry, ...manifest.preload].reduce((sum, f) => sum + (manifest.files[f]?.gzipBytes ?? 0), 0);
      process.stdout.write(
        `console built into ${outdir}: ${Object.keys(manifest.files).length} files, first page ${(js / 1024).toFixed(1)} KB of JavaScript gzipped\n`,
      );
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
