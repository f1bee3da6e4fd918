import { resolve } from "node:path";
import pino from "pino";
import type { Config } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import type { KeyRing } from "../runtime/security/encryption-keys.ts";
import { openKeySource } from "../runtime/security/key-source.ts";

/**
 * The keys a command (`aragora keys`, `aragora encrypt-existing`, a local `ops run`) uses: the
 * server's key source read as a command reads it (the key variable, the key file, or the data
 * dir's development key when one exists; a command never makes one).
 *
 * @example const ring = commandKeys(config)(); // undefined: no key configured
 */
export function commandKeys(config: Config): () => KeyRing | undefined {
  const keys = openKeySource(config, {
    dataDir: resolve(config.dataDir),
    log: createLogger("ERROR", pino.destination({ fd: 2, sync: true })),
    forServer: false,
  });
  return () => keys.current();
}
