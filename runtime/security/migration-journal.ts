/**
 * The journal of `aragora encrypt-existing --execute`: one JSON line appended after each batch
 * commits (the store, the last record id done, the store's counts so far), so a run that was
 * interrupted (kill -9, a crash, Ctrl-C) resumes after the last committed batch instead of scanning
 * every record again, and says so. Beside it, a lock file keeps two runs off the same data dir.
 *
 * Resuming is a speed-up, not what makes a rerun safe: a record already on the active key is
 * skipped, and every write is a compare-and-set, so even without the journal nothing would be
 * lost or encrypted twice. That is also why the lines are appended without fsync: a kill -9 loses
 * nothing the kernel was given, and a power cut that lost the last lines only makes the next run
 * go over those batches again. A line cut short by the crash is ignored.
 *
 * A journal is resumed only by a run against the same database with the same active key; any other
 * run, or a run after the last one finished, starts a new journal.
 *
 * ```
 * {"t":"run","run":"0193…","target":"5d0c…","active":"k3f9a0c12b4de","at":"2026-12-04T19:40:00.000Z"}
 * {"t":"batch","store":"mfa_totp","after":"u-0193…","counts":{"encrypted":0,"reencrypted":500,…}}
 * {"t":"store_done","store":"mfa_totp","counts":{…}}
 * {"t":"finished","at":"2026-12-04T19:40:07.000Z"}
 * ```
 *
 * @example
 * const journal = MigrationJournalFile.open(dataDir, { target, activeKeyId: ring.active.id });
 * if (journal.resumed) console.error(`resuming the run started at ${journal.resumed.startedAt}`);
 * try { await encryptExisting(stores, { sealer, execute: true, journal }); journal.finish(); }
 * finally { journal.close(); }
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { processAlive } from "../server-lock.ts";

/** How each record of a migration ended (see encrypt-existing.ts). */
export const MIGRATION_STATUSES = ["encrypted", "reencrypted", "skipped", "changed", "failed"] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];
export type StatusCounts = Record<MigrationStatus, number>;

/** Zero of every status. @example const counts = zeroCounts(); counts.skipped++; */
export function zeroCounts(): StatusCounts {
  return { encrypted: 0, reencrypted: 0, skipped: 0, changed: 0, failed: 0 };
}

/** Where a store's migration stood when its run stopped. */
export interface StoreProgress {
  /** The id of the last record of the last committed batch; null: none yet. */
  after: string | null;
  /** The store's counts up to there. */
  counts: StatusCounts;
  /** Every record of the store was done. */
  done: boolean;
}

/** What a migration records as it goes; {@link MigrationJournalFile} keeps it in a file. */
export interface MigrationJournal {
  /** Where `store` stood in the interrupted run this one resumes; undefined: start at its first record. */
  progressOf(store: string): StoreProgress | undefined;
  /** A batch of `store` committed, up to the record `after`, the store's counts now `counts`. */
  batchDone(store: string, after: string, counts: StatusCounts): void;
  /** Every record of `store` was done. */
  storeDone(store: string, counts: StatusCounts): void;
}

/** The interrupted run a journal resumes. */
export interface ResumedRun {
  runId: string;
  /** ISO-8601 instant the interrupted run started. */
  startedAt: string;
  stores: ReadonlyMap<string, StoreProgress>;
}

/**
 * Which database a journal belongs to, without credentials (a hash of the SQLite file's path, or of
 * PostgreSQL's host, port and database): a journal is resumed only against the database it was written for.
 *
 * @example journalTarget(config.databaseUrl, store.sqlitePath) // "5d0c2a…" (16 hex)
 */
export function journalTarget(databaseUrl: string | undefined, sqlitePath: string | undefined): string {
  let where: string;
  if (databaseUrl === undefined) where = `sqlite:${sqlitePath ?? ""}`;
  else {
    const url = new URL(databaseUrl);
    where = `postgres:${url.hostname}:${url.port}${url.pathname}`;
  }
  return createHash("sha256").update(where).digest("hex").slice(0, 16);
}

/** Another run holds the data dir's migration lock. */
export class MigrationBusyError extends Error {
  override name = "MigrationBusyError";
}

/** The journal's file in a data dir. */
export const JOURNAL_FILE = "encrypt-existing.journal";
/** The lock file beside it, holding the running process's id. */
export const LOCK_FILE = "encrypt-existing.lock";

type Line =
  | { t: "run"; run: string; target: string; active: string; at: string }
  | { t: "batch"; store: string; after: string; counts: StatusCounts }
  | { t: "store_done"; store: string; counts: StatusCounts }
  | { t: "finished"; at: string };

