/**
 * Opens the store and its stores with encrypted fields for one step of the `keys.*` actions (the
 * process running the step was given the opener: the server, `ops run` in process), runs the
 * step's work on them and closes them.
 *
 * @example
 * const report = await withEncryptedStores(ctx, { readOnly: true }, (stores, store) => buildKeysReport(ring, stores));
 */
import type { Config } from "../../runtime/config.ts";
import type { OpenEncryptedStore } from "../../runtime/security/encrypted-store.ts";
import { openStore, type Store } from "../../runtime/store/index.ts";
import type { ActionContext } from "../action.ts";

export async function withEncryptedStores<T>(
  ctx: ActionContext,
  options: { readOnly: boolean; names?: readonly string[] },
  work: (stores: OpenEncryptedStore[], store: Store) => Promise<T>,
): Promise<T> {
  if (ctx.encryptedStores === undefined) {
    throw new Error(
      `${ctx.stepId}: this step needs the stores with encrypted fields: run it with \`ops run\` or on a server`,
    );
  }
  const config: Config = { ...ctx.config, dataDir: ctx.dataDir };
  const store = await openStore(config, ctx.log, options.readOnly ? { readOnly: true } : { migrate: false });
  try {
    const stores = await ctx.encryptedStores(store);
    try {
      const names = stores.map((s) => s.name);
      const unknown = (options.names ?? []).filter((name) => !names.includes(name));
      if (unknown.length > 0) {
        throw new Error(
          `no store named ${unknown.map((u) => JSON.stringify(u)).join(", ")}: the stores are ${names.join(", ")}`,
        );
      }
      const chosen = options.names === undefined ? stores : stores.filter((s) => options.names?.includes(s.name));
      return await work(chosen, store);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  } finally {
    await store.close();
  }
}
