/**
 * `aragora keys generate|verify|status`: the encryption keys from the shell.
 *
 * - `generate` prints a new random 256-bit key as 64 hex characters and a newline, nothing else on
 *   stdout (`KEY=$(aragora keys generate)`), without reading any configuration.
 * - `verify` prints, for people, whether encryption is configured, the active key's id, the
 *   configured ids, and for every store with encrypted fields its records per key id (marked when
 *   that key is not configured) and in plaintext: exit 1 when a record is on a key that is not
 *   configured (or malformed), 0 otherwise, 2 on bad usage or configuration.
 * - `status` prints the same as one JSON object (what `GET /api/admin/keys` answers), same exit codes.
 *
 * Key ids only, never key material. Reads $ARAGORA_DATA_DIR/core.db read-only (safe while servers
 * run), or DATABASE_URL when set.
 *
 * @example
 * aragora keys generate            # 9f0c…(64 hex)
 * ARAGORA_ENCRYPTION_KEY=$NEW,$OLD aragora keys verify
 */
import { resolve } from "node:path";
import pino from "pino";
import { backupKeyIds } from "../ops/backup/backup-keys.ts";
import { backupsDir } from "../ops/cleanup/layout.ts";
import { type Command, EXIT, UsageError } from "../runtime/command.ts";
import { createLogger } from "../runtime/log.ts";
import { generateKeyHex } from "../runtime/security/encryption-keys.ts";
import { buildKeysReport, keysReportText } from "../runtime/security/keys-report.ts";
import { NoDatabase, openStore, type Store } from "../runtime/store/index.ts";
import { commandKeys } from "./command-keys.ts";
import { closeEncryptedStores, openEncryptedStores } from "./encrypted-stores.ts";

const ACTIONS = ["generate", "verify", "status"] as const;

export const keysCommand: Command = {
  name: "keys",
  summary: "generate an encryption key; verify which keys the stored records need (no key material shown)",
  usage: "aragora keys generate|verify|status",
  details: [
    "actions:",
    "  generate  print a new key: 64 hex characters (256 bits) and a newline, nothing else",
    "  verify    whether encryption is configured, the active key id, the configured key ids, and for every",
    "            store its records per key id and in plaintext; exit 1 when a record is on a key that is not",
    "            configured (it cannot be read), 0 otherwise",
    "  status    the same as one JSON object (as GET /api/admin/keys answers)",
    "",
    "Keys come from ARAGORA_ENCRYPTION_KEY (new,old: the first encrypts, all decrypt). The store is",
    "$ARAGORA_DATA_DIR/core.db, read-only (safe while servers run), or DATABASE_URL when set.",
    "Exit 2: bad usage or configuration.",
  ].join("\n"),
  options: {},
  async run({ positionals, config: loadConfig }) {
    const [action, ...extra] = positionals;
    if (action === undefined || !ACTIONS.includes(action as (typeof ACTIONS)[number])) {
      throw new UsageError(`an action is required: ${ACTIONS.join(", ")}`);
    }
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (action === "generate") {
      process.stdout.write(`${generateKeyHex()}\n`);
      return EXIT.ok;
    }
    const config = loadConfig();
    const log = createLogger(
      config.logLevel === "DEBUG" ? "DEBUG" : "WARNING",
      pino.destination({ fd: 2, sync: true }),
    );
    let store: Store;
    try {
      store = await openStore(config, log, { readOnly: true });
    } catch (err) {
      if (err instanceof NoDatabase) throw new UsageError(err.message);
      process.stderr.write(`aragora keys: cannot open the store: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    try {
      const stores = await openEncryptedStores(store);
      try {
        const backups = backupKeyIds(backupsDir(resolve(config.dataDir)));
        const report = await buildKeysReport(commandKeys(config)(), stores, backups);
        process.stdout.write(action === "status" ? `${JSON.stringify(report)}\n` : keysReportText(report));
        return report.ok ? EXIT.ok : EXIT.failure;
      } finally {
        await closeEncryptedStores(stores);
      }
    } catch (err) {
      process.stderr.write(`aragora keys ${action}: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await store.close();
    }
  },
};
