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
 * Control routes: `GET /__stats` → `{requests, distinct, last}` (`last`: when the last request
 * arrived, epoch ms); `GET /__wait?count=N` → the same, answered once N requests have arrived (so
 * the sender waits without polling: a poll every few ms was load on the process measured);
 * `POST /__reset?mode=count|latency`; `GET /__arrivals` → `[[key, epochMs], ...]`. Prints
 * `port <n>` once listening.
 *
 * @example bun bench/webhooks/receiver.ts   # → "port 41234"
 */
let requests = 0;
let ids = new Set<string>();
let latency = false;
let arrivals: [string, number][] = [];
/** When the last request arrived (epoch ms, the sender's clock). */
let last = 0;
/** Answers to `/__wait`, each waiting for a count of requests. */
let waiting: { count: number; answer: (r: Response) => void }[] = [];
const statsOf = () => Response.json({ requests, distinct: ids.size, last });

const receiver = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/__stats") return statsOf();
    if (url.pathname === "/__wait") {
      const count = Number(url.searchParams.get("count"));
      if (requests >= count) return statsOf();
      return new Promise<Response>((answer) => waiting.push({ count, answer }));
    }
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
    last = at;
    if (waiting.length > 0) {
      const due = waiting.filter((w) => requests >= w.count);
      waiting = waiting.filter((w) => requests < w.count);
      for (const w of due) w.answer(statsOf());
    }
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
