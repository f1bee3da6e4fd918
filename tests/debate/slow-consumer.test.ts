/**
 * A WebSocket subscriber that stops reading (its process is SIGSTOPped while a debate streams
 * megabytes of events) is disconnected with close code 4008 and a reason naming
 * ARAGORA_EVENT_BUFFER_SIZE, instead of the server buffering for it; a subscriber that keeps
 * reading gets the whole debate, and the server stays healthy.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type FakeProvider, startFakeProvider } from "../fake-provider/index.ts";
import { BUN, ROOT, startTestServer, type TestServer } from "../support/server.ts";
import { createDebate, watchDebate } from "./debate-client.ts";

const BUFFER = 50;
let fake: FakeProvider;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeProvider();
  // Big tokens with a little latency: each token is its own event, and the debate outruns any
  // socket buffer the kernel gives a reader that has stopped.
  fake.setDefault({ tokens: Array.from({ length: 300 }, (_, i) => `${i} ${"x".repeat(2000)} `), tokenDelayMs: 1 });
  server = await startTestServer({
    env: { ...fake.env({ providers: ["openai"] }), ARAGORA_EVENT_BUFFER_SIZE: String(BUFFER) },
  });
});
afterAll(async () => {
  await server.stop();
  await fake.stop();
});

test("a subscriber that stops reading is closed with 4008 and a reason; the others are unaffected", async () => {
  const agents = Array.from({ length: 6 }, (_, i) => `openai:gpt-fake-${i}`);
  const id = await createDebate(server, { question: "Who keeps up with the stream?", agents, rounds: 1 });
  const stalled = Bun.spawn([BUN, `${ROOT}/tests/debate/stalled-subscriber.ts`, server.ws, id], {
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    const reader = stalled.stdout.getReader();
    const decoder = new TextDecoder();
    let out = "";
    const readUntil = async (text: string) => {
      while (!out.includes(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`subscriber exited before "${text}": ${out}`);
        out += decoder.decode(value, { stream: true });
      }
    };
    await readUntil("ready\n");
    stalled.kill("SIGSTOP");
    // A healthy viewer watches the same debate from the start.
    const healthy = watchDebate(server, id, 60_000);

    const warning = await server.waitForLog((l) => l.msg === "closing slow WebSocket consumer", 30_000);
    expect(warning).toMatchObject({ limit: BUFFER });
    expect(["socket buffer", "replay buffer"]).toContain(warning.where as string);

    // Resumed, the client reads what the kernel held and then the close frame.
    stalled.kill("SIGCONT");
    await readUntil("}\n");
    const closed = JSON.parse(out.slice(out.indexOf("{"))) as { code: number; reason: string; received: number };
    expect(closed.code).toBe(4008);
    expect(closed.reason).toBe(`slow consumer: more than ${BUFFER} events buffered (ARAGORA_EVENT_BUFFER_SIZE)`);

    const { events, record } = await healthy;
    expect(record.status).toBe("completed");
    // The slow client got only part of the debate before it was cut off.
    expect(closed.received).toBeLessThan(events.length);
  } finally {
    stalled.kill("SIGKILL");
  }
}, 90_000);
