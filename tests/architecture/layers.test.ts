/**
 * The layers point one way: app/ (the process shell) -> actors/, access/, ops/ (features), web/
 * (the console) -> runtime/ (the library) -> schemas/. This walks every import of every module (unit tests beside their module
 * excepted) and fails on one that points the wrong way, naming the file and the import.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const LAYERS = ["app", "actors", "access", "ops", "web", "runtime", "schemas"] as const;
type Layer = (typeof LAYERS)[number];

/** What each layer may import (besides packages and itself). */
const ALLOWED: Record<Layer, Layer[]> = {
  app: ["actors", "access", "ops", "web", "runtime", "schemas"],
  // actors/runbook runs the playbook engine of ops/.
  actors: ["ops", "runtime", "schemas"],
  access: ["runtime", "schemas"],
  ops: ["runtime", "schemas"],
  // The console's server side; its client (web/client) imports only packages and itself.
  web: ["runtime", "schemas"],
  runtime: ["schemas"],
  schemas: [],
};

/**
 * Imports across the feature layers that are allowed on purpose, each with its reason. The ops
 * action `debates.verify` (weekly maintenance) runs the debate feature's own verification.
 */
const EXCEPTIONS: Record<string, string[]> = {
  "ops/actions/debates-verify.ts": [
    "actors/debate/debate-snapshots.ts",
    "actors/debate/debate-verify.ts",
    "actors/debate/verify-command.ts",
  ],
};

function modules(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return modules(path);
    return /\.tsx?$/.test(name) && !/\.test\.ts$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

function importsOf(file: string): string[] {
  // Doc comments hold examples of imports; only code counts.
  const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  return [...code.matchAll(IMPORT)].map((m) => (m[1] ?? m[2]) as string).filter((s) => s.startsWith("."));
}

const layerOf = (path: string): string => relative(ROOT, path).split("/")[0] as string;

describe("layers point one way", () => {
  for (const layer of LAYERS) {
    test(`${layer}/ imports only ${ALLOWED[layer].join(", ") || "itself"}`, () => {
      const wrong: string[] = [];
      for (const file of modules(join(ROOT, layer))) {
        const from = relative(ROOT, file);
        for (const spec of importsOf(file)) {
          const target = resolve(dirname(file), spec);
          const to = layerOf(target);
          if (to === layer || to === "package.json" || (ALLOWED[layer] as string[]).includes(to)) continue;
          if (EXCEPTIONS[from]?.includes(relative(ROOT, target))) continue;
          wrong.push(`${from} imports ${relative(ROOT, target)}`);
        }
      }
      expect(wrong).toEqual([]);
    });
  }

  test("web/client/ (the browser's code) imports only packages and itself", () => {
    const client = join(ROOT, "web", "client");
    const wrong: string[] = [];
    for (const file of modules(client)) {
      for (const spec of importsOf(file)) {
        const target = resolve(dirname(file), spec);
        if (!target.startsWith(`${client}/`)) wrong.push(`${relative(ROOT, file)} imports ${relative(ROOT, target)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("the check sees imports (a module known to import the runtime is found)", () => {
    const file = join(ROOT, "app/server.ts");
    expect(importsOf(file).some((s) => s.startsWith("../runtime/"))).toBe(true);
  });
});

describe("one error mapper", () => {
  test("only the error mapper builds an error body: routes and guards throw or return HttpError", () => {
    const builders: string[] = [];
    const mapper = ["runtime/http/errors.ts", "runtime/http/app.ts"];
    // The audit log records each request's id as a field of its entries (not an error body).
    const recordsRequestIds = ["access/audit-routes.ts", "access/audit-schemas.ts"];
    for (const layer of ["app", "actors", "access", "ops", "runtime"]) {
      for (const file of modules(join(ROOT, layer))) {
        if (mapper.includes(relative(ROOT, file))) continue;
        if (recordsRequestIds.includes(relative(ROOT, file))) {
          if (/\berrorResponse\(/.test(readFileSync(file, "utf8"))) builders.push(relative(ROOT, file));
          continue;
        }
        const code = readFileSync(file, "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
        // Features must not even name a request id in a body; the library logs it (request_id: in log lines).
        const builds = layer === "runtime" ? /\berrorResponse\(/ : /\berrorResponse\(|\brequest_id:/;
        if (builds.test(code)) builders.push(relative(ROOT, file));
      }
    }
    expect(builders).toEqual([]);
  });
});
