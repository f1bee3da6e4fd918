/**
 * Our migrator: drizzle's own has no rollback. It applies drizzle-kit's generated up scripts in
 * journal order, each in its own transaction that also holds a cross-process lock, records every
 * applied migration (tag, sha256 of the up file, applied_at) in `__aragora_migrations`, and undoes
 * the last one with the hand-written down script beside it.
 *
 * The dialect supplies a {@link MigrationDriver}: how to lock, run a statement and keep the records.
 *
 * @example
 * const migrator = createMigrator(sqliteMigrationDriver(db), migrationsDir("sqlite"));
 * await migrator.apply(); // ["0000_nodes", "0001_nodes_started_at_index"]
 * await migrator.rollback(); // "0001_nodes_started_at_index"
 */
import { type MigrationFile, readMigrations } from "./migrations.ts";
import type { MigrationStatus, Migrator } from "./store.ts";

export const MIGRATIONS_TABLE = "__aragora_migrations";

export interface AppliedMigration {
  tag: string;
  hash: string;
  appliedAt: string;
}

/** Work done inside one locked transaction. */
export interface MigrationTransaction {
  applied(): Promise<AppliedMigration[]>;
  execute(statement: string): Promise<void>;
  record(migration: AppliedMigration): Promise<void>;
  forget(tag: string): Promise<void>;
}

export interface MigrationDriver {
  /** The records, read without taking the lock; empty when the records table does not exist yet. */
  readApplied(): Promise<AppliedMigration[]>;
  /**
   * Run `work` in one transaction holding the migration lock, so a second process starting at the
   * same moment waits and then sees what the first applied. Commits when `work` resolves, rolls
   * back when it throws. Creates the records table first if needed.
   */
  locked<T>(work: (tx: MigrationTransaction) => Promise<T>): Promise<T>;
}

/** A migration problem an operator must resolve; the message names the migration and what to do. */
export class MigrationError extends Error {
  override name = "MigrationError";
}

function compareTags(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Combine files and records into one ordered status list. */
export function migrationStatus(files: MigrationFile[], applied: AppliedMigration[]): MigrationStatus[] {
  const byTag = new Map(applied.map((a) => [a.tag, a]));
  const known = new Set(files.map((f) => f.tag));
  const rows: MigrationStatus[] = files.map((file) => {
    const record = byTag.get(file.tag);
    if (!record) return { tag: file.tag, applied: false };
    const row: MigrationStatus = { tag: file.tag, applied: true, appliedAt: record.appliedAt };
    if (record.hash !== file.hash) row.problem = "modified";
    return row;
  });
  for (const record of [...applied].sort((a, b) => compareTags(a.tag, b.tag))) {
    if (!known.has(record.tag)) {
      rows.push({ tag: record.tag, applied: true, appliedAt: record.appliedAt, problem: "missing" });
    }
  }
  return rows;
}

function refuseModified(files: MigrationFile[], applied: AppliedMigration[]): void {
  const modified = migrationStatus(files, applied).filter((s) => s.problem === "modified");
  if (modified.length > 0) {
    const tags = modified.map((s) => s.tag).join(", ");
    throw new MigrationError(
      `applied migration(s) ${tags} changed after they were applied (sha256 differs); ` +
        "restore the committed file(s) and add a new migration for the change",
    );
  }
}

/**
 * A {@link Migrator} over a dialect's driver and a directory of drizzle-kit migrations.
 * Files are read on every call, so a status always reflects what is on disk.
 */
export function createMigrator(driver: MigrationDriver, dir: string, now: () => Date = () => new Date()): Migrator {
  return {
    async status() {
      const files = readMigrations(dir);
      const applied = await driver.readApplied();
      return migrationStatus(files, applied);
    },

    async apply() {
      const files = readMigrations(dir);
      const done: string[] = [];
      for (;;) {
        const tag = await driver.locked(async (tx) => {
          const applied = await tx.applied();
          refuseModified(files, applied);
          const appliedTags = new Set(applied.map((a) => a.tag));
          const next = files.find((f) => !appliedTags.has(f.tag));
          if (!next) return null;
          for (const statement of next.up) {
            try {
              await tx.execute(statement);
            } catch (err) {
              throw new MigrationError(`${next.tag}.sql failed, nothing of it was applied: ${(err as Error).message}`);
            }
          }
          await tx.record({ tag: next.tag, hash: next.hash, appliedAt: now().toISOString() });
          return next.tag;
        });
        if (tag === null) return done;
        done.push(tag);
      }
    },

    async rollback() {
      const files = readMigrations(dir);
      return driver.locked(async (tx) => {
        const applied = await tx.applied();
        const last = [...applied].sort((a, b) => compareTags(b.tag, a.tag))[0];
        if (!last) return null;
        const down = files.find((f) => f.tag === last.tag)?.down;
        if (!down) throw new MigrationError(`cannot roll back ${last.tag}: ${last.tag}.down.sql does not exist`);
        for (const statement of down) {
          try {
            await tx.execute(statement);
          } catch (err) {
            throw new MigrationError(`${last.tag}.down.sql failed, nothing was undone: ${(err as Error).message}`);
          }
        }
        await tx.forget(last.tag);
        return last.tag;
      });
    },
  };
}
