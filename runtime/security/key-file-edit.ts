/**
 * Changes to a key file (`ARAGORA_ENCRYPTION_KEY_FILE`, or the development key file) made by the
 * key rotation: a new key put in front of the others, and old keys taken out. Each change is
 * written at once (runtime/security/secret-file.ts's replaceSecretFile), keeps the file's comments
 * and other keys as they were, and is checked by parsing the result before it is written.
 *
 * A key added by a rotation carries the run's tag as a comment on its line, so the step run again
 * after a crash finds the key it added instead of adding another.
 *
 * @example
 * const added = addKeyToFile("/etc/aragora/keys", generateKeyHex(), "rotate-keys r-20261204-ab12cd34");
 * removeKeysFromFile("/etc/aragora/keys", ["k0c1d2e3f4a5b"]);
 */
import { keyIdOf, parseKeyFile } from "./encryption-keys.ts";
import { readSecretFile, replaceSecretFile } from "./secret-file.ts";

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/** A line of a key file and the key id on it, if it holds a key. */
interface KeyLine {
  readonly text: string;
  readonly keyId: string | null;
}

function keyLines(text: string): KeyLine[] {
  const lines = text.replace(/\r?\n$/, "").split(/\r?\n/);
  return lines.map((line) => {
    const hash = line.indexOf("#");
    const entry = (hash < 0 ? line : line.slice(0, hash)).trim();
    return { text: line, keyId: HEX_KEY.test(entry) ? keyIdOf(Buffer.from(entry, "hex")) : null };
  });
}

/** What {@link addKeyToFile} did. */
export interface AddedKey {
  /** The id of the key in front now. */
  readonly keyId: string;
  /** The ids the file held before, in order. */
  readonly previousKeyIds: readonly string[];
  /** False when the tagged key was there already (a step run again). */
  readonly written: boolean;
}

/**
 * Puts `hex` in front of the keys in `path` with `# <tag>` on its line, unless a line already
 * carries `tag` (then that key is moved to the front if it is not there). The rest of the file stays.
 *
 * @example addKeyToFile(path, generateKeyHex(), "rotate-keys r-20261204-ab12cd34").keyId // "k3f9a0c12b4de"
 */
export function addKeyToFile(path: string, hex: string, tag: string): AddedKey {
  const before = readSecretFile(path);
  const ring = parseKeyFile(before, path);
  const lines = keyLines(before);
  const mark = `# ${tag}`;
  const tagged = lines.find((l) => l.keyId !== null && l.text.includes(mark));
  if (tagged !== undefined && tagged.keyId === ring.active.id) {
    return { keyId: tagged.keyId, previousKeyIds: ring.ids.filter((id) => id !== tagged.keyId), written: false };
  }
  const front: KeyLine = tagged ?? { text: `${hex}  ${mark}`, keyId: keyIdOf(Buffer.from(hex, "hex")) };
  const rest = lines.filter((l) => l !== tagged);
  const firstKey = rest.findIndex((l) => l.keyId !== null);
  const at = firstKey < 0 ? rest.length : firstKey;
  const next = [...rest.slice(0, at), front, ...rest.slice(at)].map((l) => l.text).join("\n");
  const parsed = parseKeyFile(next, path);
  replaceSecretFile(path, `${next}\n`);
  return {
    keyId: parsed.active.id,
    previousKeyIds: ring.ids.filter((id) => id !== parsed.active.id),
    written: true,
  };
}

/** Why keys cannot be taken out of a key file. */
export class KeyRemovalError extends Error {
  override name = "KeyRemovalError";
}

/**
 * Takes the keys `keyIds` out of `path` (their lines; comments stay); refuses to take out the
 * active key. Returns the ids it removed (none when they were gone already).
 *
 * @example removeKeysFromFile(path, ["k0c1d2e3f4a5b"]) // ["k0c1d2e3f4a5b"]
 */
export function removeKeysFromFile(path: string, keyIds: readonly string[]): string[] {
  const before = readSecretFile(path);
  const ring = parseKeyFile(before, path);
  if (keyIds.includes(ring.active.id)) {
    throw new KeyRemovalError(
      `${path}: key ${ring.active.id} is the active key (the first): put the key that replaces it in front first`,
    );
  }
  const removed = ring.ids.filter((id) => keyIds.includes(id));
  if (removed.length === 0) return [];
  const next = keyLines(before)
    .filter((l) => l.keyId === null || !keyIds.includes(l.keyId))
    .map((l) => l.text)
    .join("\n");
  parseKeyFile(next, path);
  replaceSecretFile(path, `${next}\n`);
  return removed;
}
