import { resolve } from "node:path";
import pino from "pino";
import type { Config } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import type { KeyRing } from "../runtime/security/encryption-keys.ts";
import { type KeySource, openKeySource } from "../runtime/security/key-source.ts";

/**
 * The keys a command (`aragora keys`, `aragora encrypt-existing`, a local `ops run`) uses: the
 * server's key source read as a command reads it (the key variable, the key file, or the data
 * dir's development key when one exists; a command never makes one).
 *
 * @example const ring = commandKeys(config)(); // undefined: no key configured
 */
export function commandKeys(config: Config): () => KeyRing | undefined {
  const keys = commandKeySource(config);
  return () => keys.current();
}

/**
 * The key source itself, for a local `ops run`: the key rotation reads its kind and path and
 * reloads it after changing the key file.
 *
 * @example const keys = commandKeySource(config); keys.status().kind; // "file"
 */
export function commandKeySource(config: Config): KeySource {
  return openKeySource(config, {
    dataDir: resolve(config.dataDir),
    log: createLogger("ERROR", pino.destination({ fd: 2, sync: true })),
    forServer: false,
  });
}
