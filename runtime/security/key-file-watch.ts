/**
 * Notices that the key file changed and re-reads it, so that every node sharing a key file (a
 * mounted secret, a file the key rotation rewrote) takes a new key within a few seconds, with no
 * SIGHUP to send to each. The file is looked at (stat: inode, size, modification time) every
 * `intervalMs`; a change calls `onChange`, which reloads the keys as SIGHUP does.
 *
 * @example
 * const stop = watchKeyFile(() => keys.status().path, { intervalMs: 2000, onChange: () => reloadKeys("file_change") });
 * stop(); // at shutdown
 */
import { statSync } from "node:fs";

/** How often a server looks at its key file. */
export const KEY_FILE_POLL_MS = 2000;

function signature(path: string): string {
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    // Gone or unreadable: a change too (the reload says what is wrong, and the keys stay).
    return `error:${(err as NodeJS.ErrnoException).code ?? "unknown"}`;
  }
}

/** Watches the file `path()` names (null: nothing to watch); returns the function that stops it. */
export function watchKeyFile(
  path: () => string | null,
  options: { intervalMs?: number; onChange: () => void },
): () => void {
  let watched = path();
  let last = watched === null ? "" : signature(watched);
  const timer = setInterval(() => {
    const now = path();
    if (now === null) return;
    const seen = signature(now);
    if (now === watched && seen === last) return;
    watched = now;
    last = seen;
    options.onChange();
  }, options.intervalMs ?? KEY_FILE_POLL_MS);
  timer.unref?.();
  return () => clearInterval(timer);
}
