/**
 * `debates.verify`: `aragora verify` as a playbook step (the weekly maintenance playbook runs it):
 * every stored debate against its hash chain and its signed receipt, read-only, on SQLite or on
 * DATABASE_URL. A difference fails the step, naming each one, unless `fail_on_difference: false`,
 * in which case the outputs carry the verdict for a later `when:` or `assert`.
 *
 * @example
 * steps:
 *   - id: verify
 *     action: debates.verify
 *     with: { public_keys: [/etc/aragora/node-b.pem] }
 *     timeout: 30m
 */
import { type } from "arktype";
import { openDebateSnapshots } from "../../actors/debate/debate-snapshots.ts";
import { type Difference, trustedKeys, verifyDebates } from "../../actors/debate/debate-verify.ts";
import { summaryLine } from "../../actors/debate/verify-command.ts";
import { NoDatabase, openStore, type Store, storeDialect } from "../../runtime/store/index.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";

const VerifyInput = lazy(() => type({ "+": "reject", "public_keys?": "string[]", "fail_on_difference?": "boolean" }));

/** Differences written into the step's outputs (and its failure); the count covers them all. */
const LISTED = 50;

export const debatesVerify: ActionDefinition<typeof VerifyInput.infer, Record<string, unknown>> = {
  name: "debates.verify",
  description: "check every stored debate against its hash chain and its signed receipt (read-only); name what differs",
  input: VerifyInput,
  outputs: ["ok", "debates", "events", "receipts", "differences", "report"],
  idempotent: true,
  async plan(input, ctx) {
    const store = storeDialect(ctx.config) === "sqlite" ? `${ctx.dataDir}/core.db` : "DATABASE_URL";
    const extra = input.public_keys?.length ? ` and ${input.public_keys.length} more key(s)` : "";
    // A read-only check: it lists what it reads, and changes nothing.
    return {
      summary: `verify every stored debate in ${store} (read-only) with this data dir's key${extra}`,
      changes: [],
    };
  },
  async run(input, ctx) {
    const keys = trustedKeys(ctx.dataDir, input.public_keys ?? []);
    let store: Store;
    try {
      // Read-only: the step checks the stored debates and can change none of them.
      store = await openStore({ ...ctx.config, dataDir: ctx.dataDir }, ctx.log, { readOnly: true });
    } catch (err) {
      if (!(err instanceof NoDatabase)) throw err;
      // A data dir no server has used yet holds no debates: nothing differs.
      return { ok: true, debates: 0, events: 0, receipts: 0, differences: 0, report: err.message };
    }
    const listed: Difference[] = [];
    let summary: Awaited<ReturnType<typeof verifyDebates>>;
    try {
      const source = await openDebateSnapshots(store);
      try {
        summary = await verifyDebates(
          source,
          { keys, retentionDays: ctx.config.receiptRetentionDays },
          {
            signal: ctx.signal,
            difference: (d) => {
              if (listed.length < LISTED) listed.push(d);
              ctx.log.warn({ debate_id: d.debateId, what: d.what, detail: d.detail }, "stored debate differs");
            },
            progress: (s) => ctx.progress(`verified ${s.debates} debates, ${s.differences} differences`),
          },
        );
      } finally {
        await source.close();
      }
    } finally {
      await store.close();
    }
    const lines = listed.map((d) => `${d.debateId}: ${d.what}: ${d.detail}`);
    if (summary.differences > listed.length) lines.push(`... and ${summary.differences - listed.length} more`);
    const report = [...lines, summaryLine(summary)].join("\n");
    if (summary.differences > 0 && input.fail_on_difference !== false) throw new Error(report);
    return {
      ok: summary.differences === 0,
      debates: summary.debates,
      events: summary.events,
      receipts: summary.receipts,
      differences: summary.differences,
      report,
    };
  },
};
