/**
 * Every shipped playbook, run for real with `ops run <name> --yes --json --local` against a
 * temporary data dir, the gates passed with `ops approve` as an operator would.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  BUN,
  childEnv,
  ROOT,
  runCli,
  startTestServer,
  TEST_OPERATOR_TOKEN,
  type TestServer,
} from "../support/server.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";

const OPS = join(ROOT, "app", "ops-cli.ts");
const dirs: TempDir[] = [];
function freshDir(): string {
  const d = tempDataDir();
  dirs.push(d);
  return d.path;
}
afterAll(() => {
  for (const d of dirs) d.remove();
});

type Event = Record<string, unknown>;

/** Start `ops ...` and follow its JSON events as they arrive. */
function spawnOps(args: string[], dataDir: string) {
  const proc = Bun.spawn([BUN, OPS, ...args], {
    cwd: ROOT,
    // The operator token of the test servers: incident-p2 reads their API as the operator.
    env: childEnv({ ARAGORA_DATA_DIR: dataDir, ARAGORA_LOG_LEVEL: "ERROR", ARAGORA_API_TOKEN: TEST_OPERATOR_TOKEN }),
    stdout: "pipe",
    stderr: "pipe",
  });
  const events: Event[] = [];
  const waiters: { pred: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];
  void (async () => {
    let buf = "";
    for await (const chunk of proc.stdout) {
      buf += new TextDecoder().decode(chunk);
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim().startsWith("{")) continue;
        const e = JSON.parse(line) as Event;
        events.push(e);
        for (const w of [...waiters]) if (w.pred(e)) w.resolve(e);
      }
    }
  })();
  return {
    proc,
    events,
    next(pred: (e: Event) => boolean, timeoutMs = 15_000): Promise<Event> {
      const found = events.find(pred);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no matching event; got ${JSON.stringify(events)}`)),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            resolve(e);
          },
        });
      });
    },
  };
}

/** Run a playbook to completion. */
async function opsRun(name: string, dataDir: string, params: string[] = []) {
  const run = spawnOps(["run", name, "--yes", "--json", "--local", ...params.flatMap((p) => ["--param", p])], dataDir);
  const code = await run.proc.exited;
  const stderr = await new Response(run.proc.stderr).text();
  return { code, events: run.events, stderr };
}

const finished = (events: Event[], step: string) =>
  events.find((e) => e.step === step && e.kind === "step_finished")?.status;

function approve(dataDir: string, runId: string, step: string) {
  return runCli(["ops", "approve", runId, step, "--as", "tester", "--role", "operator"], { ARAGORA_DATA_DIR: dataDir });
}

function seedDatabase(dataDir: string, rows: number): void {
  const db = new Database(join(dataDir, "memory.db"), { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("CREATE TABLE IF NOT EXISTS facts (id INTEGER PRIMARY KEY, v TEXT)");
  const insert = db.prepare("INSERT INTO facts (v) VALUES (?)");
  for (let i = 0; i < rows; i++) insert.run(`fact ${i}`);
  db.close();
}

function factCount(dataDir: string): number {
  const db = new Database(join(dataDir, "memory.db"), { readonly: true });
  try {
    return db.query<{ n: number }, []>("SELECT count(*) AS n FROM facts").get()?.n ?? -1;
  } finally {
    db.close();
  }
}

describe("maintenance playbooks", () => {
  test("daily (checkpoint PASSIVE), weekly (ANALYZE) and monthly (VACUUM) run on every database", async () => {
    const dir = freshDir();
    seedDatabase(dir, 500);
    const daily = await opsRun("maintenance-daily.yml", dir);
    expect(daily.code).toBe(0);
    expect(finished(daily.events, "checkpoint")).toBe("succeeded");
    const weekly = await opsRun("maintenance-weekly", dir);
    expect(weekly.code).toBe(0);
    const db = new Database(join(dir, "memory.db"), { readonly: true });
    expect(db.query("SELECT tbl FROM sqlite_stat1 WHERE tbl = 'facts'").all()).toHaveLength(1);
    db.close();
    const monthly = await opsRun("maintenance-monthly", dir);
    expect(monthly.code).toBe(0);
    expect(["checkpoint", "vacuum", "integrity"].map((s) => finished(monthly.events, s))).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
  }, 60_000);
});

describe("backup, restore and cleanup playbooks", () => {
  let dir: string;
  beforeAll(() => {
    dir = freshDir();
    seedDatabase(dir, 100);
  });

  test("backup.yml writes an archive into backups/; restore.yml brings the data back", async () => {
    const backup = await opsRun("backup", dir, ["keep=3"]);
    expect(backup.code).toBe(0);
    const archives = readdirSync(join(dir, "backups"));
    expect(archives).toHaveLength(1);
    expect(archives[0]).toMatch(/^aragora-backup-\d{8}T\d{6}Z\.tar\.gz$/);

    seedDatabase(dir, 50);
    expect(factCount(dir)).toBe(150);
    const restore = await opsRun("restore", dir, ["archive=latest"]);
    expect(restore.code).toBe(0);
    expect(["restore", "checkpoint", "integrity"].map((s) => finished(restore.events, s))).toEqual([
      "succeeded",
      "succeeded",
      "succeeded",
    ]);
    expect(factCount(dir)).toBe(100);
  }, 60_000);

  test("cleanup.yml removes what the retention rules say and keeps the essential databases", async () => {
    mkdirSync(join(dir, "sessions", "s-old"), { recursive: true });
    writeFileSync(join(dir, "sessions", "s-old", "t.jsonl"), "x");
    writeFileSync(join(dir, "gone.db-wal"), "x");
    const old = new Date(Date.now() - 5 * 86_400_000);
    utimesSync(join(dir, "sessions", "s-old", "t.jsonl"), old, old);
    utimesSync(join(dir, "sessions", "s-old"), old, old);
    const run = await opsRun("cleanup", dir, ["session_days=3"]);
    expect(run.code).toBe(0);
    const outputs = run.events.find((e) => e.step === "prune" && e.kind === "step_output")?.outputs as Event;
    expect(outputs).toMatchObject({ removed: 2, freed_bytes: 2 });
    expect(existsSync(join(dir, "sessions", "s-old"))).toBe(false);
    expect(existsSync(join(dir, "memory.db"))).toBe(true);
    expect(readdirSync(join(dir, "backups"))).toHaveLength(1);
  }, 30_000);
});

describe("incident playbooks", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server.stop();
  });

  test("incident-p1: API down -> restart gate -> integrity -> post-incident review with the timeline", async () => {
    const dir = freshDir();
    seedDatabase(dir, 10);
    // Nothing listens on port 9: the outage.
    const run = spawnOps(
      [
        "run",
        "incident-p1",
        "--yes",
        "--json",
        "--local",
        "--param",
        "api_url=http://127.0.0.1:9",
        "--param",
        "title=API down",
      ],
      dir,
    );
    const waiting = await run.next((e) => e.kind === "approval_waiting" && e.step === "restart");
    const approved = await approve(dir, String(waiting.run_id), "restart");
    expect(approved.code).toBe(0);
    expect(await run.proc.exited).toBe(0);
    expect(finished(run.events, "health")).toBe("failed");
    expect(run.events.filter((e) => e.kind === "step_skipped").map((e) => e.step)).toEqual(["rollback", "restore"]);
    const outputs = run.events.find((e) => e.step === "record" && e.kind === "step_output")?.outputs as Event;
    const review = readFileSync(String(outputs.path), "utf8");
    expect(String(outputs.path)).toEndWith(`/incidents/${new Date().toISOString().slice(0, 10)}-api-down.md`);
    expect(review).toContain("Severity: P1");
    expect(review).toContain("API health: failed; after restart: failed; databases sound: true");
    expect(review).toMatch(/- \d\d:\d\d - restart: approval granted/);
    expect(review).toMatch(/- \d\d:\d\d - health: step finished \(status: failed/);
  }, 60_000);

  test("incident-p2: agents health and metrics against a live server, provider gate, review", async () => {
    const dir = freshDir();
    const run = spawnOps(["run", "incident-p2", "--yes", "--json", "--local", "--param", `api_url=${server.api}`], dir);
    const waiting = await run.next((e) => e.kind === "approval_waiting" && e.step === "providers");
    expect(finished(run.events, "agents")).toBe("succeeded");
    expect(finished(run.events, "metrics")).toBe("succeeded");
    expect((await approve(dir, String(waiting.run_id), "providers")).code).toBe(0);
    expect(await run.proc.exited).toBe(0);
    const outputs = run.events.find((e) => e.step === "record" && e.kind === "step_output")?.outputs as Event;
    expect(readFileSync(String(outputs.path), "utf8")).toContain(
      "agents health: succeeded; after mitigation: succeeded",
    );
  }, 60_000);
});

describe("disaster-recovery.yml", () => {
  test("gate, restore an off-site archive into an empty data dir, migrate, wait for the started server", async () => {
    const source = freshDir();
    seedDatabase(source, 42);
    expect((await opsRun("backup", source)).code).toBe(0);
    const archive = join(freshDir(), "offsite.tar.gz");
    copyFileSync(join(source, "backups", readdirSync(join(source, "backups"))[0] as string), archive);

    const target = freshDir();
    const probe = Bun.serve({ port: 0, fetch: () => new Response() });
    const port = probe.port as number;
    probe.stop(true);
    const run = spawnOps(
      [
        "run",
        "disaster-recovery",
        "--yes",
        "--json",
        "--local",
        "--param",
        `archive=${archive}`,
        "--param",
        `api_url=http://127.0.0.1:${port}`,
      ],
      target,
    );
    const waiting = await run.next((e) => e.kind === "approval_waiting" && e.step === "provisioned");
    expect((await approve(target, String(waiting.run_id), "provisioned")).code).toBe(0);
    await run.next((e) => e.step === "verify" && e.kind === "step_started");
    expect(factCount(target)).toBe(42);
    // The operator starts the server on the restored data dir; verify retries until it answers.
    const server = await startTestServer({ dataDir: target, args: ["--api-port", String(port)] });
    try {
      expect(await run.proc.exited).toBe(0);
      expect(["restore", "integrity", "migrate", "schema", "verify"].map((s) => finished(run.events, s))).toEqual([
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
        "succeeded",
      ]);
    } finally {
      await server.stop();
    }
  }, 90_000);
});
