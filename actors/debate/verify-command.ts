/**
 * `aragora verify [--public-key FILE]... [--json]`: check every stored debate against its hash
 * chain and its signed receipt, and name what differs (see debate-verify.ts). Works on the data
 * dir's SQLite database (read-only, safe beside a running server) or on DATABASE_URL. Exit 0 when
 * everything matches, 1 when anything differs or the store cannot be read, 2 on bad usage.
 *
 * @example
 * aragora verify
 * # d-0193...: question: the record says "Tabs or spaceS?", the signed receipt "Tabs or spaces?"
 * # checked 1,600 debates (1,516,800 events, 1,600 receipts): 1 difference in 1 debate
 */
import pino from "pino";
import { type Command, EXIT, UsageError } from "../../runtime/command.ts";
import { createLogger } from "../../runtime/log.ts";
import { NoDatabase, openStore, type Store } from "../../runtime/store/index.ts";
import { openDebateSnapshots } from "./debate-snapshots.ts";
import { type Difference, trustedKeys, type VerifySummary, verifyDebates } from "./debate-verify.ts";

const n = (x: number) => x.toLocaleString("en-US");

/** The closing line. @example summaryLine(summary) // "checked 3 debates (...): everything matches" */
export function summaryLine(s: VerifySummary): string {
  const count = (k: number, word: string) => `${n(k)} ${word}${k === 1 ? "" : "s"}`;
  const expired = s.receiptsExpired > 0 ? `, ${count(s.receiptsExpired, "receipt")} past retention` : "";
  const checked = `checked ${count(s.debates, "debate")} (${count(s.events, "event")}, ${count(s.receipts, "receipt")}${expired})`;
  if (s.differences === 0) return `${checked}: everything matches`;
  return `${checked}: ${count(s.differences, "difference")} in ${count(s.debatesDiffering, "debate")}`;
}

export const verifyCommand: Command = {
  name: "verify",
  summary: "check every stored debate against its hash chain and its signed receipt; name what differs",
  usage: "aragora verify [--public-key FILE]... [--json]",
  details: [
    "For each debate: every event's payload against its stored chain link (no gap, no repeat), the record's",
    "question, configuration, participants, consensus, baseline and outcome against the signed receipt, the",
    "receipt's chain head and length against the log, and its signature against this data dir's key and any",
    "--public-key (PEM, or the JSON of GET /api/receipts/public-key: receipts signed by other nodes).",
    "Reads $ARAGORA_DATA_DIR/core.db read-only (safe while the server runs), or DATABASE_URL when set.",
    "Exit 0: everything matches; 1: something differs (each difference on its own line) or the store",
    "cannot be read; 2: bad usage.",
  ].join("\n"),
  options: {
    "public-key": {
      type: "string",
      multiple: true,
      description: "also trust receipts signed with this key (PEM or GET /api/receipts/public-key JSON)",
    },
    json: { type: "boolean", description: "print one JSON object: the summary and every difference" },
  },
  async run({ positionals, values, config: loadConfig }) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const config = loadConfig();
    let keys: Map<string, string>;
    try {
      keys = trustedKeys(config.dataDir, (values["public-key"] as string[] | undefined) ?? []);
    } catch (err) {
      throw new UsageError(`cannot read a public key: ${(err as Error).message}`);
    }
    // stdout carries the command's answer; logs go to stderr so `--json` output stays parseable.
    const log = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
    let store: Store;
    try {
      store = await openStore(config, log, { readOnly: true });
    } catch (err) {
      if (err instanceof NoDatabase) throw new UsageError(err.message);
      process.stderr.write(`aragora verify: cannot read the stored debates: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    const differences: Difference[] = [];
    const print = (d: Difference) => {
      if (values.json) differences.push(d);
      else process.stdout.write(`${d.debateId}: ${d.what}: ${d.detail}\n`);
    };
    let summary: VerifySummary;
    try {
      const source = await openDebateSnapshots(store);
      try {
        summary = await verifyDebates(
          source,
          { keys, retentionDays: config.receiptRetentionDays },
          { difference: print },
        );
      } finally {
        await source.close();
      }
    } catch (err) {
      process.stderr.write(`aragora verify: cannot read the stored debates: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await store.close();
    }
    if (values.json) {
      const report = {
        ok: summary.differences === 0,
        debates: summary.debates,
        events: summary.events,
        receipts: summary.receipts,
        receipts_expired: summary.receiptsExpired,
        debates_differing: summary.debatesDiffering,
        differences: differences.map((d) => ({ debate_id: d.debateId, what: d.what, detail: d.detail })),
      };
      process.stdout.write(`${JSON.stringify(report)}\n`);
    } else {
      process.stdout.write(`${summaryLine(summary)}\n`);
      if (keys.size === 0) {
        process.stdout.write(
          "note: no key to check signatures with (no keys/receipt-ed25519.pem here; pass --public-key)\n",
        );
      }
    }
    return summary.differences === 0 ? EXIT.ok : EXIT.failure;
  },
};
