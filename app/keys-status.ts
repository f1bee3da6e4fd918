/**
 * The keys' status where the shell needs it: the server's source of `GET /api/admin/keys` (the encrypted stores opened on first use, kept open, closed at
 * shutdown).
 *
 * @example
 * const status = keysStatusSource(store, () => sealer.ring(), dataDir);
 * app.use(keysRoutes({ report: status.report }));
 * await status.close();
 */

import { backupKeyIds } from "../ops/backup/backup-keys.ts";
import { backupsDir } from "../ops/cleanup/layout.ts";
import type { KeyRing } from "../runtime/security/encryption-keys.ts";
import { buildKeysReport } from "../runtime/security/keys-report.ts";
import type { Store } from "../runtime/store/store.ts";
import type { KeysStatus } from "../schemas/keys.ts";
import { closeEncryptedStores, type OpenEncryptedStore, openEncryptedStores } from "./encrypted-stores.ts";

/** The report of `GET /api/admin/keys`, on the server's store, with the keys of the moment. */
export function keysStatusSource(
  store: Pick<Store, "openRepo">,
  ring: () => KeyRing | undefined,
  dataDir: string,
): { report(): Promise<KeysStatus>; close(): Promise<void> } {
  let opened: Promise<OpenEncryptedStore[]> | undefined;
  return {
    async report() {
      opened ??= openEncryptedStores(store).catch((err: unknown) => {
        opened = undefined;
        throw err;
      });
      return buildKeysReport(ring(), await opened, backupKeyIds(backupsDir(dataDir)));
    },
    async close() {
      if (opened === undefined) return;
      const stores = await opened.catch(() => []);
      opened = undefined;
      await closeEncryptedStores(stores);
    },
  };
}
