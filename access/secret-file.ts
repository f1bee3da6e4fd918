/**
 * Secrets the server keeps in its data directory, readable by its own user only (mode 0600): the
 * development JWT secret (`jwt.secret`, when ARAGORA_JWT_SECRET is unset) and the first-start
 * setup token (`setup-token`). Created with O_EXCL, so two processes starting on one data
 * directory never write two different secrets: the second reads the first's.
 *
 * @example
 * const secret = loadOrCreateSecretFile(join(dataDir, "jwt.secret"), () => randomBytes(48).toString("base64url"));
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/** The file name of the development JWT secret in the data directory. */
export const JWT_SECRET_FILE = "jwt.secret";
/** The file name of the first-start setup token in the data directory. */
export const SETUP_TOKEN_FILE = "setup-token";

/**
 * Writes `content` to a new file at `path` with mode 0600; false (nothing written) when the file
 * already exists.
 *
 * @example writeSecretFile(join(dataDir, SETUP_TOKEN_FILE), `${token}\n`);
 */
export function writeSecretFile(path: string, content: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  let fd: number;
  try {
    fd = openSync(path, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * The secret in `path`, made with `make` when the file does not exist yet. Throws when the file is
 * readable by other users (a secret anyone on the host can read signs anyone's tokens) or empty.
 *
 * @example const secret = loadOrCreateSecretFile(join(dataDir, JWT_SECRET_FILE), newSecret);
 */
export function loadOrCreateSecretFile(path: string, make: () => string): string {
  writeSecretFile(path, `${make()}\n`);
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by other users (mode ${mode.toString(8)}); run chmod 600 ${path}`);
  }
  const secret = readFileSync(path, "utf8").trim();
  if (secret.length === 0) throw new Error(`${path} is empty; delete it to have a new secret made`);
  return secret;
}

/** Removes a secret file that is no longer needed (a claimed setup token); a missing one is fine. */
export function removeSecretFile(path: string): void {
  rmSync(path, { force: true });
}
