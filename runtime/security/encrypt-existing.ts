/**
 * The migration behind `aragora encrypt-existing`: every record of the given stores ends on the
 * active key. Plaintext (stored before encryption was configured) is encrypted, a record on another
 * configured key is re-encrypted, a record on the active key is skipped without being decrypted.
 * A dry run reads and decrypts the same way and counts what it would write, writing nothing.
 *
 * Made to run beside live servers:
 * - records are read in batches (in id order, {@link EncryptedStore.scan}) and each batch is
 *   written in its own transaction by the store's compare-and-set
 *   ({@link EncryptedStore.replace}), so no lock is held for long and a record a server changed
 *   after the batch was read is never overwritten with the stale value: it is read again and,
 *   unless the server's value is already on the active key, done again (a few times at most,
 *   then left: the server's value stands); either way it counts as `changed` unless this run
 *   wrote it;
 * - a record that cannot be read (tampered, malformed, on a key that is not configured) is named
 *   (store, id, field, the reason: never a value), counted `failed` and skipped; the others go on;
 * - after each batch commits, the journal records how far the store got, so an interrupted run
 *   resumes there (migration-journal.ts).
 *
 * Encryption goes through the {@link FieldSealer}, so each field encrypted or decrypted here counts
 * in the encryption metrics under its store, like the servers' own; an executed run also counts
 * its records in `aragora_migration_records_total` and its failures in `aragora_migration_errors_total`.
 *
 * @example
 * const summary = await encryptExisting(stores, { sealer, execute: true, journal });
 * summary.stores[0].counts; // { encrypted: 1, reencrypted: 41, skipped: 3, changed: 0, failed: 0 }
 */
import { metrics } from "../metrics.ts";
import type { EncryptedStore, FieldReplacement, StoredField } from "./encrypted-store.ts";
import type { KeyRing } from "./encryption-keys.ts";
import { isSealedText, keyIdOfSealedText } from "./field-cipher.ts";
import { encryptionErrorType, type FieldSealer } from "./field-sealer.ts";
import {
  MIGRATION_STATUSES,
  type MigrationJournal,
  type MigrationStatus,
  type StatusCounts,
  zeroCounts,
} from "./migration-journal.ts";

/** Records read and written at a time, unless told otherwise. */
export const DEFAULT_BATCH_SIZE = 500;
/** How many times a record a server keeps changing is read and done again before it is left. */
const MAX_RETRIES = 3;
/** Records read after a changed record's predecessor to find it again. */
const REREAD_WINDOW = 100;
/** Failures kept in a store's summary (all are reported through `onRecord` and counted). */
const LISTED_FAILURES = 100;

/** No key is configured: nothing can be encrypted. */
export class NoEncryptionKeyError extends Error {
  override name = "NoEncryptionKeyError";
  constructor() {
    super(
      "no encryption key is configured: set ARAGORA_ENCRYPTION_KEY to 64 hex characters (aragora keys generate makes one), the new key first when rotating (new,old)",
    );
  }
}

/** What happened to one field of one record. */
export interface RecordOutcome {
  store: string;
  id: string;
  field: string;
  status: MigrationStatus;
  /** The key the record was on when read: null for plaintext (or unreadable). */
  fromKeyId: string | null;
  /** Why it failed or was left (no value, ever). */
  reason?: string;
  /** The error type of a failure (key_not_found, tampered, malformed, other). */
  errorType?: string;
}

/** One store's migration. */
export interface StoreSummary {
  store: string;
  /** Every record's outcome, this run and the interrupted run it resumed together. */
  counts: StatusCounts;
  /** What this run itself went over. */
  thisRun: StatusCounts;
  /** The record after which this run resumed (the interrupted run had done everything up to it); undefined: from the first. */
  resumedAfter?: string | null;
  /** The interrupted run had finished this store: this run did not go over it again. */
  doneBefore: boolean;
  /** The first failures (id, field, reason). */
  failures: { id: string; field: string; reason: string; errorType: string }[];
  /**
   * Writes this run lost to a server's write between its read and its write (each field read again
   * then): how busy the store was, not an outcome (each field's outcome is in `counts`).
   */
  raced: number;
  /** The run was stopped (its signal) before the store was done: run again to resume. */
  interrupted: boolean;
}

