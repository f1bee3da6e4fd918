/**
 * The SQLite databases of a data dir, as the db.* actions see them: every regular file at the top
 * of the data dir whose name ends in .db, .sqlite or .sqlite3 and whose first bytes are the SQLite
 * header. Finding them only stats and reads 16 bytes, so dry runs may call it freely.
 *
 * @example
 * const dbs = listDatabases("/data/aragora");          // [{ name: "core.db", path: "/data/aragora/core.db", bytes: 86016, walBytes: 0 }]
 * const some = selectDatabases("/data/aragora", ["core.db"]);
 */
import { Database } from "bun:sqlite";
import { closeSync, existsSync, openSync, readdirSync, readSync, statSync } from "node:fs";
import { join } from "node:path";

const EXTENSIONS = [".db", ".sqlite", ".sqlite3"];
const HEADER = "SQLite format 3\0";

export interface DatabaseFile {
  /** File name inside the data dir, e.g. "core.db". */
  name: string;
  path: string;
  bytes: number;
  /** Size of the `-wal` beside it (0 when absent). */
  walBytes: number;
}

/** True when `path` starts with the 16-byte SQLite header (an empty file is not a database yet). */
export function isSqliteFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = Buffer.alloc(16);
    return readSync(fd, buf, 0, 16, 0) === 16 && buf.toString("latin1") === HEADER;
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
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
