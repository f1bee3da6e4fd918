/**
 * `aragora encrypt-existing (--all | --store NAME...) [--execute] [-v]`: brings every record of the
 * stores with encrypted fields to the active key (runtime/security/encrypt-existing.ts): plaintext
 * stored before encryption is encrypted, a record on an older key re-encrypted, one on the active
 * key left alone. A dry run by default: it reads with the configured keys and counts what it would
 * write; `--execute` writes.
 *
 * Safe beside running servers: batches in their own compare-and-set transactions (a record a server
 * changed meanwhile keeps the server's value), a record that cannot be read is named and skipped,
 * progress is shown on stderr and journaled in `<data dir>/encrypt-existing.journal`, so an
 * interrupted run resumes where it stopped (and says so). Exit 0: every record read is on the
 * active key; 1: some could not be read (named), or the run was interrupted; 2: bad usage, no key
 * configured, no database.
 *
 * @example
 * ARAGORA_ENCRYPTION_KEY=$NEW,$OLD aragora encrypt-existing --all            # what it would do
 * ARAGORA_ENCRYPTION_KEY=$NEW,$OLD aragora encrypt-existing --all --execute  # do it
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import { type Command, EXIT, UsageError } from "../runtime/command.ts";
import type { Config } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import {
  DEFAULT_BATCH_SIZE,
  encryptExisting,
  type MigrationSummary,
  type RecordOutcome,
  storeSummaryLine,
  total,
} from "../runtime/security/encrypt-existing.ts";
import { fieldSealer } from "../runtime/security/field-sealer.ts";
import {
  JOURNAL_FILE,
  journalTarget,
  MigrationBusyError,
  MigrationJournalFile,
  type StatusCounts,
  unfinishedRun,
} from "../runtime/security/migration-journal.ts";
import { NoDatabase, openStore, SQLITE_FILE, type Store, storeDialect } from "../runtime/store/index.ts";
import { commandKeys } from "./command-keys.ts";
import { closeEncryptedStores, type OpenEncryptedStore, openEncryptedStores } from "./encrypted-stores.ts";

/** Progress lines on stderr: after the first batch, then at most this often (the summary ends the run). */
const PROGRESS_EVERY_MS = 500;

const n = (x: number) => x.toLocaleString("en");
const recordCount = (x: number) => `${n(x)} record${x === 1 ? "" : "s"}`;

function progressLine(store: string, counts: StatusCounts, execute: boolean): string {
  return `${store}: ${n(total(counts))} records so far (${execute ? "encrypted" : "to encrypt"} ${n(counts.encrypted)}, ${execute ? "re-encrypted" : "to re-encrypt"} ${n(counts.reencrypted)}, on the active key ${n(counts.skipped)}, changed ${n(counts.changed)}, failed ${n(counts.failed)})`;
}

function recordLine(o: RecordOutcome, execute: boolean): string {
  const from = o.fromKeyId === null ? "plaintext" : `key ${o.fromKeyId}`;
  const what: Record<RecordOutcome["status"], string> = {
    encrypted: execute ? "encrypted" : "would encrypt",
    reencrypted: execute ? "re-encrypted" : "would re-encrypt",
    skipped: "skipped",
    changed: "changed by a server meanwhile",
    failed: "FAILED",
  };
  const reason = o.reason === undefined ? "" : `: ${o.errorType === undefined ? "" : `${o.errorType}: `}${o.reason}`;
  return `${o.store} ${o.id} ${o.field}: ${what[o.status]} (was ${from})${reason}`;
}

