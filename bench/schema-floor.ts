/**
 * The cold-start floor of a server built on our schema library, for bench/http.ts: what `aragora
 * serve` cannot skip before it answers GET /api/health (the runtime, ArkType in jitless mode, the
 * configuration parsed by its schemas), then a bare Bun.serve answering with the same JSON. No
 * store, routes, features, logs or metrics. Run from source and compiled like the server
 * (`bun build --compile --bytecode --minify`), each beside the server in the same form.
 *
 * @example
 * bun bench/schema-floor.ts 18081
 */
// First, as in app/cli.ts: ArkType reads its configuration when it loads.
import "../runtime/arktype-config.ts";
import { loadConfig } from "../runtime/config.ts";

const startedAt = Date.now();
const config = loadConfig();
const server = Bun.serve({
  port: Number(process.argv[2] ?? 0),
  hostname: config.host,
  fetch(req) {
    if (new URL(req.url).pathname === "/api/health") {
      return Response.json({
        status: "healthy",
        version: "0.1.0",
        uptime: Math.floor((Date.now() - startedAt) / 1000),
      });
    }
    return new Response("not found", { status: 404 });
  },
});
console.log(JSON.stringify({ port: server.port }));