/** A whole migration. */
export interface MigrationSummary {
  execute: boolean;
  activeKeyId: string;
  /** Whether it resumed an interrupted run (some store's progress came from the journal). */
  resumed: boolean;
  /** Stopped by its signal before every store was done. */
  interrupted: boolean;
  stores: StoreSummary[];
  /** Records that could not be read, across the stores. */
  failed: number;
  /** Records this run went over, across the stores. */
  recordsThisRun: number;
  durationMs: number;
}

export interface MigrationOptions {
  sealer: FieldSealer;
  /** Write (true) or only count what would be written (false, the default of the command). */
  execute: boolean;
  batchSize?: number;
  /** A pause between batches, leaving the database to the live servers' writes. */
  pauseMs?: number;
  /** Where progress is journaled (an executed run); its progress is resumed. */
  journal?: MigrationJournal;
  /** Stops the run after the batch in progress (its journal line written); the summary says `interrupted`. */
  signal?: AbortSignal;
  /** Each record's outcome but skipped ones' (`-v`, failures). */
  onRecord?(outcome: RecordOutcome): void;
  /** After each batch: the store, how far it got and its counts. */
  onBatch?(store: string, counts: StatusCounts, thisRun: StatusCounts): void;
}

/**
 * Brings every record of `stores` to the active key (or counts what that would write).
 * Throws {@link NoEncryptionKeyError} when the sealer has no key; stopped by the signal, it says `interrupted`.
 *
 * @example const summary = await encryptExisting([totp], { sealer, execute: false }); // a dry run
 */
export async function encryptExisting(
  stores: readonly EncryptedStore[],
  options: MigrationOptions,
): Promise<MigrationSummary> {
  const started = performance.now();
  const ring = options.sealer.ring();
  if (ring === undefined) throw new NoEncryptionKeyError();
  const summaries: StoreSummary[] = [];
  for (const store of stores) {
    if (options.signal?.aborted) break;
    summaries.push(await migrateStore(store, options));
  }
  return {
    execute: options.execute,
    activeKeyId: ring.active.id,
    resumed: summaries.some((s) => s.resumedAfter !== undefined || s.doneBefore),
    interrupted: options.signal?.aborted === true,
    stores: summaries,
    failed: summaries.reduce((n, s) => n + s.counts.failed, 0),
    recordsThisRun: summaries.reduce((n, s) => n + total(s.thisRun), 0),
    durationMs: performance.now() - started,
  };
}

/** The sum of a store's counts. @example total(summary.counts) */
export function total(counts: StatusCounts): number {
  let n = 0;
  for (const s of MIGRATION_STATUSES) n += counts[s];
  return n;
}

const n = (x: number) => x.toLocaleString("en");

/**
 * One store's line of a migration's summary (the command's, the step's report).
 *
 * @example storeSummaryLine(summary.stores[0], true) // "mfa_totp: 45 records: 1 encrypted (were plaintext), ..."
 */
export function storeSummaryLine(s: StoreSummary, execute: boolean): string {
  const c = s.counts;
  const parts = execute
    ? [
        `${n(c.encrypted)} encrypted (were plaintext)`,
        `${n(c.reencrypted)} re-encrypted`,
        `${n(c.skipped)} skipped (already on the active key)`,
        `${n(c.changed)} changed by a server meanwhile (its value stands)`,
        `${n(c.failed)} failed`,
      ]
    : [
        `${n(c.encrypted)} to encrypt (plaintext)`,
        `${n(c.reencrypted)} to re-encrypt`,
        `${n(c.skipped)} already on the active key`,
        `${n(c.failed)} unreadable`,
      ];
  let line = `${s.store}: ${n(total(c))} records: ${parts.join(", ")}`;
  if (s.doneBefore) line += " (all done by the interrupted run)";
  else if (s.resumedAfter !== undefined) {
    const before = total(c) - total(s.thisRun);
    line += ` (resumed after record ${s.resumedAfter}: ${n(before)} done by the interrupted run)`;
  }
  if (s.raced > 0) line += ` (${n(s.raced)} written by a server between this run's read and write: read again)`;
  if (s.interrupted) line += " (INTERRUPTED: run again to resume)";
  return line;
}

