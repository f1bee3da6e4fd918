/**
 * The concurrency benchmark's clients, in a process of their own so their work does not load the
 * server's event loop: creates N debates over HTTP, watches each with its own WebSocket
 * subscription, and measures, for every event appended after its subscription was sent, the time
 * from the event's `ts` (set when it is appended to the log) to its arrival here. Prints one JSON
 * line with the counts and latency percentiles.
 *
 * The server's operator token comes in BENCH_OPERATOR_TOKEN (never on the command line).
 *
 * @example
 * BENCH_OPERATOR_TOKEN=... bun bench/debates/watchers.ts http://127.0.0.1:8080 ws://127.0.0.1:8765/ws 1000 openai:gpt-4.1-mini,anthropic:claude-sonnet-4-5
 */
export {};

const [api, wsUrl, countArg, agentsArg, timeoutArg] = process.argv.slice(2);
const token = process.env.BENCH_OPERATOR_TOKEN;
if (!api || !wsUrl || !countArg || !agentsArg || !token) {
  process.stderr.write("usage: BENCH_OPERATOR_TOKEN=... watchers.ts API_URL WS_URL COUNT AGENTS [TIMEOUT_S]\n");
  process.exit(2);
}
const auth = { authorization: `Bearer ${token}` };
const count = Number(countArg);
const agents = agentsArg.split(",");
const timeoutMs = Number(timeoutArg ?? 300) * 1000;

const latencies: number[] = [];
let events = 0;
let completed = 0;
let failed = 0;
let firstCreated = 0;
let lastDone = 0;

/** The ts of an event frame without parsing the whole frame (the envelope's fourth field). */
function tsOf(frame: string): number {
  const at = frame.indexOf('"ts":"');
  return at < 0 ? Number.NaN : Date.parse(frame.slice(at + 6, at + 30));
}

async function watch(i: number): Promise<void> {
  const res = await fetch(`${api}/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json", ...auth },
    body: JSON.stringify({ question: `Benchmark question ${i}: which plan is best?`, agents, rounds: 3 }),
  });
  if (res.status !== 201) {
    failed++;
    process.stderr.write(`POST /api/debates: ${res.status} ${await res.text()}\n`);
    return;
  }
  firstCreated ||= performance.now();
  const { debate_id } = (await res.json()) as { debate_id: string };
  await new Promise<void>((resolve) => {
    const ws = new WebSocket(wsUrl as string, { headers: auth });
    let since = Number.POSITIVE_INFINITY;
    ws.onopen = () => {
      since = Date.now();
      ws.send(JSON.stringify({ type: "subscribe", debate_id, since_seq: 0 }));
    };
    ws.onmessage = (e) => {
      const frame = String(e.data);
      const received = Date.now();
      if (!frame.startsWith('{"type":"')) return;
      const ts = tsOf(frame);
      if (Number.isNaN(ts)) return;
      events++;
      // Events appended before the subscription was sent come from the replay, not the live path.
      if (ts >= since) latencies.push(received - ts);
      if (frame.startsWith('{"type":"receipt_generated"')) {
        completed++;
        lastDone = performance.now();
        ws.close();
        resolve();
      } else if (frame.startsWith('{"type":"error"')) {
        failed++;
        process.stderr.write(`${frame}\n`);
        ws.close();
        resolve();
      }
    };
    ws.onclose = () => resolve();
  });
}

const started = performance.now();
const all = Promise.all(Array.from({ length: count }, (_, i) => watch(i)));
await Promise.race([all, Bun.sleep(timeoutMs)]);
latencies.sort((a, b) => a - b);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
process.stdout.write(
  `${JSON.stringify({
    completed,
    failed,
    events,
    live_events: latencies.length,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    max_ms: latencies.at(-1) ?? 0,
    seconds: ((lastDone || performance.now()) - (firstCreated || started)) / 1000,
  })}\n`,
);
process.exit(0);
