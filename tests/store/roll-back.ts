/**
 * Undoes, in the test's own process, every migration applied after `tag`: how a suite about one
 * migration gets back to the schema around it. The later migrations are not what such a suite
 * tests, and one `aragora migrate rollback` process each made those suites the slowest of the
 * store's (a process per migration, and every new migration one more); the migration under test
 * still goes up and down through `aragora migrate`.
 *
 * @example
 * await rollBackAfter({ ARAGORA_DATA_DIR: dir }, "0013_debates_by_workspace");
 * await aragora(["migrate", "rollback"], { ARAGORA_DATA_DIR: dir }); // "rolled back 0013_debates_by_workspace"
 */

import { expect } from "bun:test";
import { Writable } from "node:stream";
import { loadConfig } from "../../runtime/config.ts";
import { createLogger } from "../../runtime/log.ts";
import { openStore } from "../../runtime/store/index.ts";

const quiet = createLogger("ERROR", new Writable({ write: (_c, _e, cb) => cb() }));

/** Rolls back the migrations applied after `tag` (which must be applied) on the store `env` names. */
export async function rollBackAfter(env: Record<string, string>, tag: string): Promise<void> {
  const store = await openStore(loadConfig(env), quiet, { migrate: false });
  try {
    for (let i = 0; ; i++) {
      expect(i).toBeLessThan(50);
      const last = (await store.migrator.status()).filter((m) => m.applied).at(-1)?.tag;
      expect(last !== undefined && last >= tag).toBe(true);
      if (last === tag) return;
      expect(await store.migrator.rollback()).toBe(last as string);
    }
  } finally {
    await store.close();
  }
}
