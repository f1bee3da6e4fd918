/**
 * migrate.status / apply / rollback through the store's Migrator on a fresh SQLite data dir, and
 * incident.record writing the runbook's post-incident template with the timeline from the journal.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TimelineEntry } from "../../ops/action.ts";
import { incidentRecord } from "../../ops/actions/incident-record.ts";
import { migrateApply, migrateRollback, migrateStatus } from "../../ops/actions/migrate.ts";
import { migrationsDir, readMigrations } from "../../runtime/store/migrations.ts";
import { type TempDir, tempDataDir } from "../support/services.ts";
import { actionContext, treeChecksums } from "./context.ts";

let dir: TempDir;
beforeAll(() => {
  dir = tempDataDir();
});
afterAll(() => dir.remove());

describe("migrate actions", () => {
  test("plan on an empty data dir creates nothing; apply, status and rollback use the Migrator", async () => {
    const all = readMigrations(migrationsDir("sqlite")).map((m) => m.tag);
    const ctx = actionContext(dir.path);
    const plan = await migrateApply.plan({}, ctx);
    expect(plan.changes.map((c) => c.target)).toEqual(all);
    expect(plan.changes[0]?.diff).toContain("CREATE TABLE");
    expect(readdirSync(dir.path)).toEqual([]);

    expect(await migrateApply.run({}, ctx)).toEqual({ applied: all.length, tags: all.join(",") });
    expect(await migrateStatus.run({}, ctx)).toEqual({
      applied: all.length,
      pending: 0,
      problems: 0,
      last_applied: all.at(-1) as string,
    });
    expect(await migrateApply.run({}, ctx)).toEqual({ applied: 0, tags: "" });

    const before = treeChecksums(dir.path);
    const rollbackPlan = await migrateRollback.plan({}, ctx);
    expect(rollbackPlan.summary).toBe(`roll back ${all.at(-1)}`);
    expect(treeChecksums(dir.path)).toEqual(before);
    expect(await migrateRollback.run({}, ctx)).toEqual({ rolled_back: all.at(-1) as string });
    expect((await migrateStatus.run({}, ctx)).pending).toBe(1);
    expect(migrateRollback.idempotent).toBe(false);
  });
});

describe("incident.record", () => {
  const timeline: TimelineEntry[] = [
    { seq: 1, at: "2026-11-28T10:02:11.000Z", stepId: null, kind: "run_started", data: {} },
    {
      seq: 2,
      at: "2026-11-28T10:02:12.000Z",
      stepId: "health",
      kind: "step_started",
      data: { action: "http.request" },
    },
    { seq: 3, at: "2026-11-28T10:02:12.500Z", stepId: "health", kind: "step_progress", data: { message: "50%" } },
    {
      seq: 4,
      at: "2026-11-28T10:03:40.000Z",
      stepId: "health",
      kind: "step_failed",
      data: { error: "GET /api/health: connection refused\nstack" },
    },
    { seq: 5, at: "2026-11-28T10:09:00.000Z", stepId: "gate", kind: "approval", data: { approver: "alice" } },
  ];

  test("writes incidents/YYYY-MM-DD-title.md in the runbook's template, timeline from the journal", async () => {
    const ctx = actionContext(dir.path, { timeline });
    const input = {
      title: "API down: 502s",
      severity: "P1" as const,
      summary: "The API refused connections for 7 minutes.",
      root_cause: "The process ran out of file descriptors.",
      action_items: ["Raise LimitNOFILE", "Alert on open fds"],
    };
    const plan = await incidentRecord.plan(input, ctx);
    expect(existsSync(join(dir.path, "incidents"))).toBe(false);
    const out = await incidentRecord.run(input, ctx);
    const day = new Date().toISOString().slice(0, 10);
    expect(out).toEqual({ path: join(dir.path, "incidents", `${day}-api-down-502s.md`), events: 5 });
    expect(plan.changes[0]).toMatchObject({ kind: "create", target: out.path });
    const text = readFileSync(String(out.path), "utf8");
    expect(text).toStartWith(`# Incident: ${day}-API down: 502s\n`);
    for (const heading of ["## Summary", "## Timeline", "## Root Cause", "## Action Items"])
      expect(text).toContain(heading);
    expect(text).toContain("- 10:02 - health: step started (action: http.request)");
    expect(text).toContain("- 10:03 - health: step failed (error: GET /api/health: connection refused)");
    expect(text).toContain("- 10:09 - gate: approval (approver: alice)");
    expect(text).not.toContain("50%");
    expect(text).toContain("- [ ] Raise LimitNOFILE\n- [ ] Alert on open fds");

    // The same run rewrites its own file; another run with the same title gets a new one.
    expect((await incidentRecord.run(input, ctx)).path).toBe(out.path);
    const other = await incidentRecord.run(input, { ...ctx, runId: "r-test-2" });
    expect(other.path).toBe(join(dir.path, "incidents", `${day}-api-down-502s-2.md`));
  });
});
