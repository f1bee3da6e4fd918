/**
 * `aragora migrate status|apply|rollback`: inspect, apply or undo schema migrations on the
 * configured store (SQLite in ARAGORA_DATA_DIR, or PostgreSQL when DATABASE_URL is set).
 * Opens the store without applying anything, so `status` shows what the server would apply.
 *
 * @example
 * aragora migrate status --json
 * aragora migrate apply
 * aragora migrate rollback
 */
import pino from "pino";
import { type Command, EXIT, UsageError } from "../command.ts";
import { createLogger } from "../log.ts";
import { openStore } from "./open.ts";
import type { MigrationStatus, Store } from "./store.ts";

const ACTIONS = ["status", "apply", "rollback"] as const;
type Action = (typeof ACTIONS)[number];

function stateOf(row: MigrationStatus): string {
  return row.problem ?? (row.applied ? "applied" : "pending");
}

/** Render status rows as an aligned table for a terminal. */
export function statusTable(rows: MigrationStatus[]): string {
  if (rows.length === 0) return "no migrations\n";
  const header = ["MIGRATION", "STATE", "APPLIED AT"];
  const cells = rows.map((r) => [r.tag, stateOf(r), r.appliedAt ?? ""]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? "").length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return `${[line(header), ...cells.map(line)].join("\n")}\n`;
}

function describe(store: Store): string {
  return store.kind === "sqlite" ? `sqlite ${store.sqlitePath}` : "postgres (DATABASE_URL)";
}

async function run(action: Action, store: Store, json: boolean): Promise<number> {
  const out = (text: string) => process.stdout.write(text);
  switch (action) {
    case "status": {
      const rows = await store.migrator.status();
      const problems = rows.filter((r) => r.problem !== undefined);
      if (json) out(`${JSON.stringify({ store: store.kind, migrations: rows })}\n`);
      else out(`store: ${describe(store)}\n\n${statusTable(rows)}`);
      for (const p of problems) {
        process.stderr.write(
          p.problem === "modified"
            ? `aragora migrate: ${p.tag}.sql changed after it was applied (sha256 differs)\n`
            : `aragora migrate: ${p.tag} is applied but no migration file has that tag\n`,
        );
      }
      return problems.length > 0 ? EXIT.failure : EXIT.ok;
    }
    case "apply": {
      const applied = await store.migrator.apply();
      if (json) out(`${JSON.stringify({ store: store.kind, applied })}\n`);
      else if (applied.length === 0) out("nothing to apply: the schema is up to date\n");
      else out(applied.map((tag) => `applied ${tag}\n`).join(""));
      return EXIT.ok;
    }
    case "rollback": {
      const undone = await store.migrator.rollback();
      if (json) out(`${JSON.stringify({ store: store.kind, rolledBack: undone })}\n`);
      else out(undone === null ? "nothing to roll back: no migration is applied\n" : `rolled back ${undone}\n`);
      return EXIT.ok;
    }
  }
}

export const migrateCommand: Command = {
  name: "migrate",
  summary: "inspect, apply or roll back schema migrations",
  usage: "aragora migrate status|apply|rollback [--json]",
  options: {
    json: { type: "boolean", description: "print machine-readable JSON on stdout" },
  },
  details: [
    "actions:",
    "  status    list every migration as applied, pending, modified (its file changed after it was",
    "            applied) or missing (applied, but no file has its tag); exit 1 when any is modified or missing",
    "  apply     apply every pending migration, each in its own transaction (the server also does this on start)",
    "  rollback  undo the last applied migration with its <tag>.down.sql",
    "",
    "The store is SQLite at $ARAGORA_DATA_DIR/core.db, or PostgreSQL when DATABASE_URL is set.",
  ].join("\n"),
  async run({ values, positionals, config }) {
    const [action, ...extra] = positionals;
    if (action === undefined) throw new UsageError("an action is required: status, apply or rollback");
    if (!ACTIONS.includes(action as Action)) {
      throw new UsageError(`unknown action "${action}"; expected status, apply or rollback`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`);
    const cfg = config();
    // stdout carries the command's answer; logs go to stderr so `--json` output stays parseable.
    const log = createLogger(cfg.logLevel, pino.destination({ fd: 2, sync: true }));
    let store: Store;
    try {
      store = await openStore(cfg, log, { migrate: false });
    } catch (err) {
      process.stderr.write(`aragora migrate: cannot open the store: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    try {
      return await run(action as Action, store, values.json === true);
    } catch (err) {
      process.stderr.write(`aragora migrate ${action}: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await store.close();
    }
  },
};
