/**
 * Another process holding SQLite's write lock (the `sqlite3` shell's VACUUM, ANALYZE or
 * wal_checkpoint(TRUNCATE), or the WAL checkpointer's TRUNCATE) makes the debate store's commits
 * wait up to busy_timeout, never fail. A debate's closing commit reads before it writes: in a
 * deferred transaction SQLite answers SQLITE_BUSY at once, without waiting, when a transaction
 * that has read asks for the write lock another connection holds, and the debate actor crashed.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Writable } from "node:stream";
import { type DebateStore, LOCAL_OWNER, openDebateStore } from "../../actors/debate/debate-store.ts";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import { debateConfig } from "../debate/in-process-agents.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));
const HOLD_MS = 400;

let dir: TempDir;
let core: Store;
let store: DebateStore;

beforeAll(async () => {
  dir = tempDataDir();
  const config = loadConfig({ ARAGORA_DATA_DIR: dir.path, ARAGORA_SQLITE_BUSY_TIMEOUT_MS: "5000" });
  core = await openStore(config, quiet);
  store = await openDebateStore(core, config);
});
afterAll(async () => {
  await store.close();
  await core.close();
  dir.remove();
});

/** Another process takes the write lock (BEGIN IMMEDIATE) and keeps it for `HOLD_MS`; resolves once it holds it. */
async function holdWriteLock(path: string) {
  const script = `
    import { Database } from "bun:sqlite";
    const db = new Database(${JSON.stringify(path)});
    db.run("PRAGMA busy_timeout = 5000");
    db.run("BEGIN IMMEDIATE");
    console.log("locked");
    await Bun.sleep(${HOLD_MS});
    db.run("COMMIT");
    db.close();`;
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`lock holder exited: ${await new Response(proc.stderr).text()}`);
    seen += new TextDecoder().decode(value);
  }
  return proc;
}

test("a debate's closing commit waits for another process's write lock instead of failing", async () => {
  const id = "d-write-lock";
  await store.create({
    id,
    owner: LOCAL_OWNER,
    question: "Does a commit wait for the sqlite3 shell?",
    config: debateConfig({ agents: ["t:a", "t:b"], rounds: 1 }),
    metadata: {},
    createdAt: new Date(),
  });
  const holder = await holdWriteLock(join(dir.path, "core.db"));
  const started = performance.now();
  const finished = await store.finish(id, {
    status: "completed",
    stopReason: "max_rounds",
    error: null,
    consensus: null,
    baseline: null,
    summary: null,
    finishedAt: new Date(),
    elo: { winners: ["t:a"], losers: ["t:b"] },
  });
  const waited = performance.now() - started;
  expect(await holder.exited).toBe(0);
  expect(finished).toBe(true);
  // It waited for the lock (rather than failing at once) ...
  expect(waited).toBeGreaterThan(HOLD_MS / 4);
  // ... and the commit is stored.
  expect((await store.byId(id))?.status).toBe("completed");
});
