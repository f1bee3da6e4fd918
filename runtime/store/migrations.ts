/**
 * Reading the migration files drizzle-kit generates: `meta/_journal.json` gives the order, each
 * `<tag>.sql` is an up script and the hand-written `<tag>.down.sql` beside it undoes it.
 *
 * @example
 * const files = readMigrations(migrationsDir("sqlite"));
 * files[0]?.tag; // "0000_nodes"
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../paths.ts";

/** drizzle-kit separates statements with this marker so drivers that run one statement at a time can split. */
export const STATEMENT_BREAKPOINT = "--> statement-breakpoint";

export interface MigrationFile {
  tag: string;
  /** sha256 (hex) of the up file exactly as committed. */
  hash: string;
  up: string[];
  /** null when no `<tag>.down.sql` exists: the migration cannot be rolled back. */
  down: string[] | null;
}

interface Journal {
  entries: { idx: number; tag: string }[];
}

/** The committed migrations directory for a dialect. */
export function migrationsDir(dialect: "sqlite" | "postgres"): string {
  return `${join(PROJECT_ROOT, "migrations", dialect)}/`;
}

/**
 * Split a script into statements on drizzle-kit's breakpoint; pieces that hold only comments or
 * whitespace are dropped.
 *
 * @example
 * splitStatements("CREATE TABLE a (x int);\n--> statement-breakpoint\nCREATE INDEX i ON a (x);");
 * // ["CREATE TABLE a (x int);", "CREATE INDEX i ON a (x);"]
 */
export function splitStatements(script: string): string[] {
  return script
    .split(STATEMENT_BREAKPOINT)
    .map((s) => s.trim())
    .filter((s) => s.split("\n").some((line) => line.trim() !== "" && !line.trim().startsWith("--")));
}

/** Read the journal and every file it names, in journal order. Throws naming the file that is missing or malformed. */
export function readMigrations(dir: string): MigrationFile[] {
  const journalPath = join(dir, "meta", "_journal.json");
  let journal: Journal;
  try {
    journal = JSON.parse(readFileSync(journalPath, "utf8")) as Journal;
  } catch (err) {
    throw new Error(`${journalPath}: cannot read the migration journal: ${(err as Error).message}`);
  }
  if (!Array.isArray(journal.entries)) throw new Error(`${journalPath}: has no "entries" array`);
  return [...journal.entries]
    .sort((a, b) => a.idx - b.idx)
    .map(({ tag }) => {
      const upPath = join(dir, `${tag}.sql`);
      if (!existsSync(upPath)) throw new Error(`${upPath}: listed in the journal but missing`);
      const upText = readFileSync(upPath, "utf8");
      const downPath = join(dir, `${tag}.down.sql`);
      return {
        tag,
        hash: createHash("sha256").update(upText).digest("hex"),
        up: splitStatements(upText),
        down: existsSync(downPath) ? splitStatements(readFileSync(downPath, "utf8")) : null,
      };
    });
}
