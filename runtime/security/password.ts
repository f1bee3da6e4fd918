/**
 * Passwords: argon2id hashes through `Bun.password`, a policy check for new passwords, and a
 * verification against a dummy hash for unknown accounts, so that "no such account" costs the
 * same time as "wrong password" and response times do not reveal which accounts exist.
 *
 * `Bun.password.hash` and `Bun.password.verify` (the async forms used here) run on Bun's worker
 * thread pool, not on the event loop: a login's ~30 ms of hashing does not stall other requests.
 *
 * Passwords are NFC-normalised before hashing and verifying, so the same password typed on
 * systems that compose accented characters differently still matches.
 */

/**
 * The argon2id cost: 19 MiB and 2 passes, the OWASP Password Storage Cheat Sheet's baseline. It
 * keeps a verification near 30 ms and 19 MiB, which bounds what a burst of logins costs the
 * server while making each offline guess as expensive as that baseline demands.
 *
 * @example
 * await Bun.password.hash(pw, PASSWORD_HASH_PARAMS);
 */
export const PASSWORD_HASH_PARAMS = { algorithm: "argon2id", memoryCost: 19456, timeCost: 2 } as const;

/** Shortest password accepted, in characters. */
export const MIN_PASSWORD_CHARS = 12;
/** Longest password accepted, in UTF-8 bytes: bounds the work one login can ask for. */
export const MAX_PASSWORD_BYTES = 256;

// An argon2id hash of a random string nobody kept, with PASSWORD_HASH_PARAMS; the test checks the
// parameters still match, so the dummy verification costs exactly what a real one does.
const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$2mjNgnBfyiRj+Nv57W/IRcB/6tcx4T4q3vkhJzW27MA$s35BCWlPdXMBViT5oO9ondy4OghVGW09t5TO91AyEho";

const encoder = new TextEncoder();
const byteLength = (s: string): number => encoder.encode(s).byteLength;

/**
 * Why `password` may not be set, or `undefined` when it may: at least 12 characters, at most 256
 * UTF-8 bytes, and not one character repeated.
 *
 * @example
 * const problem = checkPasswordPolicy(body.password);
 * if (problem) throw new HttpError(400, "weak_password", `password: ${problem}`);
 */
export function checkPasswordPolicy(password: string): string | undefined {
  const normalised = password.normalize("NFC");
  const chars = [...normalised];
  if (chars.length < MIN_PASSWORD_CHARS) return `must be at least ${MIN_PASSWORD_CHARS} characters`;
  if (byteLength(normalised) > MAX_PASSWORD_BYTES) return `must be at most ${MAX_PASSWORD_BYTES} bytes`;
  if (chars.every((c) => c === chars[0])) return "must not be a single character repeated";
  return undefined;
}

/**
 * The argon2id hash (PHC string, salt included) to store for `password`. Refuses an empty
 * password and one over 256 bytes; check {@link checkPasswordPolicy} first for a user's message.
 *
 * @example
 * const hash = await hashPassword("correct horse battery staple");
 */
export async function hashPassword(password: string): Promise<string> {
  const normalised = password.normalize("NFC");
  if (normalised.length === 0) throw new RangeError("password must not be empty");
  if (byteLength(normalised) > MAX_PASSWORD_BYTES) throw new RangeError(`password is over ${MAX_PASSWORD_BYTES} bytes`);
  return Bun.password.hash(normalised, PASSWORD_HASH_PARAMS);
}

/**
 * Whether `password` matches `hash`. False, not an exception, for a hash that is not a valid
 * argon2/bcrypt string, and for a password no policy would have accepted (empty or over 256 bytes).
 *
 * @example
 * if (!(await verifyPassword(body.password, account.passwordHash))) throw new HttpError(401, "invalid_credentials", "wrong email or password");
 */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  const normalised = password.normalize("NFC");
  if (normalised.length === 0 || byteLength(normalised) > MAX_PASSWORD_BYTES) return false;
  try {
    return await Bun.password.verify(normalised, hash);
  } catch {
    return false;
  }
}

/**
 * Spends the time of a real verification and answers false: call it when the account does not
 * exist (or has no password), in place of {@link verifyPassword}.
 *
 * @example
 * const ok = account ? await verifyPassword(pw, account.passwordHash) : await verifyAgainstDummy(pw);
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  await verifyPassword(password, DUMMY_HASH);
  return false;
}

/**
 * Whether `hash` was made with other parameters than {@link PASSWORD_HASH_PARAMS} (another
 * algorithm or cost), so the caller should re-hash the password it just verified and store that.
 *
 * @example
 * if (needsRehash(account.passwordHash)) await accounts.setPasswordHash(account.id, await hashPassword(pw));
 */
export function needsRehash(hash: string): boolean {
  const m = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=\d+\$/.exec(hash);
  return (
    m === null || Number(m[1]) !== PASSWORD_HASH_PARAMS.memoryCost || Number(m[2]) !== PASSWORD_HASH_PARAMS.timeCost
  );
}