/** One field on its way to the active key. */
interface Pending {
  field: StoredField;
  /** The id of the record before it in scan order (null: it is the first): where to read it again. */
  predecessor: string | null;
  fromKeyId: string | null;
  next: string;
  status: "encrypted" | "reencrypted";
}

async function migrateStore(store: EncryptedStore, options: MigrationOptions): Promise<StoreSummary> {
  const { sealer, execute, journal, signal } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const progress = execute ? journal?.progressOf(store.name) : undefined;
  const counts: StatusCounts = { ...(progress?.counts ?? zeroCounts()) };
  const thisRun = zeroCounts();
  const summary: StoreSummary = {
    store: store.name,
    counts,
    thisRun,
    doneBefore: progress?.done ?? false,
    failures: [],
    raced: 0,
    interrupted: false,
    ...(progress === undefined ? {} : { resumedAfter: progress.after }),
  };
  if (progress?.done) return summary;
  // Counted once per batch: the label lookups stay off the per-record path.
  const counters = execute
    ? new Map(MIGRATION_STATUSES.map((s) => [s, metrics.migrationRecords.labels({ store: store.name, status: s })]))
    : undefined;

  const count = (
    status: MigrationStatus,
    field: StoredField,
    fromKeyId: string | null,
    extra?: Partial<RecordOutcome>,
  ) => {
    counts[status]++;
    thisRun[status]++;
    if (status !== "skipped") {
      options.onRecord?.({ store: store.name, id: field.id, field: field.ref.field, status, fromKeyId, ...extra });
    }
  };
  const fail = (field: StoredField, fromKeyId: string | null, err: unknown) => {
    const errorType = encryptionErrorType(err);
    const reason = err instanceof Error ? err.message : String(err);
    if (summary.failures.length < LISTED_FAILURES) {
      summary.failures.push({ id: field.id, field: field.ref.field, reason, errorType });
    }
    if (execute) metrics.migrationErrors.inc({ store: store.name, error_type: errorType });
    count("failed", field, fromKeyId, { reason, errorType });
  };

  /** What to do with one field: skip it, fail it, or the replacement that brings it to the active key. */
  const plan = (field: StoredField, keys: KeyRing, predecessor: string | null): Pending | undefined => {
    const sealed = isSealedText(field.stored);
    const fromKeyId = sealed ? keyIdOfSealedText(field.stored) : null;
    if (sealed && fromKeyId === keys.active.id) {
      count("skipped", field, fromKeyId);
      return undefined;
    }
    let next: string;
    try {
      const plaintext = sealer.open(store.name, field.stored, field.ref);
      // A dry run decrypts (that is what finds the records that cannot be read) but seals nothing.
      next = execute ? sealer.seal(store.name, plaintext, field.ref) : "";
    } catch (err) {
      fail(field, fromKeyId, err);
      return undefined;
    }
    const status = sealed ? "reencrypted" : "encrypted";
    if (!execute) {
      count(status, field, fromKeyId);
      return undefined;
    }
    return { field, predecessor, fromKeyId, next, status };
  };

  let after = progress?.after ?? null;
  const before = { ...counts };
  for (;;) {
    if (signal?.aborted) {
      summary.interrupted = true;
      return summary;
    }
    const keys = sealer.ring();
    if (keys === undefined) throw new NoEncryptionKeyError();
    const batch = await store.scan(after, batchSize);
    if (batch.length === 0) break;
    const pending: Pending[] = [];
    // The predecessor of each record: the record before it in this scan (or the cursor).
    let current: string | undefined;
    let predecessor = after;
    for (const field of batch) {
      if (field.id !== current) {
        if (current !== undefined) predecessor = current;
        current = field.id;
      }
      const p = plan(field, keys, predecessor);
      if (p !== undefined) pending.push(p);
    }
    if (pending.length > 0) summary.raced += await write(store, pending, keys, plan, count);
    after = (batch[batch.length - 1] as StoredField).id;
    if (counters !== undefined) {
      for (const s of MIGRATION_STATUSES) {
        const delta = counts[s] - before[s];
        if (delta > 0) counters.get(s)?.inc(delta);
        before[s] = counts[s];
      }
      journal?.batchDone(store.name, after, counts);
    }
    options.onBatch?.(store.name, counts, thisRun);
    if (options.pauseMs) await Bun.sleep(options.pauseMs);
  }
  if (execute) journal?.storeDone(store.name, counts);
  return summary;
}

