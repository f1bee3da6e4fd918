/**
 * Every store that keeps encrypted fields, in one list: what `aragora keys verify` counts, what
 * `aragora encrypt-existing` re-encrypts, and what the server looks for at start when no key is
 * configured. A feature that seals a new field adds its store here (a factory over the server's
 * store, from the feature that owns the table).
 *
 * @example
 * const stores = await openEncryptedStores(store);
 * try { for (const s of stores) console.log(s.name, (await s.scan(null, 10)).length); }
 * finally { await closeEncryptedStores(stores); }
 */
import { totpSecretsStore } from "../access/mfa-store.ts";
import { oauthPendingEncryptedStore } from "../access/oauth/pending-store.ts";
import { providerKeysEncryptedStore } from "../actors/agent/provider-key-store.ts";
import { integrationsEncryptedStore } from "../actors/integrations/integration-store.ts";
import { webhookSecretsEncryptedStore } from "../actors/webhook/webhook-store.ts";
import type { EncryptedStore } from "../runtime/security/encrypted-store.ts";
import type { Store } from "../runtime/store/store.ts";

/** An encrypted store with the connection it holds. */
export type OpenEncryptedStore = EncryptedStore & { close(): Promise<void> };

/** The factories, in the order reports list them. */
export const ENCRYPTED_STORES: readonly ((store: Pick<Store, "openRepo">) => Promise<OpenEncryptedStore>)[] = [
  totpSecretsStore,
  providerKeysEncryptedStore,
  oauthPendingEncryptedStore,
  webhookSecretsEncryptedStore,
  integrationsEncryptedStore,
];

/** Every encrypted store, opened on `store`. */
export async function openEncryptedStores(store: Pick<Store, "openRepo">): Promise<OpenEncryptedStore[]> {
  const opened: OpenEncryptedStore[] = [];
  try {
    for (const open of ENCRYPTED_STORES) opened.push(await open(store));
  } catch (err) {
    await closeEncryptedStores(opened);
    throw err;
  }
  return opened;
}

/** Closes what {@link openEncryptedStores} opened. */
export async function closeEncryptedStores(stores: readonly OpenEncryptedStore[]): Promise<void> {
  await Promise.all(stores.map((s) => s.close()));
}
