/**
 * The webhook benchmark's receiver, a process of its own (bench/webhooks.ts spawns it): Bun.serve on
 * a free port of 127.0.0.1 answering every POST 200 "ok". It keeps what the benchmark asks for and
 * nothing more, so its own cost stays small beside the sender's:
 *
 * - the number of requests and of distinct delivery ids (`x-webhook-delivery-id`);
 * - with `?mode=latency` set by `POST /__mode`, each body's event key (`<debate_id>:<seq>`) with the
 *   wall-clock time it arrived (performance.timeOrigin + performance.now(): the same clock as the
 *   sender's, to the microsecond).
 *
 * Control routes: `GET /__stats` → `{requests, distinct}`; `POST /__reset?mode=count|latency`;
 * `GET /__arrivals` → `[[key, epochMs], ...]`. Prints `port <n>` once listening.
 *
 * @example bun bench/webhooks/receiver.ts   # → "port 41234"
 */
let requests = 0;
let ids = new Set<string>();
let latency = false;
let arrivals: [string, number][] = [];

const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/__stats") return Response.json({ requests, distinct: ids.size });
    if (url.pathname === "/__arrivals") return Response.json(arrivals);
    if (url.pathname === "/__reset") {
      requests = 0;
      ids = new Set();
      arrivals = [];
      latency = url.searchParams.get("mode") === "latency";
      return new Response("reset");
    }
    const body = await req.text();
    const at = performance.timeOrigin + performance.now();
    requests++;
    const id = req.headers.get("x-webhook-delivery-id");
    if (id !== null) ids.add(id);
    if (latency) {
      const data = (JSON.parse(body) as { data: { debate_id: string; seq: number } }).data;
      arrivals.push([`${data.debate_id}:${data.seq}`, at]);
    }
    return new Response("ok");
  },
});
console.log(`port ${receiver.port}`);

export {};
