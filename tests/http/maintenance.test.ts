import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, tempDir } from "../support/server.ts";

const inCI = process.env.CI === "true";

function tool(name: string): string | null {
  const path = Bun.which(name);
  if (!path) {
    if (inCI) throw new Error(`${name} is required in CI (.ci/run installs it)`);
    process.stderr.write(
      `skipping ${name} test: ${name} is not installed (apt-get install ${name === "promtool" ? "prometheus" : name})\n`,
    );
  }
  return path;
}

function run(cmd: string[]) {
  const p = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

const sqlite3 = tool("sqlite3");
describe.skipIf(!sqlite3)("the stock sqlite3 CLI on a running server's database", () => {
  test("integrity_check, wal_checkpoint(TRUNCATE), .backup, ANALYZE and VACUUM work and do no harm", async () => {
    const server = await startTestServer({ keepDataDir: true });
    const db = join(server.dataDir, "core.db");
    const backup = join(tempDir(), "core-backup.db");
    const cli = (sql: string) => run([sqlite3 as string, "-cmd", ".timeout 10000", db, sql]);
    try {
      expect(cli("PRAGMA journal_mode;").stdout.trim()).toBe("wal");
      for (const sql of [
        "PRAGMA integrity_check;",
        "PRAGMA wal_checkpoint(TRUNCATE);",
        `.backup ${backup}`,
        "ANALYZE;",
        "VACUUM;",
      ]) {
        const r = cli(sql);
        expect({ sql, code: r.code, stderr: r.stderr }).toEqual({ sql, code: 0, stderr: "" });
        if (sql.startsWith("PRAGMA integrity_check")) expect(r.stdout.trim()).toBe("ok");
        if (sql.startsWith("PRAGMA wal_checkpoint")) expect(r.stdout.trim()).toMatch(/^0\|/);
        const health = await server.fetch(`/api/health`);
        expect(health.status).toBe(200);
      }
      const copy = new Database(backup, { readonly: true });
      const nodes = copy.query("SELECT id, pid FROM nodes").all() as { id: string; pid: number }[];
      expect(nodes.some((n) => n.pid === server.proc.pid)).toBe(true);
      copy.close();
    } finally {
      expect(await server.stop()).toBe(0);
    }
    // The server still wrote its shutdown record after the maintenance, and the file is sound.
    const after = new Database(db, { readonly: true });
    const row = after.query("SELECT stopped_at, stop_reason FROM nodes WHERE pid = ?").get(server.proc.pid) as {
      stopped_at: number | null;
      stop_reason: string | null;
    };
    expect(row.stopped_at).not.toBeNull();
    expect(row.stop_reason).toBe("SIGTERM");
    expect((after.query("PRAGMA integrity_check").get() as { integrity_check: string }).integrity_check).toBe("ok");
    after.close();
  });
});

const promtool = tool("promtool");
describe.skipIf(!promtool)("promtool", () => {
  test("every aragora_ metric family passes `promtool check metrics`", async () => {
    const server = await startTestServer();
    try {
      const ws = new WebSocket(server.ws, { headers: server.authHeaders });
      await new Promise((r) => (ws.onopen = r));
      await server.fetch(`/api/health`);
      await server.fetch(`/api/nope`);
      const text = await (await server.fetch(`/api/metrics`)).text();
      const blocks = text.split("\n\n").filter((b) => /^# HELP aragora_/.test(b));
      expect(blocks.length).toBeGreaterThan(3);
      const proc = Bun.spawn([promtool as string, "check", "metrics"], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
      });
      proc.stdin.write(`${blocks.join("\n")}\n`);
      proc.stdin.end();
      const [out, err, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      expect({ code, out, err }).toEqual({ code: 0, out: "", err: "" });
      ws.close();
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});
