/**
 * Where the encryption keys come from, read by the field sealer on every call so that a reloaded
 * key list takes effect at once. One of:
 *
 * - `env`: `ARAGORA_ENCRYPTION_KEY` (comma-separated, newest first), fixed for the process's life;
 * - `file`: `ARAGORA_ENCRYPTION_KEY_FILE` (one key a line, `#` comments, mode 0600 or stricter),
 *   re-read on SIGHUP and on `POST /api/admin/keys/reload`, so a key is added without a restart;
 * - `dev_file`: neither set, in development or test on SQLite: a key of the server's own in
 *   `<data dir>/encryption.key` (made once, mode 0600), with a warning at every start that data will
 *   not be recoverable if that file is lost;
 * - `none`: neither set in production, or on PostgreSQL: secrets are stored unencrypted (warned).
 *   No development key on PostgreSQL: several nodes share the database but each has its own data
 *   dir, so each would make a key of its own and none could read what another sealed.
 *
 * A reload that fails (an unreadable or malformed file, a file other users can read) keeps the
 * keys of the moment and says why (`path:line` and the rule, never a key). A reload that drops a
 * key some stored record needs is the operator's choice: reading that record then fails with the
 * runbook's "Key not found" naming the key id.
 *
 * @example
 * const keys = openKeySource(config, { dataDir, log, forServer: true });
 * const sealer = fieldSealer(() => keys.current());
 * process.on("SIGHUP", () => keys.reload("sighup"));
 * keys.status(); // { kind: "file", path: "/etc/aragora/keys", activeKeyId: "k3f9a0c12b4de", keyIds: [...], ... }
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { type Config, ConfigError } from "../config.ts";
import type { Logger } from "../log.ts";
import { metrics } from "../metrics.ts";
import { generateKeyHex, KEY_FILE_FORM, KeyFormatError, type KeyRing, parseKeyFile } from "./encryption-keys.ts";
import { DEV_ENCRYPTION_KEY_FILE, readSecretFile, SecretFileError, writeSecretFile } from "./secret-file.ts";

/** Where the keys come from (see the module's comment). */
export type KeySourceKind = "env" | "file" | "dev_file" | "none";
/** What made the keys be read: the start, a SIGHUP, an operator's request, the key file changing. */
export type KeyReloadTrigger = "start" | "sighup" | "request" | "file_change";

/** One reading of the keys and how it went. */
export interface KeyReadRecord {
  readonly at: Date;
  readonly trigger: KeyReloadTrigger;
  readonly ok: boolean;
  /** Why it failed (`path:line` and the rule, or the file's mode; never a key); null when it went through. */
  readonly error: string | null;
}

/** What the key source says about itself (for `GET /api/admin/keys`, `aragora keys status`, logs): no key material. */
export interface KeySourceStatus {
  readonly kind: KeySourceKind;
  /** The key file (`file`: ARAGORA_ENCRYPTION_KEY_FILE made absolute; `dev_file`: `<data dir>/encryption.key`); null otherwise. */
  readonly path: string | null;
  /** The variable the keys come from; null for the development key and for none. */
  readonly variable: "ARAGORA_ENCRYPTION_KEY" | "ARAGORA_ENCRYPTION_KEY_FILE" | null;
  /** Whether SIGHUP and `POST /api/admin/keys/reload` re-read the keys (the file kinds). */
  readonly reloadable: boolean;
  /** The key that encrypts (the first); null when there is no key. */
  readonly activeKeyId: string | null;
  /** Every configured key id, the active one first. */
  readonly keyIds: readonly string[];
  /** When the keys in use were read. */
  readonly loadedAt: Date;
  /** The last reading, the start's included: a failed reload shows here while the keys stay those of `loadedAt`. */
  readonly lastReload: KeyReadRecord;
}

/** What a reload did. */
export type KeyReloadResult =
  | {
      readonly ok: true;
      readonly status: KeySourceStatus;
      /** Key ids the new list has that the old one did not, and the reverse. */
      readonly added: readonly string[];
      readonly removed: readonly string[];
      readonly activeChanged: boolean;
    }
  | {
      readonly ok: false;
      /** `not_reloadable`: the keys do not come from a file; `invalid`: the file cannot be used (the keys stay). */
      readonly reason: "not_reloadable" | "invalid";
      readonly error: string;
      readonly status: KeySourceStatus;
    };

