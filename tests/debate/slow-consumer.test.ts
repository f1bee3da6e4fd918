/**
 * A WebSocket subscriber that stops reading (its process is SIGSTOPped while a debate streams
 * megabytes of events) is disconnected with close code 4008 and a reason naming
 * ARAGORA_EVENT_BUFFER_SIZE, instead of the server buffering for it; a subscriber that keeps
 * reading gets the whole debate, and the server stays healthy. The debate's last turn is held until
 * the close, so the slow client provably missed part of the debate however the load batches events.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { type FakeProvider, type FakeReply, startFakeProvider } from "../fake-provider/index.ts";
import { BUN, ROOT, startTestServer, type TestServer } from "../support/server.ts";
import { createDebate, watchDebate } from "./debate-client.ts";

const BUFFER = 50;
const SEATS = 6;
/** Requests each seat makes: a proposal, a critique and a revision per round, a vote. */
const ROUNDS = 3;
const TURNS_PER_SEAT = 1 + 2 * ROUNDS + 1;

/**
 * Megabytes of big tokens per turn, and every seat with its own answer, so the debate does not
 * converge after its proposals: it runs every round. Under CPU load a turn's deltas may coalesce
 * into one event per batch, but each turn still emits at least three (turn_start, token, turn_end),
 * so the debate's ~150 events before its last turn are a real backlog past the 50-event limit.
 */
function reply(seat: number, until?: Promise<unknown>): FakeReply {
  const tokens = Array.from({ length: 150 }, (_, i) => `${i} ${"x".repeat(2000)} `);
  tokens.push(`\nANSWER: plan ${String.fromCharCode(97 + seat)}${seat}`);
  return { tokens, tokenDelayMs: 1, ...(until ? { until } : {}) };
}

let fake: FakeProvider;
let server: TestServer;

beforeAll(async () => {
  fake = await startFakeProvider();
  server = await startTestServer({
    env: { ...fake.env({ providers: ["openai"] }), ARAGORA_EVENT_BUFFER_SIZE: String(BUFFER) },
  });
});
afterAll(async () => {
  await server.stop();
  await fake.stop();
});

test("a subscriber that stops reading is closed with 4008 and a reason; the others are unaffected", async () => {
  // The last seat's vote is held until the slow client is closed: the debate is still running then,
  // and its last events are ones the closed client can never have received.
  let release = () => {};
  const closedFirst = new Promise<void>((resolve) => {
    release = resolve;
  });
  for (let seat = 0; seat < SEATS; seat++) {
    const turns = Array.from({ length: TURNS_PER_SEAT }, () => reply(seat));
    if (seat === SEATS - 1) turns[TURNS_PER_SEAT - 1] = reply(seat, closedFirst);
    fake.script({ model: `gpt-fake-${seat}` }, ...turns);
  }
  const agents = Array.from({ length: SEATS }, (_, i) => `openai:gpt-fake-${i}`);
  const id = await createDebate(server, { question: "Who keeps up with the stream?", agents, rounds: ROUNDS });
  const stalled = Bun.spawn([BUN, `${ROOT}/tests/debate/stalled-subscriber.ts`, server.ws, id], {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, SUBSCRIBER_TOKEN: server.operatorToken ?? "" },
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
    const healthy = watchDebate(server, id, 100_000);

    const warning = await server.waitForLog((l) => l.msg === "closing slow WebSocket consumer", 60_000);
    release();
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
    // Every scripted turn ran, the held vote last: the debate went on after the slow client's close.
    expect(fake.pending()).toBe(0);
    expect(events.filter((e) => (e as { type: string }).type === "vote")).toHaveLength(SEATS);
    // The slow client got only part of the debate before it was cut off.
    expect(closed.received).toBeLessThan(events.length);
  } finally {
    release();
    stalled.kill("SIGKILL");
  }
}, 120_000);
