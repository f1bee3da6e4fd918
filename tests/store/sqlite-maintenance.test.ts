/**
 * The stock sqlite3 shell runs its maintenance commands against the live database while another
 * process holds an open Store and keeps writing: no write fails, nothing is corrupted, and the
 * backup taken mid-write is a complete, consistent database.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { childEnv, REPO_ROOT } from "./cli.ts";

const SQLITE3 = "/usr/bin/sqlite3";

let dir: TempDir;
beforeAll(() => {
  dir = tempDataDir();
});
afterAll(() => dir.remove());

/** Run one command in the stock shell; `.timeout` makes the shell wait for locks as the server does. */
function shell(db: string, command: string): { code: number; out: string; err: string } {
  const r = Bun.spawnSync([SQLITE3, "-bail", "-cmd", ".timeout 10000", db, command]);
  return { code: r.exitCode, out: r.stdout.toString().trim(), err: r.stderr.toString().trim() };
}

async function firstLine(stream: ReadableStream<Uint8Array>): Promise<{ line: string; rest: Promise<string> }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`writer exited before it was ready: ${buffered}`);
    buffered += decoder.decode(value, { stream: true });
    const newline = buffered.indexOf("\n");
    if (newline >= 0) {
      const rest = (async () => {
        let tail = buffered.slice(newline + 1);
        for (;;) {
          const next = await reader.read();
          if (next.done) return tail;
          tail += decoder.decode(next.value, { stream: true });
        }
      })();
      return { line: buffered.slice(0, newline), rest };
    }
  }
}

test.skipIf(!existsSync(SQLITE3))(
  "integrity_check, wal_checkpoint(TRUNCATE), .backup, ANALYZE and VACUUM while a Store writes",
  async () => {
    const db = join(dir.path, "core.db");
    const backup = join(dir.path, "backup.db");
    const writer = Bun.spawn([process.execPath, join(import.meta.dir, "fixtures", "heartbeat-writer.ts")], {
      cwd: REPO_ROOT,
      env: childEnv({ ARAGORA_DATA_DIR: dir.path }),
      stdout: "pipe",
      stderr: "pipe",
    });
    const { line, rest } = await firstLine(writer.stdout);
    const nodeId = (JSON.parse(line) as { ready: string }).ready;
    await Bun.sleep(200);

    const results: Record<string, { code: number; out: string; err: string }> = {};
    for (const command of [
      "PRAGMA integrity_check;",
      "PRAGMA wal_checkpoint(TRUNCATE);",
      `.backup '${backup}'`,
      "ANALYZE;",
      "VACUUM;",
      "PRAGMA wal_checkpoint(TRUNCATE);",
      "PRAGMA integrity_check;",
    ]) {
      results[command] = shell(db, command);
      expect({ command, ...results[command] }).toMatchObject({ command, code: 0, err: "" });
      await Bun.sleep(100);
    }
    expect(results["PRAGMA integrity_check;"]?.out).toBe("ok");
    // busy=0: the checkpoint completed and truncated the WAL; the writer held no read transaction open.
    expect(results["PRAGMA wal_checkpoint(TRUNCATE);"]?.out).toMatch(/^0\|/);

    writer.kill("SIGTERM");
    const [tail, stderr, code] = await Promise.all([rest, new Response(writer.stderr).text(), writer.exited]);
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    const report = JSON.parse(tail.trim()) as { writes: number; failures: number; errors: string[]; inserted: number };
    expect(report.errors).toEqual([]);
    expect(report.failures).toBe(0);
    expect(report.writes).toBeGreaterThan(50);

    // The live database: intact and holding every row the writer inserted.
    expect(shell(db, "PRAGMA integrity_check;").out).toBe("ok");
    const live = new Database(db, { readonly: true });
    try {
      expect(live.query<{ n: number }, []>("SELECT count(*) AS n FROM nodes").get()?.n).toBe(report.inserted);
    } finally {
      live.close();
    }

    // The backup: a consistent database that opens on its own and holds the rows written before it.
    expect(shell(backup, "PRAGMA integrity_check;").out).toBe("ok");
    const copy = new Database(backup, { readonly: true });
    try {
      const n = copy.query<{ n: number }, []>("SELECT count(*) AS n FROM nodes").get()?.n ?? 0;
      expect(n).toBeGreaterThan(1);
      expect(n).toBeLessThanOrEqual(report.inserted);
      expect(copy.query("SELECT id FROM nodes WHERE id = ?").get(nodeId)).toEqual({ id: nodeId });
      const tags = copy.query<{ tag: string }, []>('SELECT tag FROM "__aragora_migrations" ORDER BY tag').all();
      expect(tags.length).toBeGreaterThan(0);
    } finally {
      copy.close();
    }
  },
);
