/**
 * The runbook's routine SQLite upkeep as playbook actions: `db.checkpoint` (PRAGMA
 * wal_checkpoint PASSIVE | RESTART | TRUNCATE), `db.analyze`, `db.vacuum` and `db.integrity_check`,
 * on every database of the data dir or the ones named in `databases`. They run on the live files
 * with a busy timeout, as the stock sqlite3 shell would. Plans only stat files.
 *
 * @example
 * steps:
 *   - id: checkpoint
 *     action: db.checkpoint
 *     with: { mode: PASSIVE }
 *     timeout: 5m
 */
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition, Plan } from "../action.ts";
import { type DatabaseFile, formatBytes, integrityProblems, openExisting, selectDatabases } from "./db-files.ts";

const Databases = lazy(() => type({ "+": "reject", "databases?": "string[]" }));
const CheckpointInput = lazy(() =>
  type({
    "+": "reject",
    "mode?": "'PASSIVE' | 'RESTART' | 'TRUNCATE'",
    "databases?": "string[]",
  }),
);
const IntegrityInput = lazy(() => type({ "+": "reject", "databases?": "string[]", "fail_on_problem?": "boolean" }));

type DatabasesInput = typeof Databases.infer;

/** Run `work` on each selected database in turn, honouring cancellation between databases. */
async function eachDatabase<T>(
  ctx: ActionContext,
  names: readonly string[] | undefined,
  verb: string,
  work: (db: ReturnType<typeof openExisting>, file: DatabaseFile) => T,
): Promise<{ file: DatabaseFile; result: T }[]> {
  const files = selectDatabases(ctx.dataDir, names);
  const results: { file: DatabaseFile; result: T }[] = [];
  for (const [i, file] of files.entries()) {
    ctx.signal.throwIfAborted();
    ctx.progress(`${verb} ${file.name}`, i / Math.max(files.length, 1));
    const db = openExisting(file.path, ctx.config.sqliteBusyTimeoutMs);
    try {
      results.push({ file, result: work(db, file) });
    } finally {
      db.close(false);
    }
  }
  ctx.progress(`${verb}: ${files.length} database(s)`, 1);
  return results;
}

function sqlPlan(ctx: ActionContext, names: readonly string[] | undefined, sql: string, what: string): Plan {
  const files = selectDatabases(ctx.dataDir, names);
  return {
    summary: `${what} on ${files.length} database(s): ${files.map((f) => f.name).join(", ") || "none"}`,
    changes: files.map((f) => ({
      kind: "sql",
      target: f.path,
      diff: `${sql}  -- ${formatBytes(f.bytes)}, WAL ${formatBytes(f.walBytes)}`,
      bytes: f.bytes,
    })),
  };
}

/**
 * `db.checkpoint`: copy WAL frames into the database file. PASSIVE never waits for readers;
 * RESTART and TRUNCATE wait (up to the busy timeout) so the next writer starts the WAL over,
 * TRUNCATE also shrinking the -wal file to zero. `busy` counts databases where readers held it back.
 */
export const dbCheckpoint: ActionDefinition<typeof CheckpointInput.infer, Record<string, unknown>> = {
  name: "db.checkpoint",
  description: "PRAGMA wal_checkpoint(PASSIVE | RESTART | TRUNCATE) on the data dir's SQLite databases",
  input: CheckpointInput,
  outputs: ["databases", "busy", "wal_frames", "checkpointed_frames"],
  idempotent: true,
  async plan(input, ctx) {
    const mode = input.mode ?? "PASSIVE";
    return sqlPlan(ctx, input.databases, `PRAGMA wal_checkpoint(${mode});`, `WAL checkpoint (${mode})`);
  },
  async run(input, ctx) {
    const mode = input.mode ?? "PASSIVE";
    const results = await eachDatabase(ctx, input.databases, `checkpoint (${mode})`, (db) => {
      const row = db
        .query<{ busy: number; log: number; checkpointed: number }, []>(`PRAGMA wal_checkpoint(${mode})`)
        .get();
      return row ?? { busy: 0, log: -1, checkpointed: -1 };
    });
    for (const { file, result } of results) {
      ctx.log.info({ database: file.name, mode, ...result }, "wal checkpoint");
    }
    // log and checkpointed are -1 for a database not in WAL mode; those contribute nothing.
    return {
      databases: results.length,
      busy: results.filter((r) => r.result.busy !== 0).length,
      wal_frames: results.reduce((n, r) => n + Math.max(r.result.log, 0), 0),
      checkpointed_frames: results.reduce((n, r) => n + Math.max(r.result.checkpointed, 0), 0),
    };
  },
};

