/**
 * Where the console's files come from, through the shell's own app in process: a production
 * server without a build answers its pages with a 503 saying to run `bun run build` (the API
 * stays up); a development server builds the console on its first page when there is none, and
 * again when the build is older than the client's source; a current build is used as it is.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { ActorSystem } from "../../runtime/actor/index.ts";
import { loadConfig } from "../../runtime/config.ts";
import { Drain } from "../../runtime/drain.ts";
import { createHttpApp } from "../../runtime/http/app.ts";
import { WsGateway } from "../../runtime/http/ws-gateway.ts";
import { createLogger } from "../../runtime/log.ts";
import { type ConsoleAssets, ConsoleNotBuilt, openConsoleAssets } from "../../web/assets.ts";
import type { ConsoleManifest } from "../../web/build.ts";
import { consoleRoutes } from "../../web/plugin.ts";
import { tempDir } from "../support/server.ts";

let system: ActorSystem;
const dirs: string[] = [];
const lines: string[] = [];
const log = createLogger("INFO", { write: (line: string) => void lines.push(line) });

beforeAll(() => {
  system = new ActorSystem({ metricsIntervalMs: 0 });
});
afterAll(async () => {
  await system.shutdown();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function appWith(assets: ConsoleAssets) {
  return createHttpApp({
    config: loadConfig({}),
    log,
    system,
    gateway: new WsGateway({ heartbeatMs: 60_000, log }),
    drain: new Drain(),
    version: "test",
    startedAt: Date.now(),
    routes: [consoleRoutes({ assets })],
  });
}

const get = (app: ReturnType<typeof appWith>, path: string) => app.handle(new Request(`http://localhost${path}`));

function freshDir(): string {
  const dir = join(tempDir("aragora-console-"), "web");
  dirs.push(dir.slice(0, -"/web".length));
  return dir;
}

describe("a production server without a build", () => {
  test("answers the console's pages 503 naming the command that builds it; the API is unaffected", async () => {
    const dir = freshDir();
    const assets = openConsoleAssets({ env: "production", log, dir });
    await expect(assets.manifest()).rejects.toBeInstanceOf(ConsoleNotBuilt);
    const app = appWith(assets);
    for (const path of ["/signin", "/assets/main-abc.js"]) {
      const res = await get(app, path);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe("console_not_built");
      expect(body.message).toContain("bun run build");
    }
    expect((await get(app, "/api/health")).status).toBe(200);
    // It never builds one itself.
    expect(existsSync(join(dir, "manifest.json"))).toBe(false);
  });
});

describe("a development server", () => {
  test("builds the console on its first page when there is none, then serves that build", async () => {
    const dir = freshDir();
    const app = appWith(openConsoleAssets({ env: "development", log, dir }));
    const res = await get(app, "/debates");
    expect(res.status).toBe(200);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as ConsoleManifest;
    expect(await res.text()).toContain(`src="/assets/${manifest.entry}"`);
    expect(lines.some((l) => l.includes('"msg":"web console built"') && l.includes('"reason":"missing"'))).toBe(true);
    const script = await get(app, `/assets/${manifest.entry}`);
    expect(script.status).toBe(200);
    expect(script.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
  }, 60_000);

  test("uses a current build as it is, and rebuilds one older than the client's source", async () => {
    const dir = freshDir();
    const first = await openConsoleAssets({ env: "development", log, dir }).manifest();
    const again = await openConsoleAssets({ env: "development", log, dir }).manifest();
    expect(again.builtAt).toBe(first.builtAt);
    // A build from before the source was last changed.
    utimesSync(join(dir, "manifest.json"), new Date(0), new Date(0));
    const rebuilt = await openConsoleAssets({ env: "development", log, dir }).manifest();
    expect(rebuilt.builtAt).not.toBe(first.builtAt);
    expect(lines.some((l) => l.includes('"reason":"stale"'))).toBe(true);
  }, 60_000);
});
