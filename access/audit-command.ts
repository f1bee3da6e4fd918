/**
 * `aragora audit verify [--org ID] [--json]`: verify the audit log's hash chains (access/audit-log.ts)
 * from the shell, the way GET /api/admin/audit does, naming the first entry of each broken chain.
 * Reads $ARAGORA_DATA_DIR/core.db read-only (safe while the server runs), or DATABASE_URL when set.
 * Exit 0 when every chain is whole, 1 when one is broken (or the store cannot be read), 2 on bad usage.
 *
 * @example
 * aragora audit verify
 * # platform: whole, 12 entries, head 9f2c...
 * # o-0193...: BROKEN at entry al-0193... (seq 5, position 4): edited
 */
import pino from "pino";
import { type Command, EXIT, UsageError } from "../runtime/command.ts";
import { createLogger } from "../runtime/log.ts";
import { NoDatabase, openStore, type Store } from "../runtime/store/index.ts";
import { type ChainReport, openAuditLog } from "./audit-log.ts";

/** The line a chain's report prints as. @example reportLine({ chain: "platform", ok: true, head: "ab", length: 3 }) */
export function reportLine(r: ChainReport): string {
  if (r.ok) return `${r.chain}: whole, ${r.length} ${r.length === 1 ? "entry" : "entries"}, head ${r.head}`;
  const where =
    r.entryId === null
      ? `after its last entry (position ${r.index})`
      : `at entry ${r.entryId} (seq ${r.seq}, position ${r.index})`;
  return `${r.chain}: BROKEN ${where}: ${r.reason}`;
}

export const auditCommand: Command = {
  name: "audit",
  summary: "verify the audit log's hash chains; name the first entry edited, removed or put in",
  usage: "aragora audit verify [--org ID] [--json]",
  details: [
    "One chain per organisation and one for the platform (events of no organisation): each is checked",
    "whole, from its first entry. Reads $ARAGORA_DATA_DIR/core.db read-only (safe while the server runs),",
    "or DATABASE_URL when set. Exit 0: every chain is whole; 1: a chain is broken (its first break named)",
    "or the store cannot be read; 2: bad usage.",
  ].join("\n"),
  options: {
    org: { type: "string", description: "verify this organisation's chain only (`platform` for the platform's)" },
    json: { type: "boolean", description: "print one JSON object: every chain's report" },
  },
  async run({ positionals, values, config: loadConfig }) {
    const [action, ...extra] = positionals;
    if (action !== "verify") throw new UsageError("an action is required: verify");
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const config = loadConfig();
    const log = createLogger(config.logLevel, pino.destination({ fd: 2, sync: true }));
    let store: Store;
    try {
      store = await openStore(config, log, { readOnly: true });
    } catch (err) {
      if (err instanceof NoDatabase) throw new UsageError(err.message);
      process.stderr.write(`aragora audit: cannot open the store: ${(err as Error).message}\n`);
      return EXIT.failure;
    }
    try {
      const auditLog = await openAuditLog(store);
      try {
        const chains = typeof values.org === "string" ? [values.org] : await auditLog.chains();
        const reports: ChainReport[] = [];
        for (const chain of chains) {
          const report = await auditLog.verify(chain);
          reports.push(report);
          if (!values.json) process.stdout.write(`${reportLine(report)}\n`);
        }
        if (values.json) process.stdout.write(`${JSON.stringify({ chains: reports })}\n`);
        else if (chains.length === 0) process.stdout.write("the audit log is empty\n");
        return reports.every((r) => r.ok) ? EXIT.ok : EXIT.failure;
      } finally {
        await auditLog.close();
      }
    } catch (err) {
      process.stderr.write(`aragora audit verify: ${(err as Error).message}\n`);
      return EXIT.failure;
    } finally {
      await store.close();
    }
  },
};
