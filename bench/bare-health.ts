/**
 * The floor for bench/http.ts: a bare Bun.serve answering GET /api/health with the same JSON
 * shape the real server returns, and nothing else (no routing library, no logs, no metrics).
 *
 * @example
 * bun bench/bare-health.ts 18081
 */
const startedAt = Date.now();
const server = Bun.serve({
  port: Number(process.argv[2] ?? 0),
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
