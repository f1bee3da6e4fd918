/**
 * A WebSocket subscriber that joins (since_seq 0) while a debate's events are committed but not yet
 * published gets every event exactly once, in order. The window is made real and exact: the store
 * commits, then holds its acknowledgement until the subscriber has replayed and gone live. Once for
 * a batch of the event writer, once for a debate's closing transaction (outcome + receipt_generated).
 * Before the fix the replay read the committed events, and the publish sent them again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import { runDebate } from "../../actors/debate/debate-actor.ts";
import { type DebateStore, LOCAL_OWNER, openDebateStore } from "../../actors/debate/debate-store.ts";
import { DebateStreams } from "../../actors/debate/debate-streams.ts";
import { DebateLog, EventWriter, GENESIS_HASH } from "../../actors/debate/event-log.ts";
import { loadOrCreateReceiptKey, type ReceiptKey } from "../../actors/debate/receipt.ts";
import { loadConfig } from "../../runtime/config.ts";
import type { Principal } from "../../runtime/http/principal.ts";
import { WsGateway } from "../../runtime/http/ws-gateway.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { tempDir } from "../support/server.ts";
import { debateConfig, inProcessAgents } from "./in-process-agents.ts";

const lines: { msg: string; debate_id?: string }[] = [];
const log = createLogger(
  "DEBUG",
  new Writable({
    write: (chunk, _e, cb) => {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  }),
);

/** Which store call holds its acknowledgement after committing, and the gate it waits on. */
const VIEWER: Principal = {
  kind: "user",
  userId: "u-viewer",
  orgId: LOCAL_OWNER.orgId,
  workspaceId: LOCAL_OWNER.orgId,
  roles: ["viewer"],
  via: "bearer",
};
let holding: { method: "appendEvents" | "finish"; committed: () => void; release: Promise<void> } | undefined;

let dir: string;
let core: Store;
let real: DebateStore;
let store: DebateStore;
let key: ReceiptKey;
let writer: EventWriter;
let server: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  dir = tempDir();
  const cfg = loadConfig({ ARAGORA_DATA_DIR: dir });
  core = await openStore(cfg, log);
  real = await openDebateStore(core, cfg);
  key = loadOrCreateReceiptKey(dir);
  store = new Proxy(real, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== "appendEvents" && prop !== "finish") return typeof value === "function" ? value.bind(target) : value;
      return async (...args: unknown[]) => {
        const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const hold = holding;
        if (hold?.method === prop) {
          holding = undefined;
          hold.committed();
          await hold.release;
        }
        return result;
      };
    },
  });
  const gateway = new WsGateway({ heartbeatMs: 60_000, log });
  writer = new EventWriter({ store, log, publish: (id, seq, payload) => streams.publish(id, seq, payload) });
  const streams = new DebateStreams({
    gateway,
    store,
    bufferLimit: 10_000,
    log,
    firstUnpublished: (id) => writer.firstUnpublished(id),
  });
  streams.register();
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req, srv) => (srv.upgrade(req, { data: undefined }) ? undefined : new Response("no", { status: 400 })),
    websocket: {
      // A bare Bun.serve (no upgrade check): each socket acts as a viewer of the debates' organisation.
      open: (ws) => gateway.open(ws, VIEWER),
      message: (ws, m) => gateway.message(ws, m),
      close: (ws, c, r) => gateway.close(ws, c, r),
    },
  });
  gateway.setListening("api", true, server);
});
afterAll(async () => {
  server.stop(true);
  await real.close();
  await core.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Hold the next `method` call's acknowledgement after its commit; resolves once it committed. */
function holdAck(method: "appendEvents" | "finish") {
  let release = () => {};
  let committed = () => {};
  const hasCommitted = new Promise<void>((resolve) => {
    committed = resolve;
  });
  holding = {
    method,
    committed,
    release: new Promise<void>((resolve) => {
      release = resolve;
    }),
  };
  return { hasCommitted, release };
}

/** A subscriber from seq 0; resolves its seqs once it is live (the replay is over) and `until` came. */
async function subscribe(id: string) {
  const seqs: number[] = [];
  const types: string[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  ws.onmessage = (m) => {
    const e = JSON.parse(String(m.data)) as { seq?: number; type: string };
    if (typeof e.seq === "number") {
      seqs.push(e.seq);
      types.push(e.type);
    }
  };
  const liveBefore = lines.filter((l) => l.msg === "debate subscriber live" && l.debate_id === id).length;
  ws.send(JSON.stringify({ type: "subscribe", debate_id: id, since_seq: 0 }));
  const deadline = Date.now() + 20_000;
  while (lines.filter((l) => l.msg === "debate subscriber live" && l.debate_id === id).length === liveBefore) {
    if (Date.now() > deadline) throw new Error("the subscriber never went live");
    await Bun.sleep(5);
  }
  const until = async (last: number) => {
    while (!seqs.includes(last)) {
      if (Date.now() > deadline) throw new Error(`seq ${last} never came: ${seqs.join(",")}`);
      await Bun.sleep(5);
    }
    // Anything sent twice would follow right behind: give it a moment to arrive.
    await Bun.sleep(50);
    return { seqs, types };
  };
  return { until, close: () => ws.close() };
}

const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
const config = debateConfig({ rounds: 1, timeouts: { turnMs: 10_000, roundMs: 10_000, debateMs: 60_000 } });

test("a batch committed but not yet acknowledged: the subscriber gets each event once, in order", async () => {
  const id = "d-replay-batch";
  await real.create({ id, owner: LOCAL_OWNER, question: "Q?", config, metadata: {}, createdAt: new Date() });
  const events = new DebateLog(id, writer, { seq: 0, hash: GENESIS_HASH });
  for (let i = 0; i < 5; i++) events.emit("round_start", i, null, { phase: "proposal" });
  await writer.flush();

  const { hasCommitted, release } = holdAck("appendEvents");
  for (let i = 5; i < 8; i++) events.emit("round_start", i, null, { phase: "proposal" });
  const flushed = writer.flush();
  await hasCommitted;
  // Seqs 6-8 are in the log, and not published: the subscriber replays and goes live now.
  expect((await real.events(id, 0)).map((e) => e.seq)).toEqual(oneToN(8));
  const sub = await subscribe(id);
  release();
  await flushed;
  events.emit("round_start", 9, null, { phase: "proposal" });
  await writer.flush();
  const { seqs } = await sub.until(9);
  sub.close();
  expect(seqs).toEqual(oneToN(9));
});

test("a debate's closing transaction committed but not yet acknowledged: receipt_generated comes once", async () => {
  const id = "d-replay-closing";
  await real.create({ id, owner: LOCAL_OWNER, question: "Q?", config, metadata: {}, createdAt: new Date() });
  const { hasCommitted, release } = holdAck("finish");
  const deps = {
    store,
    writer,
    agents: inProcessAgents({ answers: { "t:a": "x", "t:b": "y", "t:c": "x" } }),
    key,
    log,
  };
  const done = runDebate(deps, id, new AbortController().signal, log, { question: "Q?", config });
  await hasCommitted;
  const stored = await real.events(id, 0);
  expect(stored.at(-1)?.type).toBe("receipt_generated");
  const sub = await subscribe(id);
  release();
  expect(await done).toBe("completed");
  const { seqs, types } = await sub.until(stored.length);
  sub.close();
  expect(seqs).toEqual(oneToN(stored.length));
  expect(types.filter((t) => t === "receipt_generated")).toHaveLength(1);
});
