/**
 * A debate's closing transaction (outcome, receipt, ratings, receipt_generated) against a store
 * whose acknowledgement is lost: when the commit went through, the debate is finished and its last
 * event published exactly once; when it did not, the debate fails loudly (its actor restarts), and
 * the restarted run, reading its log, finishes it and publishes the last event once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { rmSync } from "node:fs";
import { Writable } from "node:stream";
import { runDebate } from "../../actors/debate/debate-actor.ts";
import { type DebateStore, LOCAL_OWNER, openDebateStore } from "../../actors/debate/debate-store.ts";
import { EventWriter } from "../../actors/debate/event-log.ts";
import { loadOrCreateReceiptKey, type ReceiptKey } from "../../actors/debate/receipt.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { tempDir } from "../support/server.ts";
import { debateConfig, inProcessAgents } from "./in-process-agents.ts";

const log = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const config = debateConfig({ rounds: 1, timeouts: { turnMs: 10_000, roundMs: 10_000, debateMs: 60_000 } });

let dir: string;
let core: Store;
let store: DebateStore;
let key: ReceiptKey;
beforeAll(async () => {
  dir = tempDir();
  const cfg = loadConfig({ ARAGORA_DATA_DIR: dir });
  core = await openStore(cfg, log);
  store = await openDebateStore(core, cfg);
  key = loadOrCreateReceiptKey(dir);
});
afterAll(async () => {
  await store.close();
  await core.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The store, with finish failing after (or instead of) its commit, once. */
function flakyFinish(commits: boolean): DebateStore {
  let failed = false;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop !== "finish") return Reflect.get(target, prop, receiver);
      return async (...args: Parameters<DebateStore["finish"]>) => {
        if (failed) return target.finish(...args);
        failed = true;
        if (commits) await target.finish(...args);
        throw new Error("connection terminated before the reply");
      };
    },
  });
}

async function debate(id: string, s: DebateStore) {
  await store.create({ id, owner: LOCAL_OWNER, question: "Q?", config, metadata: {}, createdAt: new Date() });
  const published: { seq: number; type: string }[] = [];
  const writer = new EventWriter({
    store: s,
    log,
    publish: (_id, seq, payload) => published.push({ seq, type: (JSON.parse(payload) as { type: string }).type }),
  });
  const deps = {
    store: s,
    writer,
    agents: inProcessAgents({ answers: { "t:a": "x", "t:b": "y", "t:c": "x" } }),
    key,
    log,
  };
  return { published, deps };
}

const seqsInOrder = (published: { seq: number }[]) => published.every((p, i) => p.seq === i + 1);

describe("the closing transaction's acknowledgement is lost", () => {
  test("after its commit: the debate is finished and receipt_generated published once", async () => {
    const id = "d-lost-ack-committed";
    const { published, deps } = await debate(id, flakyFinish(true));
    expect(await runDebate(deps, id, new AbortController().signal, log, { question: "Q?", config })).toBe("completed");
    expect(published.filter((p) => p.type === "receipt_generated")).toHaveLength(1);
    expect(published.at(-1)?.type).toBe("receipt_generated");
    expect(seqsInOrder(published)).toBe(true);
    expect((await store.byId(id))?.status).toBe("completed");
    expect((await store.events(id, 0)).map((e) => e.seq)).toEqual(published.map((p) => p.seq));
  });

  test("before its commit: the run fails, and the restarted run finishes it and publishes once", async () => {
    const id = "d-lost-ack-rolled-back";
    const { published, deps } = await debate(id, flakyFinish(false));
    const signal = new AbortController().signal;
    await expect(runDebate(deps, id, signal, log, { question: "Q?", config })).rejects.toThrow("connection terminated");
    expect((await store.byId(id))?.status).toBe("running");
    expect(published.some((p) => p.type === "receipt_generated")).toBe(false);
    // The supervisor restarts the actor: without `created`, it resumes from the log.
    expect(await runDebate(deps, id, signal, log)).toBe("completed");
    expect(published.filter((p) => p.type === "receipt_generated")).toHaveLength(1);
    expect(seqsInOrder(published)).toBe(true);
    expect((await store.events(id, 0)).map((e) => e.seq)).toEqual(published.map((p) => p.seq));
    expect(await store.receipt(id, LOCAL_OWNER.orgId)).not.toBeNull();
  });
});
