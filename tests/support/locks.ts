/**
 * What the kernel says a process holds on a database file, read without ever opening that file:
 * its POSIX advisory locks from /proc/locks (matched by device and inode from stat), and the
 * descriptors in /proc/<pid>/fd that point at a deleted -wal or -shm. Opening and closing the file
 * here would drop this process's own SQLite locks on it, the very failure these helpers detect.
 * Linux only.
 *
 * @example
 * expect(locksHeld(server.proc.pid, join(server.dataDir, "core.db"))).not.toEqual([]);
 * expect(deletedDatabaseFds(server.proc.pid)).toEqual([]);
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";

/** `maj:min:inode` as /proc/locks prints a file's identity (major and minor in hex). */
function lockId(path: string): string {
  const st = statSync(path);
  const dev = BigInt(st.dev);
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, "0")}:${minor.toString(16).padStart(2, "0")}:${st.ino}`;
}

/**
 * The /proc/locks lines of POSIX locks `pid` holds on `path` (empty when it holds none).
 *
 * @example
 * locksHeld(process.pid, "/tmp/d/core.db"); // ["2: POSIX  ADVISORY  READ 4242 fe:00:2180247 1073741826 1073742335"]
 */
export function locksHeld(pid: number, path: string): string[] {
  const id = lockId(path);
  return readFileSync("/proc/locks", "utf8")
    .split("\n")
    .filter((line) => {
      const fields = line.trim().split(/\s+/);
      // "N: POSIX ADVISORY READ|WRITE pid maj:min:inode start end"; a blocked request reads "N: -> POSIX ...".
      return fields[1] === "POSIX" && fields[4] === String(pid) && fields[5] === id;
    });
}

/**
 * Descriptors of `pid` that point at a deleted SQLite file (`core.db-wal (deleted)` ...): a
 * process writing into a WAL that no longer has a name.
 *
 * @example
 * deletedDatabaseFds(server.proc.pid); // [] when healthy
 */
export function deletedDatabaseFds(pid: number): string[] {
  const found: string[] = [];
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (/\.(db|sqlite3?)(-wal|-shm|-journal)? \(deleted\)$/.test(target)) found.push(`${fd} -> ${target}`);
  }
  return found;
}
