/**
 * Schema migrations as playbook steps, through the store's own Migrator (the one `aragora migrate`
 * and server start use): `migrate.status`, `migrate.apply` (pending migrations, each in its own
 * locked transaction) and `migrate.rollback` (the last applied one, with its .down.sql). Plans show
 * the SQL that would run.
 *
 * @example
 * steps:
 *   - id: status
 *     action: migrate.status
 *     timeout: 1m
 *   - id: apply
 *     action: migrate.apply
 *     when: ${{ steps.status.outputs.pending > 0 }}
 *     timeout: 10m
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type } from "arktype";
import { migrationsDir, readMigrations } from "../../runtime/store/migrations.ts";
import { openStore, storeDialect } from "../../runtime/store/open.ts";
import type { Dialect } from "../../runtime/store/repo.ts";
import { SQLITE_FILE } from "../../runtime/store/sqlite.ts";
import type { MigrationStatus, Store } from "../../runtime/store/store.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";

const NoInput = lazy(() => type({ "+": "reject" }));
type NoInputT = typeof NoInput.infer;

function dialect(ctx: ActionContext): Dialect {
  return storeDialect(ctx.config);
}

/** Open the configured store without applying anything, run `work`, close it. */
async function withStore<T>(ctx: ActionContext, work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ ...ctx.config, dataDir: ctx.dataDir }, ctx.log, { migrate: false });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/**
 * Migration status without creating anything: an SQLite data dir with no core.db yet has every
 * migration pending (opening the store would create the file, and a plan must change nothing).
 */
async function readStatus(ctx: ActionContext): Promise<MigrationStatus[]> {
  if (dialect(ctx) === "sqlite" && !existsSync(join(ctx.dataDir, SQLITE_FILE))) {
    return readMigrations(migrationsDir("sqlite")).map((m) => ({ tag: m.tag, applied: false }));
  }
  return withStore(ctx, (store) => store.migrator.status());
}

function summarize(rows: MigrationStatus[]) {
  return {
    applied: rows.filter((r) => r.applied).length,
    pending: rows.filter((r) => !r.applied).length,
    problems: rows.filter((r) => r.problem !== undefined).length,
    last_applied: rows.filter((r) => r.applied && r.problem !== "missing").at(-1)?.tag ?? "",
  };
}

export const migrateStatus: ActionDefinition<NoInputT, Record<string, unknown>> = {
  name: "migrate.status",
  description: "count applied, pending and problem (modified or missing) migrations; fails on a problem",
  input: NoInput,
  outputs: ["applied", "pending", "problems", "last_applied"],
  idempotent: true,
  async plan() {
    return { summary: "read the migration records (read-only)", changes: [] };
  },
  async run(_input, ctx) {
    const rows = await readStatus(ctx);
    const bad = rows.filter((r) => r.problem !== undefined);
    if (bad.length > 0) {
      throw new Error(`migration problems: ${bad.map((r) => `${r.tag} is ${r.problem}`).join(", ")}`);
    }
    return summarize(rows);
  },
};

export const migrateApply: ActionDefinition<NoInputT, Record<string, unknown>> = {
  name: "migrate.apply",
  description: "apply every pending schema migration, each in its own locked transaction",
  input: NoInput,
  outputs: ["applied", "tags"],
  // Applying again applies nothing: the records say what is done.
  idempotent: true,
  async plan(_input, ctx) {
    const pending = new Set((await readStatus(ctx)).filter((r) => !r.applied).map((r) => r.tag));
    const files = readMigrations(migrationsDir(dialect(ctx))).filter((m) => pending.has(m.tag));
    return {
      summary: files.length === 0 ? "nothing to apply: the schema is up to date" : `apply ${files.length} migration(s)`,
      changes: files.map((m) => ({ kind: "sql", target: m.tag, diff: m.up.join("\n") })),
    };
  },
  async run(_input, ctx) {
    const applied = await withStore(ctx, (store) => store.migrator.apply());
    return { applied: applied.length, tags: applied.join(",") };
  },
};

export const migrateRollback: ActionDefinition<NoInputT, Record<string, unknown>> = {
  name: "migrate.rollback",
  description: "undo the last applied migration with its .down.sql",
  input: NoInput,
  outputs: ["rolled_back"],
  // A second rollback would undo the migration before it.
  idempotent: false,
  async plan(_input, ctx) {
    const last = summarize(await readStatus(ctx)).last_applied;
    if (last === "") return { summary: "nothing to roll back: no migration is applied", changes: [] };
    const file = readMigrations(migrationsDir(dialect(ctx))).find((m) => m.tag === last);
    if (!file?.down) throw new Error(`${last} has no .down.sql; it cannot be rolled back`);
    return { summary: `roll back ${last}`, changes: [{ kind: "sql", target: last, diff: file.down.join("\n") }] };
  },
  async run(_input, ctx) {
    const undone = await withStore(ctx, (store) => store.migrator.rollback());
    return { rolled_back: undone ?? "" };
  },
};
