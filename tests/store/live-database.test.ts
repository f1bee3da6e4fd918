/**
 * The server's live SQLite database under everything an operator runs beside it, through the real
 * process and the tools an operator uses (the admin API, `ops`, `aragora cleanup`, the stock
 * `sqlite3` shell, kill -9):
 *
 * - every scheduler run, every shipped playbook (dry and real, handed off to the server), every
 *   db.* action and `aragora cleanup` leave the server holding its POSIX locks on core.db and
 *   core.db-shm. Locks belong to the process: one open()+close() of core.db anywhere in the server
 *   drops them all, and the next `sqlite3` shell then takes itself for the last user and deletes
 *   the live WAL while the server goes on writing into the deleted file;
 * - the runbook's sqlite3 commands (integrity_check, wal_checkpoint(TRUNCATE), ANALYZE, .backup,
 *   VACUUM), run after the hourly checkpoint while debates are created, leave the WAL in place and
 *   every debate reads the same through the API and through sqlite3;
 * - after kill -9 and a restart, every acknowledged debate reads the same through the API and
 *   through sqlite3, and every debate that had completed is still complete with all its events.
 *
 * Locks are read from /proc/locks and /proc/<pid>/fd; nothing here opens core.db except SQLite.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ops, spawnOps } from "../ops/support.ts";
import { deletedDatabaseFds, locksHeld } from "../support/locks.ts";
import { ROOT, runCli, startTestServer, type TestServer, tempDir } from "../support/server.ts";

const SQLITE3 = "/usr/bin/sqlite3";
const TOKEN = "live-database-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };
/** Midnight on January 1st for every maintenance schedule: none fires by itself during a test. */
const QUIET_CRON = ["wal-checkpoint", "backup", "analyze", "cleanup"].map((n) => `${n}=0 0 1 1 *`).join(";");
const ENV = { ARAGORA_API_TOKEN: TOKEN, ARAGORA_MAINTENANCE_CRON: QUIET_CRON, ARAGORA_DEMO_TOKEN_DELAY_MS: "1" };

const servers: TestServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) if (s.proc.exitCode === null && s.proc.signalCode === null) await s.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function serve(dataDir?: string): Promise<TestServer> {
  const server = await startTestServer({ env: ENV, ...(dataDir ? { dataDir } : {}) });
  servers.push(server);
  return server;
}

const corePath = (server: TestServer) => join(server.dataDir, "core.db");

/** The server holds its locks on core.db and core.db-shm, the WAL has a name, no descriptor points at a deleted file. */
function expectIntact(server: TestServer, after: string): void {
  const core = corePath(server);
  const pid = server.proc.pid;
  expect({
    after,
    coreLocked: locksHeld(pid, core).length > 0,
    shmLocked: existsSync(`${core}-shm`) && locksHeld(pid, `${core}-shm`).length > 0,
    wal: existsSync(`${core}-wal`),
    deleted: deletedDatabaseFds(pid),
  }).toEqual({ after, coreLocked: true, shmLocked: true, wal: true, deleted: [] });
}

/** The ERROR lines the server logged (a crashed debate actor, a failed write ...). */
const errorsLogged = (server: TestServer) =>
  server
    .logs()
    .filter((l) => l.level === "ERROR")
    .map((l) => `${String(l.msg)}: ${JSON.stringify(l.err ?? "")}`);

/** One command in the stock shell, with the busy timeout the README gives it (not blocking this test's writers). */
async function sqlite3(db: string, command: string, json = false) {
  const proc = Bun.spawn([SQLITE3, ...(json ? ["-json"] : []), "-bail", "-cmd", ".timeout 20000", db, command], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, out: out.trim(), err: err.trim() };
}

