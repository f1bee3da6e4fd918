/**
 * Secrets the server keeps in files readable by its own user only (mode 0600 or stricter): in the
 * data directory the development JWT secret (`jwt.secret`, when ARAGORA_JWT_SECRET is unset), the
 * first-start setup token (`setup-token`) and the development encryption key (`encryption.key`),
 * and the operator's key file (ARAGORA_ENCRYPTION_KEY_FILE), which is read the same way.
 *
 * A new secret file appears whole or not at all, and only once: its content is written to a
 * private temporary file (created with O_EXCL), which is then linked to its name; `link` fails when
 * the name exists, like O_EXCL, so two processes starting on one data directory never write two
 * different secrets, and the second never reads a half-written one: it reads the first's.
 *
 * @example
 * const secret = loadOrCreateSecretFile(join(dataDir, "jwt.secret"), () => randomBytes(48).toString("base64url"));
 */
import { randomBytes } from "node:crypto";
import {
  closeSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";

/** The file name of the development JWT secret in the data directory. */
export const JWT_SECRET_FILE = "jwt.secret";
/** The file name of the first-start setup token in the data directory. */
export const SETUP_TOKEN_FILE = "setup-token";
/** The file name of the development encryption key in the data directory. */
export const DEV_ENCRYPTION_KEY_FILE = "encryption.key";

/** A secret file that cannot be used: unreadable, or readable by other users. Never holds its content. */
export class SecretFileError extends Error {
  override name = "SecretFileError";
  constructor(
    readonly path: string,
    readonly reason: "unreadable" | "too_open" | "empty",
    message: string,
  ) {
    super(message);
  }
}

/**
 * Writes `content` to a new file at `path` with mode 0600; false (nothing written) when the file
 * already exists. The file appears with all of its content at once.
 *
 * @example writeSecretFile(join(dataDir, SETUP_TOKEN_FILE), `${token}\n`);
 */
export function writeSecretFile(path: string, content: string): boolean {
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", 0o600);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temporary, path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") return false;
      // A filesystem without hard links: O_EXCL on the name itself (a reader racing the write may
      // then see it empty, which loadOrCreateSecretFile reports).
      if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP") return writeExclusive(path, content);
      throw err;
    }
    return true;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/**
 * Replaces the content of the secret file at `path` at once (a new file renamed over it, so a
 * reader sees the old content or the new, never a part): mode 0600, or the old file's mode when it
 * is stricter, and the old file's owner when this process may set it.
 *
 * @example replaceSecretFile("/etc/aragora/keys", `${newKey}\n${oldKey}\n`);
 */
export function replaceSecretFile(path: string, content: string): void {
  let mode = 0o600;
  let owner: { uid: number; gid: number } | undefined;
  try {
    const st = statSync(path);
    mode = st.mode & 0o600;
    owner = { uid: st.uid, gid: st.gid };
  } catch {
    // A new file: 0600, this process's owner.
  }
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(temporary, "wx", mode);
  try {
    try {
      if (owner !== undefined) {
        try {
          fchownSync(fd, owner.uid, owner.gid);
        } catch {
          // Not root: the file stays this process's, as the file it replaces must already be to be readable here.
        }
      }
      writeSync(fd, content);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Creates `path` with O_EXCL and writes `content`; false when it exists. */
function writeExclusive(path: string, content: string): boolean {
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
 * The content of the secret file at `path`, read only when no other user can read it (the mode is
 * checked on the open file, so a file swapped after the check is not the one read). Throws
 * {@link SecretFileError} naming the path, the mode and the fix; never the content.
 *
 * @example const text = readSecretFile("/etc/aragora/keys");
 */
export function readSecretFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    throw new SecretFileError(path, "unreadable", `${path} cannot be read (${code})`);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new SecretFileError(path, "unreadable", `${path} is not a regular file`);
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new SecretFileError(
        path,
        "too_open",
        `${path} is readable by other users (mode ${mode.toString(8).padStart(4, "0")}); expected mode 0600 or stricter: run chmod 600 ${path}`,
      );
    }
    return readFileSync(fd, "utf8");
  } finally {
    closeSync(fd);
  }
}

/**
 * The secret in `path`, made with `make` when the file does not exist yet. Throws
 * {@link SecretFileError} when the file is readable by other users (a secret anyone on the host
 * can read signs anyone's tokens) or empty.
 *
 * @example const secret = loadOrCreateSecretFile(join(dataDir, JWT_SECRET_FILE), newSecret);
 */
export function loadOrCreateSecretFile(path: string, make: () => string): string {
  writeSecretFile(path, `${make()}\n`);
  const secret = readSecretFile(path).trim();
  if (secret.length === 0) {
    throw new SecretFileError(path, "empty", `${path} is empty; delete it to have a new secret made`);
  }
  return secret;
}

/** Removes a secret file that is no longer needed (a claimed setup token); a missing one is fine. */
export function removeSecretFile(path: string): void {
  rmSync(path, { force: true });
}
