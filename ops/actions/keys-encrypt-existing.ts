/**
 * `keys.encrypt_existing`: `aragora encrypt-existing --execute` as a playbook step (the key
 * rotation's re-encryption), the same migration (runtime/security/encrypt-existing.ts) in the
 * process that runs the step: in a server, its records land in that server's
 * `aragora_migration_records_total` and `aragora_migration_errors_total`. Every record of the named
 * stores (default: all) ends on the active key; batches commit in their own compare-and-set
 * transactions beside the live servers, and progress is journaled in the data dir, so the step run
 * again after a crash (it is idempotent) resumes where it stopped. A record that cannot be read
 * fails the step, naming it, unless `fail_on_unreadable: false`. The plan is the dry run: what it
 * would encrypt and re-encrypt, per store.
 *
 * @example
 * steps:
 *   - id: reencrypt
 *     action: keys.encrypt_existing
 *     with: { batch_size: 500 }
 *     timeout: 1h
 */
import { type } from "arktype";
import {
  encryptExisting,
  NoEncryptionKeyError,
  storeSummaryLine,
  total,
} from "../../runtime/security/encrypt-existing.ts";
import type { OpenEncryptedStore } from "../../runtime/security/encrypted-store.ts";
import { fieldSealer } from "../../runtime/security/field-sealer.ts";
import { journalTarget, MigrationJournalFile } from "../../runtime/security/migration-journal.ts";
import { NoDatabase, type Store } from "../../runtime/store/index.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { withEncryptedStores } from "./encrypted-stores-step.ts";
import { requireActiveKey, rotationRing } from "./key-rotation.ts";

const Input = lazy(() =>
  type({
    "+": "reject",
    "stores?": "string[]",
    "batch_size?": "1 <= number.integer <= 100000",
    "pause_ms?": "0 <= number.integer <= 60000",
    "fail_on_unreadable?": "boolean",
    /** The key that must be the active one here (the key rotation's new key): the step fails otherwise. */
    "key_id?": /^k[0-9a-f]{12}$/,
  }),
);
type Input = typeof Input.infer;

/** Failures written into the step's error (all are logged and counted). */
const LISTED = 20;

/** Opens the store and the chosen encrypted stores, runs `work`, closes them. */
function withStores<T>(
  input: Input,
  ctx: ActionContext,
  readOnly: boolean,
  work: (stores: OpenEncryptedStore[], store: Store) => Promise<T>,
): Promise<T> {
  return withEncryptedStores(ctx, { readOnly, ...(input.stores === undefined ? {} : { names: input.stores }) }, work);
}

export const keysEncryptExisting: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.encrypt_existing",
  description:
    "encrypt every record of the stores with encrypted fields with the active key (plaintext and older keys); resumable",
  input: Input,
  outputs: [
    "records",
    "encrypted",
    "reencrypted",
    "skipped",
    "changed",
    "failed",
    "active_key_id",
    "resumed",
    "report",
  ],
  // Records on the active key are skipped and every write is a compare-and-set: running it again is safe.
  idempotent: true,
  async plan(input, ctx) {
    // Shown as "would <summary>".
    const ring = ctx.encryptionKeys();
    if (ring === undefined) return { summary: `fail: ${new NoEncryptionKeyError().message}`, changes: [] };
    let summary: Awaited<ReturnType<typeof encryptExisting>>;
    try {
      summary = await withStores(input, ctx, true, (stores) =>
        encryptExisting(stores, { sealer: fieldSealer(() => ring), execute: false }),
      );
    } catch (err) {
      if (err instanceof NoDatabase) return { summary: `find nothing to encrypt: ${err.message}`, changes: [] };
      throw err;
    }
    const perStore = summary.stores.map(
      (s) =>
        `${s.store}: ${s.counts.encrypted} plaintext and ${s.counts.reencrypted} on older keys of ${total(s.counts)} records`,
    );
    return {
      summary: `encrypt with key ${ring.active.id}: ${perStore.join("; ")}`,
      changes: summary.stores
        .filter((s) => s.counts.encrypted + s.counts.reencrypted > 0 || s.counts.failed > 0)
        .map((s) => ({ kind: "sql", target: s.store, diff: storeSummaryLine(s, false) })),
    };
  },
  async run(input, ctx) {
    // With key_id (the key rotation): the rotation's keys, which from ARAGORA_ENCRYPTION_KEY are
    // the list it had deployed rather than this process's own.
    if (input.key_id !== undefined) requireActiveKey(ctx, input.key_id);
    const keys = () => (input.key_id === undefined ? ctx.encryptionKeys() : rotationRing(ctx));
    const ring = keys();
    if (ring === undefined) throw new NoEncryptionKeyError();
    const summary = await withStores(input, ctx, false, async (stores, store) => {
      const journal = MigrationJournalFile.open(ctx.dataDir, {
        target: journalTarget(ctx.config.databaseUrl, store.sqlitePath),
        activeKeyId: ring.active.id,
      });
      try {
        if (journal.resumed !== undefined)
          ctx.progress(`resuming the run interrupted since ${journal.resumed.startedAt}`);
        const result = await encryptExisting(stores, {
          sealer: fieldSealer(keys),
          execute: true,
          batchSize: input.batch_size,
          pauseMs: input.pause_ms,
          journal,
          signal: ctx.signal,
          onRecord: (o) => {
            if (o.status === "failed") {
              ctx.log.warn(
                { store: o.store, record_id: o.id, field: o.field, error_type: o.errorType, reason: o.reason },
                "a record cannot be read: left as it is",
              );
            }
          },
          onBatch: (name, counts) => ctx.progress(`${name}: ${total(counts).toLocaleString("en")} records`),
        });
        if (!result.interrupted) journal.finish();
        return result;
      } finally {
        journal.close();
      }
    });
    if (summary.interrupted)
      throw new Error("stopped before every record was done (cancelled or timed out): run again to resume");
    const lines = summary.stores.map((s) => storeSummaryLine(s, true));
    const failures = summary.stores.flatMap((s) =>
      s.failures.map((f) => `${s.store} ${f.id} ${f.field}: ${f.errorType}: ${f.reason}`),
    );
    const report = [
      ...lines,
      ...failures.slice(0, LISTED),
      ...(failures.length > LISTED ? [`... and ${summary.failed - LISTED} more`] : []),
    ].join("\n");
    if (summary.failed > 0 && input.fail_on_unreadable !== false) {
      throw new Error(`${summary.failed} records could not be read and were left as they are:\n${report}`);
    }
    const sum = (key: "encrypted" | "reencrypted" | "skipped" | "changed" | "failed") =>
      summary.stores.reduce((n, s) => n + s.counts[key], 0);
    return {
      records: summary.stores.reduce((n, s) => n + total(s.counts), 0),
      encrypted: sum("encrypted"),
      reencrypted: sum("reencrypted"),
      skipped: sum("skipped"),
      changed: sum("changed"),
      failed: sum("failed"),
      active_key_id: summary.activeKeyId,
      resumed: summary.resumed,
      report,
    };
  },
};
