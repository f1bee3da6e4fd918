/**
 * `<data dir>/server.json`: which live process serves this data dir and on which ports.
 * It stops a second server from opening the same SQLite files by accident, and it is how
 * `ops` and `db.restore` find (or refuse because of) a running server.
 *
 * @example
 * const lock = acquireServerLock(".nomic", { pid: process.pid, node_id, api_port: 8080, ws_port: 8765, ... });
 * lock.release();
 */
import { existsSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ServerLockInfo {
  pid: number;
  node_id: string;
  host: string;
  api_port: number;
  ws_port: number;
  version: string;
  started_at: string;
}

export class DataDirInUseError extends Error {
  constructor(readonly holder: ServerLockInfo) {
    super(
      `the data dir is in use by another Aragora server (pid ${holder.pid}, API port ${holder.api_port}); stop it or use another ARAGORA_DATA_DIR`,
    );
    this.name = "DataDirInUseError";
  }
}

export function lockPath(dataDir: string): string {
  return join(dataDir, "server.json");
}

/**
 * Whether process `pid` lives on this host (a lock file left by one that died, kill -9 included, is
 * stale). EPERM: it exists but belongs to another user.
 *
 * @example if (!processAlive(holder.pid)) takeOver();
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The live server holding the data dir, or null (a stale file from a killed process counts as free). */
export function readServerLock(dataDir: string): ServerLockInfo | null {
  const path = lockPath(dataDir);
  if (!existsSync(path)) return null;
  try {
    const info = JSON.parse(readFileSync(path, "utf8")) as ServerLockInfo;
    return info.pid !== process.pid && processAlive(info.pid) ? info : null;
  } catch {
    return null;
  }
}

/** Write the lock (atomically, via rename) after checking no other live server holds it. */
export function acquireServerLock(
  dataDir: string,
  info: ServerLockInfo,
): { update(info: ServerLockInfo): void; release(): void } {
  mkdirSync(dataDir, { recursive: true });
  const holder = readServerLock(dataDir);
  if (holder) throw new DataDirInUseError(holder);
  const path = lockPath(dataDir);
  const write = (i: ServerLockInfo) => {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(i, null, 2)}\n`);
    renameSync(tmp, path);
  };
  write(info);
  return {
    update: write,
    release() {
      try {
        const current = JSON.parse(readFileSync(path, "utf8")) as ServerLockInfo;
        if (current.pid === process.pid) unlinkSync(path);
      } catch {
        // already gone: nothing to release
      }
    },
  };
}