export interface KeySource {
  /** The keys of the moment; undefined when there is none (secrets are stored unencrypted). */
  current(): KeyRing | undefined;
  status(): KeySourceStatus;
  /** Re-reads the key file; on any failure the keys stay as they were. Never throws. */
  reload(trigger: Exclude<KeyReloadTrigger, "start">): KeyReloadResult;
  /** Calls `listener` after every reload that changed or re-read the keys (ok results); returns the unsubscribe. */
  onReload(listener: (result: Extract<KeyReloadResult, { ok: true }>) => void): () => void;
}

export interface KeySourceOptions {
  /** Absolute data directory (the development key lives there). */
  dataDir: string;
  log: Logger;
  /**
   * The server: makes the development key when it is missing and logs the start-up warnings. A
   * command (`aragora users`, `aragora keys`) reads the development key only when it exists, quietly.
   */
  forServer: boolean;
  /** The clock of the records (tests). */
  now?: () => Date;
}

/** The first line of a development key file: what it is and what losing it means. */
const DEV_KEY_HEADER =
  "# Aragora development encryption key (ARAGORA_ENCRYPTION_KEY is unset). Data will not be recoverable if this file is lost.";

/** The warning of every start on a development key, in the runbook's words. */
export function devKeyWarning(path: string): string {
  return `Data will not be recoverable if ${path} is lost: ARAGORA_ENCRYPTION_KEY is not set, so stored secrets are encrypted with a development key of the server's own kept in that file; set ARAGORA_ENCRYPTION_KEY (or ARAGORA_ENCRYPTION_KEY_FILE) to a key you keep safe`;
}

/** Reads and parses a key file; the problem (never a key) as a message otherwise. */
function readKeyFile(path: string): { ring: KeyRing } | { error: string } {
  try {
    return { ring: parseKeyFile(readSecretFile(path), path) };
  } catch (err) {
    if (err instanceof KeyFormatError) return { error: err.message };
    if (err instanceof SecretFileError) {
      return {
        error: err.reason === "too_open" ? err.message : `${err.message}; expected a file holding ${KEY_FILE_FORM}`,
      };
    }
    // An unexpected failure: its own message names the path, never the content (nothing of the
    // content reaches an error before parsing, which reports lengths only).
    return { error: `${path} cannot be read: ${(err as Error).message}` };
  }
}

/** The development key file's content: the header and a new key. */
function newDevKeyFile(): string {
  return `${DEV_KEY_HEADER}\n${generateKeyHex()}\n`;
}

/**
 * The key source for `config` (see the module's comment). Throws {@link ConfigError} (exit 2) when
 * the key file cannot be used at start, naming the variable, `path:line` and the expected form.
 *
 * @example const keys = openKeySource(config, { dataDir, log, forServer: true });
 */