/** The lines of a journal file; a line cut short (the crash came mid-write) and anything after it are dropped. */
function readLines(path: string): Line[] {
  if (!existsSync(path)) return [];
  const lines: Line[] = [];
  for (const text of readFileSync(path, "utf8").split("\n")) {
    if (text.trim() === "") continue;
    try {
      lines.push(JSON.parse(text) as Line);
    } catch {
      break;
    }
  }
  return lines;
}

/**
 * The run a journal file holds when it did not finish: its header and where each store stood.
 *
 * @example const open = unfinishedRun(dataDir); // what `encrypt-existing` without --execute mentions
 */
export function unfinishedRun(dataDir: string): (ResumedRun & { target: string; activeKeyId: string }) | undefined {
  const lines = readLines(join(dataDir, JOURNAL_FILE));
  const head = lines[0];
  if (head?.t !== "run" || lines.some((l) => l.t === "finished")) return undefined;
  const stores = new Map<string, StoreProgress>();
  for (const line of lines) {
    if (line.t === "batch") stores.set(line.store, { after: line.after, counts: line.counts, done: false });
    else if (line.t === "store_done") {
      stores.set(line.store, { after: stores.get(line.store)?.after ?? null, counts: line.counts, done: true });
    }
  }
  return { runId: head.run, startedAt: head.at, target: head.target, activeKeyId: head.active, stores };
}

/**
 * Takes the data dir's migration lock: refused while the process that holds it lives; a lock left by
 * a process that died (kill -9) is taken over.
 */
function acquireLock(path: string): void {
  const mine = JSON.stringify({ pid: process.pid, host: hostname(), at: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, mine, { flag: "wx" });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    let holder: { pid?: unknown; host?: unknown } = {};
    try {
      holder = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      // Cut short as it was written: whoever wrote it died then.
    }
    const pid = typeof holder.pid === "number" ? holder.pid : undefined;
    if (pid !== undefined && pid !== process.pid && holder.host === hostname() && processAlive(pid)) {
      throw new MigrationBusyError(
        `another encrypt-existing (pid ${pid}) is running on this data dir (${path}); wait for it to finish`,
      );
    }
    rmSync(path, { force: true });
  }
  throw new MigrationBusyError(`could not take the migration lock ${path}: another run took it meanwhile`);
}

/** A {@link MigrationJournal} in `<data dir>/encrypt-existing.journal`, holding the lock while open. */
export class MigrationJournalFile implements MigrationJournal {
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly lockPath: string,
    /** The interrupted run this one resumes, if any. */
    readonly resumed: ResumedRun | undefined,
  ) {}

  /**
   * Takes the lock and opens the journal: resumes the unfinished run of the same `target` (which
   * database) and `activeKeyId`, or starts a new journal (always with `restart`). Throws
   * {@link MigrationBusyError} while another run holds the lock.
   *
   * @example const journal = MigrationJournalFile.open(".nomic", { target: "5d0c…", activeKeyId: "k3f9a0c12b4de" });
   */
  static open(
    dataDir: string,
    options: { target: string; activeKeyId: string; restart?: boolean; runId?: string },
  ): MigrationJournalFile {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, JOURNAL_FILE);
    const lockPath = join(dataDir, LOCK_FILE);
    acquireLock(lockPath);
    try {
      const open = options.restart ? undefined : unfinishedRun(dataDir);
      if (open !== undefined && open.target === options.target && open.activeKeyId === options.activeKeyId) {
        return new MigrationJournalFile(path, lockPath, open);
      }
      const head: Line = {
        t: "run",
        run: options.runId ?? crypto.randomUUID(),
        target: options.target,
        active: options.activeKeyId,
        at: new Date().toISOString(),
      };
      // Replaced whole (write, then rename): a crash here leaves the old journal or the new one.
      writeFileSync(`${path}.tmp`, `${JSON.stringify(head)}\n`);
      renameSync(`${path}.tmp`, path);
      return new MigrationJournalFile(path, lockPath, undefined);
    } catch (err) {
      rmSync(lockPath, { force: true });
      throw err;
    }
  }

  progressOf(store: string): StoreProgress | undefined {
    return this.resumed?.stores.get(store);
  }

  batchDone(store: string, after: string, counts: StatusCounts): void {
    this.append({ t: "batch", store, after, counts });
  }

  storeDone(store: string, counts: StatusCounts): void {
    this.append({ t: "store_done", store, counts });
  }

  /** The run went over every store: the next run starts a new journal. Releases the lock. */
  finish(): void {
    this.append({ t: "finished", at: new Date().toISOString() });
    this.close();
  }

  /** Releases the lock (the journal stays for the next run to resume, unless finished). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    rmSync(this.lockPath, { force: true });
  }

  private append(line: Line): void {
    appendFileSync(this.path, `${JSON.stringify(line)}\n`);
  }
}
