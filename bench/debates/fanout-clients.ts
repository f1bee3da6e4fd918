/**
 * The fan-out benchmark's subscribers, in a process of their own: opens N WebSockets, subscribes
 * each to one debate (from a seq past its end, so nothing is replayed), prints `ready`, then prints
 * `got <marker>` once every socket has received `events` frames carrying that marker.
 *
 * @example
 * bun bench/debates/fanout-clients.ts ws://127.0.0.1:8765/ws 1000 d-42 200 ours raw
 */
export {};

const [url, countArg, debateId, eventsArg, ...markers] = process.argv.slice(2);
if (!url || !countArg || !debateId || !eventsArg || markers.length === 0) {
  process.stderr.write("usage: fanout-clients.ts WS_URL COUNT DEBATE_ID EVENTS MARKER...\n");
  process.exit(2);
}
const count = Number(countArg);
const target = count * Number(eventsArg);
const received = new Map(markers.map((m) => [`"text":"${m}"`, 0]));
let subscribed = 0;

for (let i = 0; i < count; i++) {
  const ws = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`socket ${i} failed to open`));
  });
  ws.onmessage = (e) => {
    const frame = String(e.data);
    if (frame.startsWith('{"type":"subscribed"')) {
      if (++subscribed === count) process.stdout.write("ready\n");
      return;
    }
    for (const [marker, n] of received) {
      if (!frame.includes(marker)) continue;
      received.set(marker, n + 1);
      if (n + 1 === target) process.stdout.write(`got ${marker.slice(8, -1)}\n`);
    }
  };
  ws.send(JSON.stringify({ type: "subscribe", debate_id: debateId, since_seq: 1_000_000 }));
}
for await (const _ of Bun.stdin.stream()) {
  // Closing stdin (the parent exiting) ends the process.
}
process.exit(0);
