/**
 * A WebSocket subscriber that a test can freeze: it connects, subscribes to the debates named on
 * its command line, prints `ready` once every subscription is confirmed, and from then on reads
 * only when its process runs. SIGSTOP it and its socket stops reading (the kernel buffers fill and
 * the server sees backpressure); SIGCONT it and it prints the close code and reason it got. It
 * connects with the bearer token in SUBSCRIBER_TOKEN.
 *
 * @example
 * const child = Bun.spawn([process.execPath, "tests/debate/stalled-subscriber.ts", wsUrl, "d-1", "d-2"], {
 *   stdout: "pipe",
 *   env: { ...process.env, SUBSCRIBER_TOKEN: server.operatorToken },
 * });
 */
export {};

const [url, ...debateIds] = process.argv.slice(2);
if (!url || debateIds.length === 0) {
  process.stderr.write("usage: stalled-subscriber.ts WS_URL DEBATE_ID...\n");
  process.exit(2);
}
const token = process.env.SUBSCRIBER_TOKEN;
const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
const confirmed = new Set<string>();
let received = 0;
ws.onopen = () => {
  for (const id of debateIds) ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
};
ws.onmessage = (e) => {
  received++;
  const m = JSON.parse(String(e.data)) as { type?: string; debate_id?: string };
  if (m.type === "subscribed" && m.debate_id) {
    confirmed.add(m.debate_id);
    if (confirmed.size === debateIds.length) process.stdout.write("ready\n");
  }
};
ws.onclose = (e) => {
  process.stdout.write(`${JSON.stringify({ code: e.code, reason: e.reason, received })}\n`);
  process.exit(0);
};