export const encryptExistingCommand: Command = {
  name: "encrypt-existing",
  summary: "encrypt stored secrets with the active key: plaintext and older keys (dry run unless --execute)",
  usage: "aragora encrypt-existing (--all | --store NAME...) [--execute] [-v] [--json]",
  details: [
    "Reads every record of the named stores with the configured keys (ARAGORA_ENCRYPTION_KEY: new,old)",
    "and writes it with the active (first) key: plaintext is encrypted, a record on another key is",
    "re-encrypted, one on the active key is skipped. Without --execute nothing is written: it counts",
    "what would be. Safe while servers run: batches in their own transactions, a record a server changed",
    "meanwhile keeps the server's value, a record that cannot be read is named and skipped.",
    `Progress goes to stderr and to <data dir>/${JOURNAL_FILE}: an interrupted run resumes there.`,
    "Exit 0: done; 1: records could not be read (named), or interrupted; 2: bad usage, no key, no database.",
  ].join("\n"),
  options: {
    all: { type: "boolean", description: "every store with encrypted fields" },
    store: { type: "string", multiple: true, description: "this store (repeatable); the names are listed on error" },
    execute: { type: "boolean", description: "write (without it: a dry run that writes nothing)" },
    verbose: { type: "boolean", short: "v", description: "one line per record written or failed (ids, never values)" },
    json: { type: "boolean", description: "print the summary as one JSON object" },
    "batch-size": { type: "string", description: `records per batch and transaction (default ${DEFAULT_BATCH_SIZE})` },
    "pause-ms": {
      type: "string",
      description: "pause between batches, to leave the database to live servers (default 0)",
    },
    restart: { type: "boolean", description: "do not resume an interrupted run: go over every record again" },
  },
  async run({ values, positionals, config: loadConfig }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const named = (values.store as string[] | undefined) ?? [];
    if (values.all === true && named.length > 0) throw new UsageError("give --all or --store, not both");
    if (values.all !== true && named.length === 0) {
      throw new UsageError("name the stores: --all, or --store NAME (repeatable)");
    }
    const batchSize = positiveInteger(values["batch-size"], "--batch-size", DEFAULT_BATCH_SIZE, 1, 100_000);
    const pauseMs = positiveInteger(values["pause-ms"], "--pause-ms", 0, 0, 60_000);
    const execute = values.execute === true;
    const config = loadConfig();
    const keys = commandKeys(config);
    const ring = keys();
    if (ring === undefined) {
      process.stderr.write(
        "aragora encrypt-existing: no encryption key is configured: set ARAGORA_ENCRYPTION_KEY to 64 hex characters (aragora keys generate makes one); when rotating, the new key first: new,old\n",
      );
      return EXIT.usage;
    }
    const log = createLogger(
      config.logLevel === "DEBUG" ? "DEBUG" : "WARNING",
      pino.destination({ fd: 2, sync: true }),
    );
    if (storeDialect(config) === "sqlite" && !existsSync(join(config.dataDir, SQLITE_FILE))) {
      throw new UsageError(
        `no database at ${join(config.dataDir, SQLITE_FILE)} (ARAGORA_DATA_DIR is ${config.dataDir})`,
      );
    }
    let store: Store;
    try {
      // A dry run changes nothing, so it reads through read-only connections; --execute writes
      // records only (the schema is the servers' to migrate).
      store = await openStore(config, log, execute ? { migrate: false } : { readOnly: true });
    } catch (err) {
      if (err instanceof NoDatabase) throw new UsageError(err.message);
      process.stderr.write(`aragora encrypt-existing: cannot open the store: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    let stores: OpenEncryptedStore[] = [];
    try {
      stores = await openEncryptedStores(store);
      const names = stores.map((s) => s.name);
      const unknown = named.filter((name) => !names.includes(name));
      if (unknown.length > 0) {
        throw new UsageError(
          `no store named ${unknown.map((u) => JSON.stringify(u)).join(", ")}: the stores are ${names.join(", ")}`,
        );
      }
      const chosen = values.all === true ? stores : stores.filter((s) => named.includes(s.name));
      return await migrate(chosen, { config, store, execute, batchSize, pauseMs, values, keys });
    } catch (err) {
      if (err instanceof UsageError) throw err;
      process.stderr.write(`aragora encrypt-existing: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await closeEncryptedStores(stores);
      await store.close();
    }
  },
};

function positiveInteger(value: unknown, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (typeof value !== "string" || !/^\d+$/.test(value) || parsed < min || parsed > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${n(max)}`);
  }
  return parsed;
}

async function migrate(
  stores: OpenEncryptedStore[],
  run: {
    config: Config;
    store: Store;
    execute: boolean;
    batchSize: number;
    pauseMs: number;
    values: Record<string, unknown>;
    keys: ReturnType<typeof commandKeys>;
  },
): Promise<number> {
  const { config, execute, values } = run;
  const sealer = fieldSealer(run.keys);
  const activeKeyId = run.keys()?.active.id as string;
  const target = journalTarget(config.databaseUrl, run.store.sqlitePath);
  let journal: MigrationJournalFile | undefined;
  if (execute) {
    try {
      journal = MigrationJournalFile.open(config.dataDir, { target, activeKeyId, restart: values.restart === true });
    } catch (err) {
      if (err instanceof MigrationBusyError) {
        process.stderr.write(`aragora encrypt-existing: ${err.message}\n`);
        return EXIT.failure;
      }
      throw err;
    }
  }
  const say = (line: string) => process.stderr.write(`${line}\n`);
  if (execute) {
    say(`encrypt-existing: writing every record with the active key ${activeKeyId}, ${run.batchSize} a batch`);
    const resumed = journal?.resumed;
    if (resumed !== undefined) {
      const where = [...resumed.stores]
        .map(([name, p]) =>
          p.done ? `${name} done` : `${name} after record ${p.after} (${n(total(p.counts))} records done)`,
        )
        .join("; ");
      say(`resuming the run interrupted since ${resumed.startedAt}: ${where || "no batch had committed"}`);
    }
  } else {
    say(`encrypt-existing: DRY RUN, nothing is written (--execute writes); active key ${activeKeyId}`);
    const open = unfinishedRun(config.dataDir);
    if (open !== undefined && open.target === target) {
      say(`an interrupted run (started ${open.startedAt}) is journaled: --execute resumes it`);
    }
  }

  const controller = new AbortController();
  const stop = () => controller.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  let lastProgress = 0;
  let summary: MigrationSummary;
  try {
    summary = await encryptExisting(stores, {
      sealer,
      execute,
      batchSize: run.batchSize,
      pauseMs: run.pauseMs,
      journal,
      signal: controller.signal,
      onRecord: (o) => {
        if (o.status === "failed") say(recordLine(o, execute));
        else if (values.verbose === true) process.stdout.write(`${recordLine(o, execute)}\n`);
      },
      onBatch: (name, counts) => {
        const now = performance.now();
        if (now - lastProgress < PROGRESS_EVERY_MS && lastProgress !== 0) return;
        lastProgress = now;
        say(progressLine(name, counts, execute));
      },
    });
    if (!summary.interrupted) journal?.finish();
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    journal?.close();
  }

  const records = summary.stores.reduce((sum, s) => sum + total(s.counts), 0);
  const seconds = summary.durationMs / 1000;
  const rate = seconds > 0 ? Math.round(summary.recordsThisRun / seconds) : 0;
  if (values.json === true) {
    process.stdout.write(
      `${JSON.stringify({
        execute,
        active_key_id: summary.activeKeyId,
        resumed: summary.resumed,
        interrupted: summary.interrupted,
        stores: summary.stores.map((s) => ({
          store: s.store,
          counts: s.counts,
          this_run: s.thisRun,
          resumed_after: s.resumedAfter,
          done_before: s.doneBefore,
          raced: s.raced,
          failures: s.failures.map((f) => ({ id: f.id, field: f.field, error_type: f.errorType, reason: f.reason })),
        })),
        records,
        failed: summary.failed,
        duration_ms: Math.round(summary.durationMs),
        records_per_second: rate,
      })}\n`,
    );
  } else {
    const lines = [
      execute ? "" : "dry run: nothing was written",
      ...summary.stores.map((s) => storeSummaryLine(s, execute)),
    ];
    const timing = `${seconds.toFixed(1)} s for ${recordCount(summary.recordsThisRun)} (${n(rate)} records/s)`;
    if (summary.interrupted) lines.push(`INTERRUPTED after ${timing}: run the same command again to resume`);
    else if (execute) {
      lines.push(
        summary.failed > 0
          ? `done in ${timing}; ${recordCount(summary.failed)} could not be read (named above) and ${summary.failed === 1 ? "was" : "were"} left as ${summary.failed === 1 ? "it was" : "they were"}`
          : `done in ${timing}; every record read is on key ${summary.activeKeyId}`,
      );
    } else {
      lines.push(
        summary.failed > 0
          ? `read in ${timing}; ${recordCount(summary.failed)} cannot be read (named above)`
          : `read in ${timing}; every record can be read`,
      );
    }
    process.stdout.write(`${lines.filter((l) => l !== "").join("\n")}\n`);
  }
  return summary.failed > 0 || summary.interrupted ? EXIT.failure : EXIT.ok;
}