/** `db.analyze`: refresh the query planner's statistics (the runbook's weekly step). */
export const dbAnalyze: ActionDefinition<DatabasesInput, Record<string, unknown>> = {
  name: "db.analyze",
  description: "ANALYZE the data dir's SQLite databases so the query planner has fresh statistics",
  input: Databases,
  outputs: ["databases"],
  idempotent: true,
  async plan(input, ctx) {
    return sqlPlan(ctx, input.databases, "ANALYZE;", "ANALYZE");
  },
  async run(input, ctx) {
    const results = await eachDatabase(ctx, input.databases, "analyze", (db) => db.run("ANALYZE"));
    return { databases: results.length };
  },
};

/**
 * `db.vacuum`: rebuild each database file to reclaim free pages (the runbook's monthly step).
 * It needs the write lock for as long as the rebuild takes, so run it in a maintenance window.
 */
export const dbVacuum: ActionDefinition<DatabasesInput, Record<string, unknown>> = {
  name: "db.vacuum",
  description: "VACUUM the data dir's SQLite databases to reclaim free pages (takes the write lock while it runs)",
  input: Databases,
  outputs: ["databases", "bytes_before", "bytes_after", "bytes_freed"],
  idempotent: true,
  async plan(input, ctx) {
    return sqlPlan(ctx, input.databases, "VACUUM;", "VACUUM");
  },
  async run(input, ctx) {
    const results = await eachDatabase(ctx, input.databases, "vacuum", (db) => {
      const pageSize = (q: string) => db.query<Record<string, number>, []>(q).get();
      const before = pageSize("PRAGMA page_count")?.page_count ?? 0;
      db.run("VACUUM");
      const after = pageSize("PRAGMA page_count")?.page_count ?? 0;
      const size = pageSize("PRAGMA page_size")?.page_size ?? 0;
      return { before: before * size, after: after * size };
    });
    const before = results.reduce((n, r) => n + r.result.before, 0);
    const after = results.reduce((n, r) => n + r.result.after, 0);
    return { databases: results.length, bytes_before: before, bytes_after: after, bytes_freed: before - after };
  },
};

/**
 * `db.integrity_check`: PRAGMA integrity_check on each database. A problem fails the step (so the
 * playbook's on_failure decides what happens) unless `fail_on_problem: false`, in which case the
 * outputs carry the verdict for a later `when:` or `assert`.
 */
export const dbIntegrityCheck: ActionDefinition<typeof IntegrityInput.infer, Record<string, unknown>> = {
  name: "db.integrity_check",
  description: "PRAGMA integrity_check on the data dir's SQLite databases; fails the step on any problem",
  input: IntegrityInput,
  outputs: ["ok", "databases", "failed", "problems"],
  idempotent: true,
  async plan(input, ctx) {
    const plan = sqlPlan(ctx, input.databases, "PRAGMA integrity_check;", "integrity check (read-only)");
    // A read-only check changes nothing; the plan lists what it reads but no changes.
    return { summary: plan.summary, changes: [] };
  },
  async run(input, ctx) {
    const results = await eachDatabase(ctx, input.databases, "integrity check", (db) => integrityProblems(db));
    const failed = results.filter((r) => r.result.length > 0);
    const problems = failed.map((r) => `${r.file.name}: ${r.result.slice(0, 10).join("; ")}`).join("\n");
    if (failed.length > 0 && input.fail_on_problem !== false) {
      throw new Error(`integrity check failed for ${failed.map((r) => r.file.name).join(", ")}:\n${problems}`);
    }
    return { ok: failed.length === 0, databases: results.length, failed: failed.length, problems };
  },
};