async function createDebate(server: TestServer, question: string, rounds = 1): Promise<string | undefined> {
  const res = await server.fetch(`/api/debates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ question, rounds }),
  });
  return res.status === 201 ? ((await res.json()) as { debate_id: string }).debate_id : undefined;
}

interface DebateView {
  status: string;
  question: string;
  events: number;
}

/** A debate as the API shows it: its record and every event it serves (a lost one: its HTTP status). */
async function throughApi(server: TestServer, id: string): Promise<DebateView | { missing: number }> {
  const res = await server.fetch(`/api/debates/${id}`);
  if (res.status !== 200) return { missing: res.status };
  const record = (await res.json()) as { status: string; question: string };
  const events = (await (await server.fetch(`/api/debates/${id}/events?limit=10000`)).json()) as {
    events: unknown[];
  };
  return { status: record.status, question: record.question, events: events.events.length };
}

/** Every debate as the stock sqlite3 shell reads it from the live file: status, question, stored events. */
async function throughSqlite3(server: TestServer): Promise<Map<string, DebateView>> {
  const r = await sqlite3(
    corePath(server),
    `SELECT d.id, d.status, d.question,
       (SELECT coalesce(sum(c.last_seq - c.first_seq + 1), 0) FROM debate_event_chunks c WHERE c.debate_id = d.id) AS events
     FROM debates d;`,
    true,
  );
  expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: "" });
  const rows = JSON.parse(r.out || "[]") as { id: string; status: string; question: string; events: number }[];
  return new Map(rows.map((row) => [row.id, { status: row.status, question: row.question, events: row.events }]));
}

/** Wait until the API lists no running debate. */
async function settled(server: TestServer, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const body = (await (await server.fetch(`/api/debates?status=running&limit=1`)).json()) as {
      debates: unknown[];
    };
    if (body.debates.length === 0) return;
    await Bun.sleep(100);
  }
  throw new Error("debates were still running");
}

/** Every acknowledged debate reads the same through the API and through sqlite3. */
async function expectSameEverywhere(server: TestServer, ids: string[]): Promise<Map<string, DebateView>> {
  await settled(server);
  const stored = await throughSqlite3(server);
  const viaApi = new Map<string, DebateView>();
  for (const id of ids) {
    const api = await throughApi(server, id);
    expect({ id, api }).toEqual({ id, api: stored.get(id) as DebateView });
    viaApi.set(id, api as DebateView);
  }
  return viaApi;
}

interface Schedule {
  name: string;
  running: boolean;
  last_run: { outcome: string | null; error: string | null };
  stats: { runs: number };
}

async function schedules(server: TestServer): Promise<Schedule[]> {
  const res = await fetch(`${server.api}/api/admin/schedulers`, { headers: auth });
  expect(res.status).toBe(200);
  return ((await res.json()) as { schedulers: Schedule[] }).schedulers;
}

/** Run a schedule now, as POST /api/admin/schedulers/:name/run does, and wait for its outcome. */
async function runSchedule(server: TestServer, name: string): Promise<Schedule> {
  const before = (await schedules(server)).find((s) => s.name === name) as Schedule;
  const res = await fetch(`${server.api}/api/admin/schedulers/${name}/run`, { method: "POST", headers: auth });
  expect(res.status).toBe(202);
  for (let i = 0; i < 600; i++) {
    const now = (await schedules(server)).find((s) => s.name === name) as Schedule;
    if (!now.running && now.stats.runs > before.stats.runs) return now;
    await Bun.sleep(50);
  }
  throw new Error(`schedule ${name} did not finish`);
}

const SHIPPED = readdirSync(join(ROOT, "ops", "playbooks"))
  .filter((f) => f.endsWith(".yml"))
  .map((f) => f.slice(0, -4))
  .sort();

/** Every action that touches a database, in one playbook handed off to the server. */
const DB_ACTIONS_PLAYBOOK = `name: db-actions
description: every action that reads or writes the data dir's databases
steps:
  - { id: passive, action: db.checkpoint, with: { mode: PASSIVE }, timeout: 1m }
  - { id: restart, action: db.checkpoint, with: { mode: RESTART }, timeout: 1m }
  - { id: truncate, action: db.checkpoint, with: { mode: TRUNCATE }, timeout: 1m }
  - { id: analyze, action: db.analyze, timeout: 1m }
  - { id: vacuum, action: db.vacuum, timeout: 1m }
  - { id: integrity, action: db.integrity_check, timeout: 1m }
  - { id: backup, action: db.backup, timeout: 1m }
  - { id: prune, action: cleanup.prune, timeout: 1m }
  - { id: status, action: migrate.status, timeout: 1m }
  - { id: apply, action: migrate.apply, timeout: 1m }
`;

describe.skipIf(!existsSync(SQLITE3) || !existsSync("/proc/locks"))("the live database", () => {
  test("every scheduler run, shipped playbook, db action and aragora cleanup leaves the server its locks", async () => {
    const server = await serve();
    const env = { ARAGORA_DATA_DIR: server.dataDir };
    const first = await createDebate(server, "Does a checkpoint keep the server's locks?");
    expect(first).toBeString();
    expectIntact(server, "start");

    const names = (await schedules(server)).map((s) => s.name);
    expect(names).toEqual(["receipt-retention", "wal-checkpoint", "backup", "analyze", "cleanup"]);
    for (const name of names) {
      const done = await runSchedule(server, name);
      expect({ name, outcome: done.last_run.outcome, error: done.last_run.error }).toEqual({
        name,
        outcome: "succeeded",
        error: null,
      });
      expectIntact(server, `schedule ${name}`);
    }

    for (const name of SHIPPED) {
      const dry = await ops(["run", name, "--dry-run", "--json"], env);
      // Only a db.restore step's plan may fail: it refuses while the server holds the data dir.
      const refused = dry.stdout.includes("refusing to restore: this server holds");
      expect({ name, code: dry.code }).toEqual({ name, code: refused ? 1 : 0 });
      expectIntact(server, `ops run ${name} --dry-run`);
    }

    const playbookDir = mkdtempSync(join(tmpdir(), "aragora-playbook-"));
    dirs.push(playbookDir);
    const dbActions = join(playbookDir, "db-actions.yml");
    writeFileSync(dbActions, DB_ACTIONS_PLAYBOOK);
    const real: [string, string[], string | undefined, number][] = [
      ["maintenance-daily", [], undefined, 0],
      ["maintenance-weekly", [], undefined, 0],
      ["maintenance-monthly", [], undefined, 0],
      ["backup", [], undefined, 0],
      ["cleanup", [], undefined, 0],
      ["incident-p1", [`api_url=${server.api}`], undefined, 0],
      ["incident-p2", [`api_url=${server.api}`], "providers", 0],
      ["restore", [], undefined, 1],
      ["disaster-recovery", [`api_url=${server.api}`], "provisioned", 1],
      [dbActions, [], undefined, 0],
    ];
    for (const [name, params, gate, code] of real) {
      const run = spawnOps(["run", name, "--yes", "--json", ...params.flatMap((p) => ["--param", p])], env);
      if (gate !== undefined) {
        const waiting = await run.waitFor((e) => e.kind === "approval_waiting" && e.step === gate);
        const approved = await ops(["approve", waiting.run_id, gate, "--as", "tester", "--role", "operator"], env);
        expect(approved.code).toBe(0);
      }
      expect({ name, code: await run.exited, stderr: run.stderr() }).toMatchObject({ name, code });
      // The runs that fail are the restores, refused by the server that executes them.
      if (code !== 0) expect(JSON.stringify(run.events)).toContain("refusing to restore: this server holds");
      expectIntact(server, `ops run ${name}`);
    }

    for (const args of [["--dry-run"], ["--yes"], ["--analyze-only"]]) {
      const r = await runCli(["cleanup", ...args], env);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expectIntact(server, `aragora cleanup ${args.join(" ")}`);
    }

    // The consequence an operator sees: the runbook's check leaves the WAL, and the server works on.
    expect(await sqlite3(corePath(server), "PRAGMA integrity_check;")).toEqual({ code: 0, out: "ok", err: "" });
    expectIntact(server, "sqlite3 integrity_check");
    const last = await createDebate(server, "Is the database still whole?");
    await expectSameEverywhere(server, [first as string, last as string]);
  }, 180_000);

  test("the runbook's sqlite3 commands, after the hourly checkpoint and while debates are created, leave the WAL in place", async () => {
    const server = await serve();
    // What the server runs every hour by itself; it used to leave the server without its locks.
    expect((await runSchedule(server, "wal-checkpoint")).last_run.outcome).toBe("succeeded");
    const writing = writeDebates(server, "sqlite3");
    await writing.until(10);
    writing.continuously();

    const copy = join(tempDir(), "core-copy.db");
    dirs.push(join(copy, ".."));
    for (const command of [
      "PRAGMA integrity_check;",
      "PRAGMA wal_checkpoint(TRUNCATE);",
      "ANALYZE;",
      `.backup '${copy}'`,
      "VACUUM;",
      "PRAGMA integrity_check;",
    ]) {
      const r = await sqlite3(corePath(server), command);
      expect({ command, code: r.code, err: r.err }).toEqual({ command, code: 0, err: "" });
      if (command.includes("integrity_check")) expect(r.out).toBe("ok");
      expectIntact(server, `sqlite3 ${command}`);
    }
    const ids = await writing.stop();
    // Debates were created while the commands ran, not only before them.
    expect(ids.length).toBeGreaterThan(10);
    const views = await expectSameEverywhere(server, ids);
    expect([...views.values()].every((v) => v.status === "completed" && v.events > 0)).toBe(true);
    expect((await sqlite3(copy, "PRAGMA integrity_check;")).out).toBe("ok");
    expectIntact(server, "end");
    // The shell's write lock (ANALYZE, VACUUM, the TRUNCATE checkpoint) made writers wait, never fail.
    expect(errorsLogged(server)).toEqual([]);
  }, 120_000);

  test("kill -9 and a restart: every acknowledged debate reads the same through the API and sqlite3", async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await serve(dataDir);
    // The hourly checkpoint and an operator's integrity check first: in that order they used to
    // delete the live WAL, and a crash then lost every debate written since.
    expect((await runSchedule(first, "wal-checkpoint")).last_run.outcome).toBe("succeeded");
    expect((await sqlite3(corePath(first), "PRAGMA integrity_check;")).out).toBe("ok");
    const writing = writeDebates(first, "crash");
    await writing.until(20);
    // Debates that completed before the crash, with the events the API served for them.
    await settledSome(first, writing.acknowledged, 5);
    const completed = new Map<string, DebateView>();
    for (const id of [...writing.acknowledged]) {
      const view = await throughApi(first, id);
      if ("status" in view && view.status === "completed") completed.set(id, view);
    }
    expect(completed.size).toBeGreaterThanOrEqual(5);
    // Ten more, then the crash while they run and the next two are in flight.
    await writing.until(writing.acknowledged.length + 10);
    writing.continuously();
    first.signal("SIGKILL");
    expect(await first.exited).not.toBe(0);
    const ids = await writing.stop();

    const second = await serve(dataDir);
    const views = await expectSameEverywhere(second, ids);
    for (const [id, before] of completed) expect({ id, after: views.get(id) }).toEqual({ id, after: before });
    expectIntact(second, "restart");
  }, 120_000);

  test("sustained debate writes keep the WAL under ARAGORA_SQLITE_WAL_LIMIT_MB, and no write fails", async () => {
    const limit = 32 * 2 ** 20;
    const server = await startTestServer({
      env: { ...ENV, ARAGORA_SQLITE_WAL_LIMIT_MB: "32", ARAGORA_DEMO_TOKEN_DELAY_MS: "0" },
    });
    servers.push(server);
    const wal = `${corePath(server)}-wal`;
    let largest = 0;
    const sampler = setInterval(() => {
      if (existsSync(wal)) largest = Math.max(largest, statSync(wal).size);
    }, 10);
    const writing = writeDebates(server, "wal", 4, 2);
    // Two rounds each, no token delay: ~100 KiB of WAL per debate, written at tens of MiB/s; about
    // 50 MiB in all, which a WAL that is never emptied would hold at the end.
    await writing.until(500);
    const ids = await writing.stop();
    await settled(server);
    clearInterval(sampler);
    const metrics = await (await server.fetch(`/api/metrics`)).text();
    const truncated = Number(
      /aragora_sqlite_wal_truncate_seconds_count\{outcome="done"\} (\d+)/.exec(metrics)?.[1] ?? 0,
    );
    expect({ largest, truncated: truncated > 0 }).toEqual({ largest: Math.min(largest, limit - 1), truncated: true });
    expect(errorsLogged(server)).toEqual([]);
    const stored = await throughSqlite3(server);
    expect(ids.filter((id) => stored.get(id)?.status !== "completed")).toEqual([]);
    expectIntact(server, "sustained writes");
  }, 120_000);
});

/**
 * Create debates (two at a time unless told), as many as the last `until` asked for; `acknowledged` holds every
 * id a 201 answered. Requests cut off by a killed server are not acknowledged, and not counted.
 */
function writeDebates(server: TestServer, label: string, lanesInFlight = 2, rounds = 1) {
  const acknowledged: string[] = [];
  let target = 0;
  let started = 0;
  let stopped = false;
  let n = 0;
  const lane = async () => {
    while (!stopped) {
      if (started >= target) {
        await Bun.sleep(10);
        continue;
      }
      started++;
      n++;
      const id = await createDebate(server, `${label} debate ${n}: does the database keep it?`, rounds).catch(
        () => undefined,
      );
      if (id !== undefined) acknowledged.push(id);
      else if (server.proc.exitCode !== null || server.proc.signalCode !== null) return;
      else started--;
    }
  };
  const lanes = Array.from({ length: lanesInFlight }, lane);
  return {
    acknowledged,
    /** Create debates until `count` in all were acknowledged. */
    async until(count: number): Promise<void> {
      target = Math.max(target, count);
      const deadline = Date.now() + 30_000;
      while (acknowledged.length < count) {
        if (Date.now() > deadline) throw new Error(`only ${acknowledged.length} of ${count} debates acknowledged`);
        await Bun.sleep(10);
      }
    },
    /** Keep creating debates (two in flight) until `stop`. */
    continuously(): void {
      target = Number.POSITIVE_INFINITY;
    },
    async stop(): Promise<string[]> {
      stopped = true;
      await Promise.all(lanes);
      return [...acknowledged];
    },
  };
}

/** Wait until at least `count` of `ids` have completed. */
async function settledSome(server: TestServer, ids: string[], count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const body = (await (await server.fetch(`/api/debates?status=completed&limit=200`)).json()) as {
      debates: { debate_id: string }[];
    };
    if (body.debates.filter((d) => ids.includes(d.debate_id)).length >= count) return;
    await Bun.sleep(50);
  }
  throw new Error(`fewer than ${count} debates completed`);
}