/**
 * Records written in one compare-and-set transaction. A batch of 8,000 in one transaction took
 * over 10 s on PostgreSQL on a loaded machine (one statement a record, and 1,000 did once too),
 * past the store's per-operation deadline, and the run failed; each record's compare-and-set
 * stands alone, so smaller transactions lose nothing.
 */
const WRITE_CHUNK = 500;

/** `store.replace` over `replacements` in transactions of at most {@link WRITE_CHUNK}. */
async function replaceInChunks(store: EncryptedStore, replacements: FieldReplacement[]): Promise<boolean[]> {
  if (replacements.length <= WRITE_CHUNK) return store.replace(replacements);
  const written: boolean[] = [];
  for (let i = 0; i < replacements.length; i += WRITE_CHUNK) {
    written.push(...(await store.replace(replacements.slice(i, i + WRITE_CHUNK))));
  }
  return written;
}

/**
 * Writes a batch's replacements in compare-and-set transactions; a field a server changed since
 * it was read is read again and done again (up to {@link MAX_RETRIES} times), or counted `changed`.
 * Resolves with the number of writes lost that way.
 */
async function write(
  store: EncryptedStore,
  pending: Pending[],
  keys: KeyRing,
  plan: (field: StoredField, keys: KeyRing, predecessor: string | null) => Pending | undefined,
  count: (
    status: MigrationStatus,
    field: StoredField,
    fromKeyId: string | null,
    extra?: Partial<RecordOutcome>,
  ) => void,
): Promise<number> {
  let raced = 0;
  let round = pending;
  for (let attempt = 0; round.length > 0; attempt++) {
    const written = await replaceInChunks(
      store,
      round.map((p): FieldReplacement => ({ ref: p.field.ref, previous: p.field.stored, next: p.next })),
    );
    const lost: Pending[] = [];
    round.forEach((p, i) => {
      if (written[i]) count(p.status, p.field, p.fromKeyId);
      else lost.push(p);
    });
    if (lost.length === 0) return raced;
    raced += lost.length;
    const again: Pending[] = [];
    for (const p of lost) {
      const fresh =
        attempt < MAX_RETRIES
          ? (await store.scan(p.predecessor, REREAD_WINDOW)).find(
              (f) => f.id === p.field.id && f.ref.field === p.field.ref.field,
            )
          : undefined;
      if (fresh === undefined) {
        // Gone (the server removed it), or changed again and again: the server's value stands.
        count("changed", p.field, p.fromKeyId, {
          reason:
            attempt < MAX_RETRIES
              ? "a server removed it meanwhile"
              : `a server changed it ${MAX_RETRIES + 1} times while it was being written: its value stands`,
        });
      } else if (isSealedText(fresh.stored) && keyIdOfSealedText(fresh.stored) === keys.active.id) {
        count("changed", p.field, p.fromKeyId, { reason: "a server wrote it meanwhile, on the active key" });
      } else {
        // Read again, then done again like any record (counted by `plan` when it cannot be read).
        const redo = plan(fresh, keys, p.predecessor);
        if (redo !== undefined) again.push(redo);
      }
    }
    round = again;
  }
  return raced;
}