export function openKeySource(config: Config, options: KeySourceOptions): KeySource {
  const { log, forServer } = options;
  const now = options.now ?? (() => new Date());
  let kind: KeySourceKind;
  let path: string | null = null;
  let ring: KeyRing | undefined;
  if (config.encryptionKeys !== undefined) {
    kind = "env";
    ring = config.encryptionKeys;
  } else if (config.encryptionKeyFile !== undefined) {
    kind = "file";
    path = resolve(config.encryptionKeyFile);
    const read = readKeyFile(path);
    if ("error" in read) {
      throw new ConfigError([`ARAGORA_ENCRYPTION_KEY_FILE: ${read.error}`]);
    }
    ring = read.ring;
  } else if (config.env !== "production" && config.databaseUrl === undefined) {
    path = join(options.dataDir, DEV_ENCRYPTION_KEY_FILE);
    if (forServer) writeSecretFile(path, newDevKeyFile());
    if (existsSync(path)) {
      kind = "dev_file";
      const read = readKeyFile(path);
      if ("error" in read) {
        throw new ConfigError([
          `ARAGORA_ENCRYPTION_KEY: is unset and the development key the server made cannot be used: ${read.error} (or set ARAGORA_ENCRYPTION_KEY)`,
        ]);
      }
      ring = read.ring;
    } else {
      kind = "none";
      path = null;
    }
  } else {
    kind = "none";
  }

  let loadedAt = now();
  let lastReload: KeyReadRecord = { at: loadedAt, trigger: "start", ok: true, error: null };
  const listeners = new Set<(result: Extract<KeyReloadResult, { ok: true }>) => void>();
  const reloadable = kind === "file" || kind === "dev_file";
  const variable =
    kind === "env" ? "ARAGORA_ENCRYPTION_KEY" : kind === "file" ? "ARAGORA_ENCRYPTION_KEY_FILE" : (null as null);

  const status = (): KeySourceStatus => ({
    kind,
    path,
    variable,
    reloadable,
    activeKeyId: ring?.active.id ?? null,
    keyIds: ring?.ids ?? [],
    loadedAt,
    lastReload,
  });

  if (forServer) {
    metrics.encryptionUnencrypted.set(ring === undefined ? 1 : 0);
    const facts = {
      key_source: kind,
      key_file: path,
      active_key_id: ring?.active.id ?? null,
      key_ids: ring?.ids ?? [],
    };
    if (kind === "dev_file") {
      log.warn(facts, devKeyWarning(path as string));
    } else if (kind === "none") {
      const why =
        config.env === "production"
          ? "ARAGORA_ENV=production"
          : "the store is PostgreSQL (DATABASE_URL), where each node would make a development key of its own and none could read what another encrypted";
      log.warn(
        facts,
        `secrets are stored UNENCRYPTED: no encryption key is configured and none is made (${why}); set ARAGORA_ENCRYPTION_KEY or ARAGORA_ENCRYPTION_KEY_FILE (the same keys on every node)`,
      );
    } else {
      log.info(facts, `stored secrets are encrypted with key ${ring?.active.id} (${kind === "env" ? variable : path})`);
    }
  }

  return {
    current: () => ring,
    status,
    reload(trigger) {
      const at = now();
      if (!reloadable || path === null) {
        const error =
          kind === "env"
            ? "the keys come from ARAGORA_ENCRYPTION_KEY, which is read once at start: change it and restart, or use ARAGORA_ENCRYPTION_KEY_FILE to change keys without a restart"
            : "no encryption key is configured: set ARAGORA_ENCRYPTION_KEY_FILE (or ARAGORA_ENCRYPTION_KEY) and restart";
        metrics.encryptionKeyReloads.inc({ trigger, result: "not_reloadable" });
        log.warn({ trigger, key_source: kind }, `encryption keys not reloaded: ${error}`);
        return { ok: false, reason: "not_reloadable", error, status: status() };
      }
      const read = readKeyFile(path);
      if ("error" in read) {
        lastReload = { at, trigger, ok: false, error: read.error };
        metrics.encryptionKeyReloads.inc({ trigger, result: "failed" });
        log.error(
          { trigger, key_file: path, error: read.error, active_key_id: ring?.active.id ?? null },
          `encryption key reload failed; the current keys stay in use: ${read.error}`,
        );
        return { ok: false, reason: "invalid", error: read.error, status: status() };
      }
      const before = ring?.ids ?? [];
      const previousActive = ring?.active.id ?? null;
      ring = read.ring;
      loadedAt = at;
      lastReload = { at, trigger, ok: true, error: null };
      metrics.encryptionKeyReloads.inc({ trigger, result: "ok" });
      metrics.encryptionUnencrypted.set(0);
      const result = {
        ok: true as const,
        status: status(),
        added: ring.ids.filter((id) => !before.includes(id)),
        removed: before.filter((id) => !ring?.ids.includes(id)),
        activeChanged: ring.active.id !== previousActive,
      };
      log.info(
        {
          trigger,
          key_file: path,
          active_key_id: ring.active.id,
          key_ids: ring.ids,
          added_key_ids: result.added,
          removed_key_ids: result.removed,
        },
        result.activeChanged
          ? `encryption keys reloaded: key ${ring.active.id} now encrypts (was ${previousActive})`
          : "encryption keys reloaded",
      );
      for (const listener of listeners) {
        try {
          listener(result);
        } catch (err) {
          log.error({ err }, "a listener of the key reload failed");
        }
      }
      return result;
    },
    onReload(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * A key source over fixed keys (tests, tools that were handed a ring).
 *
 * @example const keys = fixedKeySource(ringOf([key], "test"));
 */
export function fixedKeySource(ring: KeyRing | undefined): KeySource {
  const at = new Date();
  const status = (): KeySourceStatus => ({
    kind: ring === undefined ? "none" : "env",
    path: null,
    variable: ring === undefined ? null : "ARAGORA_ENCRYPTION_KEY",
    reloadable: false,
    activeKeyId: ring?.active.id ?? null,
    keyIds: ring?.ids ?? [],
    loadedAt: at,
    lastReload: { at, trigger: "start", ok: true, error: null },
  });
  return {
    current: () => ring,
    status,
    reload: () => ({ ok: false, reason: "not_reloadable", error: "the keys are fixed", status: status() }),
    onReload: () => () => {},
  };
}
