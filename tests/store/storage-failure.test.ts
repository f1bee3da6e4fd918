/**
 * When the store cannot write, with real faults on a real server: a data dir on a 2 MiB tmpfs that
 * fills up, a core.db whose event-log page is overwritten with dd while the server is stopped, and a
 * PostgreSQL table locked by another session. Each time: /api/health answers 503 `unhealthy` with the
 * reason and the part, the aragora_store_* metrics say so, requests that need the store answer 503
 * store_unavailable with Retry-After (no stack, no path), health recovers by itself once the fault is
 * gone, and SIGTERM ends the process within ARAGORA_SHUTDOWN_TIMEOUT_S + 5 s, exit 1 naming the debate
 * events it could not write.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { startTestServer, type TestServer, tempDir } from "../support/server.ts";
import { createTempPostgresDatabase, postgresAvailable } from "../support/services.ts";

const SHUTDOWN_TIMEOUT_S = 2;
/** The bound on SIGTERM to exit: the timeout, the store's 5 s grace, and a second for the process to end. */
const EXIT_BOUND_MS = SHUTDOWN_TIMEOUT_S * 1000 + 5000 + 1000;

type Health = {
  status: string;
  store?: { writable: boolean; failing: { part: string; reason: string }[]; unwritten_events: number };
};

