/**
 * The schedulers' admin API on the real server: every schedule listed with its next run, the
 * runbook's receipt retention status document, a manual cleanup that deletes an expired receipt,
 * the metrics, and the admin token guard.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startTestServer, type TestServer } from "../support/server.ts";

const TOKEN = "scheduler-test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ env: { ARAGORA_API_TOKEN: TOKEN, ARAGORA_RECEIPT_RETENTION_DAYS: "30" } });
});
afterAll(async () => {
  await server.stop();
});

test("GET /api/admin/schedulers lists every schedule with its next run; the token is required", async () => {
  expect((await fetch(`${server.api}/api/admin/schedulers`)).status).toBe(401);
  const res = await fetch(`${server.api}/api/admin/schedulers`, { headers: auth });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { schedulers: { name: string; schedule: string; next_run_at: string | null }[] };
  expect(body.schedulers.map((s) => s.name)).toEqual([
    "receipt-retention",
    "wal-checkpoint",
    "backup",
    "analyze",
    "cleanup",
  ]);
  const byName = Object.fromEntries(body.schedulers.map((s) => [s.name, s]));
  expect(byName["receipt-retention"]?.schedule).toBe("every 24h");
  expect(byName.backup?.schedule).toBe("cron 0 2 * * * (UTC)");
  for (const s of body.schedulers) expect(Date.parse(String(s.next_run_at))).toBeGreaterThan(Date.now());

  const unknown = await fetch(`${server.api}/api/admin/schedulers/nope/run`, { method: "POST", headers: auth });
  expect(unknown.status).toBe(404);
  const bad = await fetch(`${server.api}/api/admin/schedulers/Bad_Name/run`, { method: "POST", headers: auth });
  expect(bad.status).toBe(422);
  expect(((await bad.json()) as { details: { field: string }[] }).details[0]?.field).toBe("params.name");
});

test("receipt retention: status, a manual cleanup that deletes an expired receipt, metrics", async () => {
  const status = await fetch(`${server.api}/api/admin/schedulers/receipt-retention/status`, { headers: auth });
  expect(await status.json()).toMatchObject({
    running: true,
    interval_hours: 24,
    retention_days: 30,
    stats: { total_runs: 0, total_receipts_deleted: 0, failures: 0, success_rate: 1.0 },
  });

  // One receipt past the 30-day retention, one fresh; written the way the debates store keeps them.
  const db = new Database(join(server.dataDir, "core.db"));
  db.run("PRAGMA busy_timeout = 5000");
  db.run("PRAGMA foreign_keys = OFF");
  const insert = db.prepare("INSERT INTO debate_receipts (debate_id, receipt, created_at) VALUES (?, ?, ?)");
  insert.run("d-old", "{}", Date.now() - 40 * 86_400_000);
  insert.run("d-new", "{}", Date.now());
  db.close();

  const cleanup = await fetch(`${server.api}/api/admin/schedulers/receipt-retention/cleanup`, {
    method: "POST",
    headers: auth,
  });
  expect(cleanup.status).toBe(200);
  expect(await cleanup.json()).toEqual({ status: "completed", receipts_deleted: 1, error: null });

  const after = (await (
    await fetch(`${server.api}/api/admin/schedulers/receipt-retention/status`, { headers: auth })
  ).json()) as Record<string, unknown>;
  expect(after).toMatchObject({
    stats: { total_runs: 1, total_receipts_deleted: 1, failures: 0, success_rate: 1.0 },
    last_run: { outcome: "succeeded" },
  });
  const left = new Database(join(server.dataDir, "core.db"), { readonly: true });
  expect(left.query("SELECT debate_id FROM debate_receipts").all()).toEqual([{ debate_id: "d-new" }]);
  left.close();

  const text = await (await server.fetch(`/api/metrics`)).text();
  expect(text).toContain('aragora_receipt_cleanup_total{status="success"} 1');
  expect(text).toContain("aragora_receipts_deleted_total 1");
  expect(text).toContain("aragora_receipt_cleanup_duration_seconds_count 1");
  expect(text).toContain('aragora_scheduler_runs_total{schedule="receipt-retention",outcome="succeeded"} 1');
});
