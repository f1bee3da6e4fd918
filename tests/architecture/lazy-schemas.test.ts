/**
 * The server's schemas are built when first used, not at start-up (schemas/lazy.ts): building
 * them all cost most of the cold start. Here a fresh process starts the real server, answers
 * /api/health, and reports how many schemas it had built by then; then a request that fails
 * validation builds its body schema and is refused naming the field, exactly as before; and every
 * schema the server's modules define still builds.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Glob } from "bun";
import { BUN, childEnv, ROOT, tempDir } from "../support/server.ts";

/** Every module that defines a lazy schema, so the probe can build them all. */
function modulesWithLazySchemas(): string[] {
  const out: string[] = [];
  for (const dir of ["schemas", "runtime", "access", "actors", "ops", "app"]) {
    for (const path of new Glob("**/*.ts").scanSync(join(ROOT, dir))) {
      if (path.endsWith(".test.ts") || path.endsWith(".d.ts")) continue;
      const file = join(ROOT, dir, path);
      if (/\blazy\(\(\) =>/.test(readFileSync(file, "utf8"))) out.push(file);
    }
  }
  return out;
}

const PROBE = `
import "./runtime/arktype-config.ts";
import { buildAllLazy, lazyStats } from "./schemas/lazy.ts";
import { loadConfig } from "./runtime/config.ts";
import { createLogger } from "./runtime/log.ts";
import { startServer } from "./app/server.ts";

const config = loadConfig(process.env);
const afterConfig = lazyStats();
const server = await startServer({ config, log: createLogger("ERROR") });
const api = "http://127.0.0.1:" + server.apiPort;
const health = await fetch(api + "/api/health");
const afterHealth = lazyStats();
const refused = await fetch(api + "/api/auth/sign-in", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ email: "someone@example.com" }),
});
const refusedBody = await refused.json();
const afterRefused = lazyStats();
await server.shutdown("probe");
for (const file of JSON.parse(process.env.PROBE_MODULES)) await import(file);
const all = lazyStats();
const built = buildAllLazy();
console.log(JSON.stringify({ afterConfig, health: health.status, afterHealth, refused: refused.status, refusedBody, afterRefused, all, built, end: lazyStats() }));
`;

describe("schemas are built on first use", () => {
  test("start-up builds no schema beyond the configuration's; a request builds its own; every one builds", async () => {
    const modules = modulesWithLazySchemas();
    expect(modules.length).toBeGreaterThan(40);
    const proc = Bun.spawn([BUN, "-e", PROBE], {
      cwd: ROOT,
      env: childEnv({
        ARAGORA_DATA_DIR: tempDir(),
        ARAGORA_API_PORT: "0",
        ARAGORA_WS_PORT: "0",
        ARAGORA_HOST: "127.0.0.1",
        ARAGORA_LOG_LEVEL: "ERROR",
        PROBE_MODULES: JSON.stringify(modules),
      }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    expect({ code, err: code === 0 ? "" : err }).toEqual({ code: 0, err: "" });
    const line = out.trim().split("\n").pop() as string;
    const r = JSON.parse(line);

    expect(r.health).toBe(200);
    // Answering the first request took no schema beyond those that parsed the environment.
    expect(r.afterHealth.built).toBe(r.afterConfig.built);
    expect(r.afterConfig.built).toBeLessThan(r.afterConfig.made / 4);
    // A body that breaks its schema is refused as before: 422 naming the field and the rule.
    expect(r.refused).toBe(422);
    expect(r.refusedBody.details).toContainEqual({ field: "body.password", rule: "must be a string (was missing)" });
    expect(r.afterRefused.built).toBeGreaterThan(r.afterHealth.built);
    // Every schema of the server's modules builds (a bad definition fails here, not on a request).
    expect(r.all.made).toBeGreaterThan(200);
    expect(r.built).toBe(r.all.made);
    expect(r.end).toEqual({ made: r.all.made, built: r.all.made });
  }, 60_000);
});