async function health(server: TestServer): Promise<{ status: number; body: Health }> {
  const res = await server.fetch(`/api/health`);
  return { status: res.status, body: (await res.json()) as Health };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await Bun.sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

const postDebate = (server: TestServer, rounds = 1) =>
  server.fetch(`/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ question: "Can the store keep up?", rounds }),
  });

async function metric(server: TestServer, pattern: RegExp): Promise<number> {
  const text = await (await server.fetch(`/api/metrics`)).text();
  const m = pattern.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** A 503 store_unavailable in the usual error shape, with Retry-After and nothing of the server's insides. */
async function expectStoreUnavailable(res: Response, dataDir: string): Promise<void> {
  expect(res.status).toBe(503);
  expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  const text = await res.text();
  const body = JSON.parse(text) as { error: string; message: string; request_id: string };
  expect(body.error).toBe("store_unavailable");
  expect(typeof body.request_id).toBe("string");
  expect(text).not.toContain(dataDir);
  expect(text).not.toContain("    at ");
}

/** SIGTERM; resolves with the exit code and how long the process took to end. */
async function sigterm(server: TestServer): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  server.signal("SIGTERM");
  const code = await Promise.race([
    server.exited,
    Bun.sleep(EXIT_BOUND_MS + 10_000).then(() => {
      server.signal("SIGKILL");
      return -1;
    }),
  ]);
  return { code, ms: performance.now() - started };
}

/** The server's last log lines that `pick` keeps (a failure's context). */
const lastLines = (server: TestServer, pick: (l: Record<string, unknown>) => boolean = () => true, n = 20) =>
  server
    .logs()
    .filter(pick)
    .slice(-n)
    .map((l) => `${l.time} ${l.level} ${l.msg}${l.err ? ` ${(l.err as { message?: string }).message}` : ""}`)
    .join("\n");

/** The log line that names what was not written at shutdown. */
const unwrittenLine = (server: TestServer) =>
  server
    .logs()
    .find(
      (l) =>
        (l.msg === "stopped" && Number(l.unwritten_events) > 0) ||
        String(l.msg).startsWith("shutdown did not finish within"),
    );

describe("disk full: the data dir on a 2 MiB tmpfs", () => {
  const mountPoint = tempDir("aragora-tmpfs-");
  let mounted = false;
  let skipReason = "";
  beforeAll(() => {
    const mount = Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint]);
    mounted = mount.exitCode === 0;
    if (!mounted) {
      skipReason = `mount -t tmpfs not permitted here: ${mount.stderr.toString().trim()}`;
      console.warn(`SKIPPED disk-full tests: ${skipReason}`);
    }
  });
  afterAll(() => {
    if (mounted) Bun.spawnSync(["umount", "-l", mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  });

  /** Fill the tmpfs to the last byte with a file next to the data dir (never touching core.db). */
  const fill = () => {
    Bun.spawnSync(["dd", "if=/dev/zero", `of=${join(mountPoint, "filler")}`, "bs=16k"], { stderr: "ignore" });
  };
  const unfill = () => {
    rmSync(join(mountPoint, "filler"), { force: true });
    rmSync(join(mountPoint, "filler-top-up"), { force: true });
  };
  /** Take whatever the tmpfs has free again (a page at a time, as tmpfs allocates); the bytes taken. */
  const topUp = (): number => {
    const page = new Uint8Array(4096);
    let taken = 0;
    try {
      for (;;) {
        appendFileSync(join(mountPoint, "filler-top-up"), page);
        taken += page.length;
      }
    } catch {
      return taken; // ENOSPC: full again
    }
  };
  /**
   * Keep the disk full until the server has exited: the background WAL checkpointer frees space
   * when it empties the WAL, and the store's retries would then write what the test needs unwritten.
   * First wait until the server frees nothing for a second (the checkpointer has had its turns),
   * then go on taking back any page freed, every 5 ms, until `done` settles.
   */
  const holdFull = async (done: Promise<unknown>): Promise<void> => {
    let quiet = 0;
    while (quiet < 20) {
      quiet = topUp() === 0 ? quiet + 1 : 0;
      await Bun.sleep(50);
    }
    let over = false;
    void done.finally(() => {
      over = true;
    });
    void (async () => {
      while (!over) {
        topUp();
        await Bun.sleep(5);
      }
    })();
  };

  test("health 503 full, 503 store_unavailable, paused debate, recovery, then bounded SIGTERM exits 1 naming the unwritten events", async () => {
    if (!mounted) {
      console.warn(`skipped: ${skipReason}`);
      return;
    }
    const dataDir = join(mountPoint, "data");
    mkdirSync(dataDir);
    const server = await startTestServer({
      dataDir,
      env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "20", ARAGORA_SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S) },
    });
    try {
      expect((await health(server)).status).toBe(200);
      expect(await metric(server, /^aragora_store_writable\{store="core"\} (\S+)$/m)).toBe(1);
      const running = await postDebate(server, 2);
      expect(running.status).toBe(201);
      const runningId = ((await running.json()) as { debate_id: string }).debate_id;
      await Bun.sleep(300);

      fill();
      // Writes go on (the running debate's tokens, new debates) until one needs a page the disk lacks.
      const unhealthy = await waitFor("health to say the store cannot write", async () => {
        const res = await postDebate(server);
        if (res.status !== 201) await expectStoreUnavailable(res, dataDir);
        const h = await health(server);
        return h.status === 503 && h.body.status === "unhealthy" ? h.body : undefined;
      });
      expect(unhealthy.store?.writable).toBe(false);
      expect(unhealthy.store?.failing.map((f) => f.reason)).toContain("full");
      expect(unhealthy.store?.failing.every((f) => ["debates", "event_log", "nodes", "core"].includes(f.part))).toBe(
        true,
      );
      expect(await metric(server, /^aragora_store_writable\{store="core"\} (\S+)$/m)).toBe(0);
      expect(
        await metric(server, /^aragora_store_write_failures_total\{store="[a-z_]+",reason="full"\} (\S+)$/m),
      ).toBeGreaterThan(0);
      // A request that needs a write is refused with 503 while the disk is full, never a 500.
      const refused = await waitFor("a POST refused with 503", async () => {
        const res = await postDebate(server);
        return res.status === 201 ? undefined : res;
      });
      await expectStoreUnavailable(refused, dataDir);
      expect(server.logs().some((l) => l.status === 500)).toBe(false);

      unfill();
      await waitFor("health to recover by itself", async () =>
        (await health(server)).status === 200 ? true : undefined,
      );
      expect(await metric(server, /^aragora_store_writable\{store="core"\} (\S+)$/m)).toBe(1);
      expect((await postDebate(server)).status).toBe(201);
      // The paused debate went on and finished: every event it acknowledged is in its log, in order.
      await waitFor(
        "the paused debate to finish",
        async () => {
          const row = (await (await server.fetch(`/api/debates/${runningId}`)).json()) as { status: string };
          return row.status === "running" ? undefined : row.status;
        },
        60_000,
      ).catch(async (err) => {
        // Say what the debate was doing (its own log lines, newest last) and what the store says
        // now: a store that cannot write again (its WAL took the freed space) looked just the same.
        const lines = server.logs().filter((l) => l.debate_id === runningId && l.msg !== "request");
        console.error(
          lines
            .slice(-40)
            .map((l) => `${l.time} ${l.msg}`)
            .join("\n"),
        );
        const now = await health(server).catch(() => undefined);
        console.error(`store now: ${JSON.stringify(now?.body.store ?? now?.status ?? "no answer")}`);
        console.error(lastLines(server, (l) => l.level === "WARNING" || l.level === "ERROR"));
        throw err;
      });
      const log = (
        (await (await server.fetch(`/api/debates/${runningId}/events`)).json()) as {
          events: { seq: number; type: string }[];
        }
      ).events;
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      expect(log.at(-1)?.type).toBe("receipt_generated");

      // Full again with a debate running: its events wait unwritten; SIGTERM must still end the process.
      const last = await postDebate(server, 3);
      expect(last.status).toBe(201);
      const lastId = ((await last.json()) as { debate_id: string }).debate_id;
      await Bun.sleep(200);
      fill();
      await waitFor("events waiting unwritten", async () => {
        const h = await health(server);
        return h.status === 503 && (h.body.store?.unwritten_events ?? 0) > 0 ? true : undefined;
      });
      await holdFull(server.exited);
      expect((await health(server)).body.store?.unwritten_events ?? 0).toBeGreaterThan(0);
      expect(await metric(server, /^aragora_debate_events_unwritten (\S+)$/m)).toBeGreaterThan(0);
      const { code, ms } = await sigterm(server);
      expect(ms).toBeLessThan(EXIT_BOUND_MS);
      expect(code).toBe(1);
      const line = unwrittenLine(server);
      expect(line).toBeDefined();
      expect(JSON.stringify(line)).toContain(lastId);
      // Either way out (the orderly "stopped", or the watchdog at the bound on a loaded machine) says how many.
      expect(Number(line?.unwritten_events)).toBeGreaterThan(0);
    } finally {
      if (server.proc.exitCode === null) server.signal("SIGKILL");
      await server.exited;
      unfill();
    }
  }, 120_000);
});

describe("a corrupted database", () => {
  test("an event-log page overwritten with dd: health 503 corrupt, reads 503 store_unavailable, bounded SIGTERM", async () => {
    const dataDir = tempDir();
    try {
      const first = await startTestServer({ dataDir, env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "0" } });
      const created = await postDebate(first);
      const id = ((await created.json()) as { debate_id: string }).debate_id;
      await waitFor("the first debate to finish", async () => {
        const row = (await (await first.fetch(`/api/debates/${id}`)).json()) as { status: string };
        return row.status === "running" ? undefined : row.status;
      });
      expect(await first.stop()).toBe(0);

      // The server is stopped: read where the event log's root page is, then overwrite it with dd.
      const file = join(dataDir, "core.db");
      const db = new Database(file);
      db.run("PRAGMA wal_checkpoint(TRUNCATE)");
      const { page_size } = db.query<{ page_size: number }, []>("PRAGMA page_size").get() as { page_size: number };
      const { rootpage } = db
        .query<{ rootpage: number }, []>("SELECT rootpage FROM sqlite_master WHERE name = 'debate_event_chunks'")
        .get() as { rootpage: number };
      db.close();
      const dd = Bun.spawnSync([
        "dd",
        "if=/dev/urandom",
        `of=${file}`,
        `bs=${page_size}`,
        `seek=${rootpage - 1}`,
        "count=1",
        "conv=notrunc",
      ]);
      expect(dd.exitCode).toBe(0);

      const server = await startTestServer({
        dataDir,
        keepDataDir: true,
        env: { ARAGORA_DEMO_TOKEN_DELAY_MS: "20", ARAGORA_SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S) },
      });
      try {
        await expectStoreUnavailable(await server.fetch(`/api/debates/${id}/events`), dataDir);
        const h = await health(server);
        expect(h.status).toBe(503);
        expect(h.body.status).toBe("unhealthy");
        expect(h.body.store?.failing).toContainEqual(expect.objectContaining({ part: "event_log", reason: "corrupt" }));
        expect(
          await metric(server, /^aragora_store_write_failures_total\{store="event_log",reason="corrupt"\} (\S+)$/m),
        ).toBeGreaterThan(0);
        // A new debate's row is written (its table is intact); its events cannot be, and wait.
        const fresh = await postDebate(server);
        expect(fresh.status).toBe(201);
        const freshId = ((await fresh.json()) as { debate_id: string }).debate_id;
        await waitFor("its events waiting unwritten", async () => {
          const now = await health(server);
          return (now.body.store?.unwritten_events ?? 0) > 0 ? true : undefined;
        });
        expect(server.logs().some((l) => l.status === 500)).toBe(false);
        const { code, ms } = await sigterm(server);
        expect(ms).toBeLessThan(EXIT_BOUND_MS);
        expect(code).toBe(1);
        // Without the line, say how the server ended (its last lines and stderr).
        if (!unwrittenLine(server)) console.error(`${lastLines(server)}\nstderr: ${server.stderr().slice(-2000)}`);
        expect(JSON.stringify(unwrittenLine(server))).toContain(freshId);
      } finally {
        if (server.proc.exitCode === null) server.signal("SIGKILL");
        await server.exited;
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});

describe("PostgreSQL: tables locked by another session", () => {
  test("health 503 locked, POST 503 store_unavailable, recovery when the lock goes, SIGTERM exits 0 in time", async () => {
    if (!(await postgresAvailable())) {
      console.warn("skipped: PostgreSQL is not reachable");
      return;
    }
    const database = await createTempPostgresDatabase();
    const dataDir = tempDir();
    const server = await startTestServer({
      dataDir,
      env: {
        DATABASE_URL: database.url,
        ARAGORA_DEMO_TOKEN_DELAY_MS: "20",
        ARAGORA_SHUTDOWN_TIMEOUT_S: String(SHUTDOWN_TIMEOUT_S),
      },
    });
    const locker = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const running = await postDebate(server, 2);
      expect(running.status).toBe(201);
      const runningId = ((await running.json()) as { debate_id: string }).debate_id;
      await Bun.sleep(300);
      let unlock!: () => void;
      const held = new Promise<void>((r) => {
        unlock = r;
      });
      let locked!: () => void;
      const isLocked = new Promise<void>((r) => {
        locked = r;
      });
      const session = locker.begin(async (tx) => {
        await tx`LOCK TABLE debates, debate_event_chunks IN ACCESS EXCLUSIVE MODE`;
        locked();
        await held;
      });
      await isLocked;
      await expectStoreUnavailable(await postDebate(server), dataDir);
      const unhealthy = await waitFor("health to say locked", async () => {
        const h = await health(server);
        return h.status === 503 ? h.body : undefined;
      });
      expect(unhealthy.status).toBe("unhealthy");
      expect(unhealthy.store?.failing.map((f) => f.reason)).toContain("locked");
      expect(
        await metric(server, /^aragora_store_write_failures_total\{store="[a-z_]+",reason="locked"\} (\S+)$/m),
      ).toBeGreaterThan(0);

      unlock();
      await session;
      await waitFor("health to recover", async () => ((await health(server)).status === 200 ? true : undefined));
      await waitFor(
        "the paused debate to finish",
        async () => {
          const row = (await (await server.fetch(`/api/debates/${runningId}`)).json()) as { status: string };
          return row.status === "running" ? undefined : row.status;
        },
        60_000,
      );
      const log = (
        (await (await server.fetch(`/api/debates/${runningId}/events`)).json()) as {
          events: { seq: number; type: string }[];
        }
      ).events;
      expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
      expect(server.logs().some((l) => l.status === 500)).toBe(false);
      const { code, ms } = await sigterm(server);
      expect(ms).toBeLessThan(EXIT_BOUND_MS);
      expect(code).toBe(0);
    } finally {
      if (server.proc.exitCode === null) server.signal("SIGKILL");
      await server.exited;
      await locker.end({ timeout: 1 });
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});
