/**
 * Every log line about a debate carries its id, for the lines that speak of several debates at
 * once: a failed event-log batch (one transaction across every debate that emitted within the
 * flush interval) and a slow WebSocket consumer (one connection following several debates) name
 * the first in `debate_id` and all of them, bounded, in `debate_ids`. The server-level audit of
 * every line is in debates-api.test.ts.
 */
import { describe, expect, test } from "bun:test";
import type { DebateStore } from "../../actors/debate/debate-store.ts";
import { DebateStreams, SLOW_CONSUMER_CLOSE } from "../../actors/debate/debate-streams.ts";
import { DebateLog, EventWriter, GENESIS_HASH, LOG_DEBATE_IDS_MAX } from "../../actors/debate/event-log.ts";
import type { Connection, MessageHandler, WsGateway } from "../../runtime/http/ws-gateway.ts";
import { createLogger } from "../../runtime/log.ts";

/** A logger whose JSON lines are kept in memory. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger("DEBUG", { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

describe("event log append failed", () => {
  async function failOnce(debates: number) {
    const { log, lines } = capturingLogger();
    let calls = 0;
    const store = {
      async appendEvents() {
        if (++calls === 1) throw new Error("database is locked");
      },
    } as unknown as DebateStore;
    // A long flush interval: every debate's event lands in the one batch flush() takes.
    const writer = new EventWriter({ store, log, publish: () => {}, flushMs: 10_000 });
    const ids = Array.from({ length: debates }, (_, i) => `d-batch-${String(i).padStart(3, "0")}`);
    for (const id of ids) {
      const events = new DebateLog(id, writer, { seq: 0, hash: GENESIS_HASH });
      events.emit("debate_start", null, null, {
        question: `${id}?`,
        agents: ["t:a", "t:b"],
        rounds: 1,
        consensus: "majority",
        topology: "all_to_all",
      });
      events.emit("round_start", 0, null, { phase: "proposal" });
    }
    await writer.flush();
    expect(calls).toBe(2);
    const failed = lines.filter((l) => l.msg === "event log append failed; retrying");
    expect(failed).toHaveLength(1);
    return { ids, line: failed[0] as Record<string, unknown> };
  }

  test("names every debate of the batch, the first as debate_id", async () => {
    const { ids, line } = await failOnce(3);
    expect(line).toMatchObject({ events: 6, debate_id: ids[0], debate_ids: ids, debates: 3, attempt: 1 });
  });

  test("a batch of many debates lists a bounded number of ids and counts them all", async () => {
    const { ids, line } = await failOnce(LOG_DEBATE_IDS_MAX + 15);
    expect(line.debate_id).toBe(ids[0]);
    expect(line.debate_ids).toEqual(ids.slice(0, LOG_DEBATE_IDS_MAX));
    expect(line.debates).toBe(ids.length);
  });
});

describe("closing slow WebSocket consumer", () => {
  /** DebateStreams over a gateway and a connection made by hand; `buffered` is the socket's backlog. */
  function harness(bufferLimit: number) {
    const { log, lines } = capturingLogger();
    const handlers = new Map<string, MessageHandler>();
    const gateway = {
      on: (type: string, handler: MessageHandler) => handlers.set(type, handler),
      onClose: () => {},
      subscribe: () => {},
      resume: () => {},
      unsubscribe: () => {},
      publish: () => 0,
    } as unknown as WsGateway;
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const hold = new Set<string>();
    const store = {
      get: async (id: string) => {
        if (hold.has(id)) await held;
        return { id };
      },
      events: async () => [],
    } as unknown as DebateStore;
    const streams = new DebateStreams({ gateway, store, bufferLimit, log });
    streams.register();
    const conn = {
      id: 7,
      principal: { kind: "user", userId: "u-1", orgId: "o-1", workspaceId: "w-1", roles: ["viewer"], via: "bearer" },
      buffered: 0,
      closed: undefined as { code: number; reason: string } | undefined,
      socket: {},
      topics: new Map(),
      send: () => true,
      bufferedAmount: () => conn.buffered,
      close: (code: number, reason: string) => {
        conn.closed = { code, reason };
      },
    };
    const subscribe = (debateId: string) =>
      handlers.get("subscribe")?.(conn as unknown as Connection, { type: "subscribe", debate_id: debateId });
    const warnings = () => lines.filter((l) => l.msg === "closing slow WebSocket consumer");
    return { streams, conn, subscribe, warnings, hold, release };
  }

  test("a live connection behind on several debates: the furthest behind first, all of them listed", async () => {
    const h = harness(4);
    for (const id of ["d-quiet", "d-busy", "d-other"]) h.subscribe(id);
    await Bun.sleep(10);
    expect(h.streams.subscriberCount("d-busy")).toBe(1);
    h.conn.buffered = 1 << 20;
    h.streams.publish("d-quiet", 1, "{}");
    for (let seq = 1; seq <= 6; seq++) h.streams.publish("d-busy", seq, "{}");
    const deadline = Date.now() + 2000;
    while (h.warnings().length === 0 && Date.now() < deadline) await Bun.sleep(10);
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatchObject({
      ws_conn: 7,
      where: "socket buffer",
      limit: 4,
      debate_id: "d-busy",
      debate_ids: ["d-busy", "d-quiet", "d-other"],
      debates: 3,
    });
    expect(h.conn.closed?.code).toBe(SLOW_CONSUMER_CLOSE);
  });

  test("a replay buffer overflow names the debate being replayed", async () => {
    const h = harness(3);
    h.subscribe("d-live");
    await Bun.sleep(10);
    h.hold.add("d-replaying");
    h.subscribe("d-replaying");
    for (let seq = 1; seq <= 4; seq++) h.streams.publish("d-replaying", seq, "{}");
    h.release();
    expect(h.warnings()).toHaveLength(1);
    expect(h.warnings()[0]).toMatchObject({
      where: "replay buffer",
      debate_id: "d-replaying",
      debate_ids: ["d-replaying", "d-live"],
      debates: 2,
    });
    expect(h.conn.closed?.code).toBe(SLOW_CONSUMER_CLOSE);
  });
});
