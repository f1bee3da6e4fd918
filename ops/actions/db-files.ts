/**
 * The SQLite databases of a data dir, as the db.* actions see them: every regular file at the top
 * of the data dir whose name ends in .db, .sqlite or .sqlite3 and that SQLite reads as a database.
 * Finding them only stats files and reads their headers through SQLite, so dry runs may call it freely.
 *
 * No database file is ever opened here except through SQLite: POSIX advisory locks belong to the
 * process, and closing any descriptor of a file drops every lock the process holds on it, those of
 * the server's own connections included. A server that lost its lock lets the stock `sqlite3` shell
 * believe it is the last user and delete the live WAL. SQLite's own VFS shares one lock table per
 * file among the connections of a process and keeps a descriptor open until the last lock goes.
 *
 * @example
 * const dbs = listDatabases("/data/aragora");          // [{ name: "core.db", path: "/data/aragora/core.db", bytes: 86016, walBytes: 0 }]
 * const some = selectDatabases("/data/aragora", ["core.db"]);
 */
import { constants, Database } from "bun:sqlite";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const EXTENSIONS = [".db", ".sqlite", ".sqlite3"];
/** The smallest page SQLite writes: a shorter file holds no database yet (SQLite would call it an empty one). */
const MIN_DATABASE_BYTES = 512;

export interface DatabaseFile {
  /** File name inside the data dir, e.g. "core.db". */
  name: string;
  path: string;
  bytes: number;
  /** Size of the `-wal` beside it (0 when absent). */
  walBytes: number;
}

/**
 * An SQLite URI naming `path` read-only and immutable: SQLite takes no lock and creates no -wal or
 * -shm beside it, so a check leaves the file, its folder and its modification times as they were.
 */
function immutableUri(path: string): string {
  return `file:${path.replaceAll("%", "%25").replaceAll("?", "%3f").replaceAll("#", "%23")}?immutable=1`;
}

/**
 * True when SQLite reads `path` as a database (its header is checked by SQLite itself; an empty
 * or shorter-than-a-page file is not a database yet). Safe on a database this process has open:
 * see the module comment.
 *
 * @example
 * isSqliteFile("/data/aragora/core.db"); // true
 * isSqliteFile("/data/aragora/notes.db"); // false: text, not a database
 */
export function isSqliteFile(path: string): boolean {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size < MIN_DATABASE_BYTES) return false;
    const db = new Database(immutableUri(path), constants.SQLITE_OPEN_READONLY | constants.SQLITE_OPEN_URI);
    try {
      db.query("PRAGMA schema_version").get();
      return true;
    } finally {
      db.close(false);
    }
  } catch {
    return false;
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Every SQLite database at the top of `dataDir`, sorted by name; empty when the dir does not exist.
 *
 * @example
 * listDatabases(".nomic").map((d) => d.name); // ["core.db", "memory.db"]
 */
export function listDatabases(dataDir: string): DatabaseFile[] {
  if (!existsSync(dataDir)) return [];
  const found: DatabaseFile[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (!entry.isFile() || entry.name.startsWith(".")) continue;
    if (!EXTENSIONS.some((ext) => entry.name.endsWith(ext))) continue;
    const path = join(dataDir, entry.name);
    if (!isSqliteFile(path)) continue;
    found.push({ name: entry.name, path, bytes: sizeOf(path), walBytes: sizeOf(`${path}-wal`) });
  }
  return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The databases named in `names` (all of them when `names` is undefined or empty). An unknown
 * name is an error naming what exists, so a typo in a playbook fails before anything runs.
 *
 * @example
 * selectDatabases(".nomic", ["core.db"]);
 */
export function selectDatabases(dataDir: string, names?: readonly string[]): DatabaseFile[] {
  const all = listDatabases(dataDir);
  if (!names || names.length === 0) return all;
  const byName = new Map(all.map((d) => [d.name, d]));
  const missing = names.filter((n) => !byName.has(n));
  if (missing.length > 0) {
    const present = all.map((d) => d.name).join(", ") || "none";
    throw new Error(`no database ${missing.join(", ")} in ${dataDir} (present: ${present})`);
  }
  return names.map((n) => byName.get(n) as DatabaseFile);
}

/**
 * Open an existing database for maintenance: never creates the file, and waits up to
 * `busyTimeoutMs` for locks the server holds instead of failing.
 *
 * @example
 * const db = openExisting("/data/core.db", 5000); db.run("ANALYZE"); db.close();
 */
export function openExisting(path: string, busyTimeoutMs: number): Database {
  const db = new Database(path, { readwrite: true, create: false });
  db.run(`PRAGMA busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
  return db;
}

/**
 * `PRAGMA integrity_check` on an open database: the problem lines, empty when the database is sound.
 *
 * @example
 * integrityProblems(db); // [] when "ok"
 */
export function integrityProblems(db: Database): string[] {
  try {
    const rows = db.query<{ integrity_check: string }, []>("PRAGMA integrity_check").all();
    const lines = rows.map((r) => r.integrity_check);
    return lines.length === 1 && lines[0] === "ok" ? [] : lines;
  } catch (err) {
    // Damage bad enough that the check itself cannot read the file is still a verdict, not a crash.
    return [(err as Error).message];
  }
}

/** Human-readable bytes for plans and progress lines. @example formatBytes(1536) // "1.5 KiB" */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
