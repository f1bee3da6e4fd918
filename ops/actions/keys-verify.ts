/**
 * `keys.verify`: `aragora keys verify` as a step, and the key rotation's checks. Counts every
 * store's records per key id (and the backups in the data dir) with the keys of the process
 * running the step, and fails, naming each problem, when a record or backup needs a key that is
 * not configured, when no key is configured (`require_encryption`), when a record or backup still
 * uses a key of `retired`, or when a key of `not_configured` is still configured here.
 *
 * @example
 * - id: verify
 *   action: keys.verify
 *   with: { retired: "${{ steps.add.outputs.previous_key_ids }}" }
 *   timeout: 30m
 */
import { type } from "arktype";
import { buildKeysReport, keysReportText, stillOnKeys } from "../../runtime/security/keys-report.ts";
import { NoDatabase } from "../../runtime/store/index.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { backupKeyIds } from "../backup/backup-keys.ts";
import { backupsDir } from "../cleanup/layout.ts";
import { withEncryptedStores } from "./encrypted-stores-step.ts";
import { rotationRing } from "./key-rotation.ts";

const KeyId = lazy(() => type(/^k[0-9a-f]{12}$/).describe("a key id (k and 12 hex characters)"));

const Input = lazy(() =>
  type({
    "+": "reject",
    "retired?": KeyId.array(),
    "not_configured?": KeyId.array(),
    "require_encryption?": "boolean",
  }),
);
type Input = typeof Input.infer;

interface Verified {
  problems: string[];
  outputs: Record<string, unknown>;
  /** The report for people, shown as the step's progress. */
  lines: string[];
}

async function verify(input: Input, ctx: ActionContext): Promise<Verified> {
  const ring = rotationRing(ctx);
  const status = ctx.keySource.status();
  const { report, storeKind } = await withEncryptedStores(ctx, { readOnly: true }, async (stores, store) => ({
    report: await buildKeysReport(ring, stores, backupKeyIds(backupsDir(ctx.dataDir))),
    storeKind: store.kind,
  }));
  const problems = [...report.problems];
  if (input.require_encryption !== false && ring === undefined) {
    problems.push(
      "no encryption key is configured here (ARAGORA_ENCRYPTION_KEY or ARAGORA_ENCRYPTION_KEY_FILE): there is no key to rotate; configure one first (aragora keys generate)",
    );
  }
  const onRetired = stillOnKeys(report, input.retired ?? []);
  problems.push(...onRetired.needs);
  for (const id of input.not_configured ?? []) {
    if (ring?.byId.has(id)) problems.push(`key ${id} is still configured here (${status.path ?? status.variable})`);
  }
  const records = report.stores.reduce((n, s) => n + s.records, 0);
  return {
    problems,
    outputs: {
      ok: problems.length === 0,
      active_key_id: report.active_key_id ?? "",
      key_ids: report.key_ids,
      previous_key_ids: report.key_ids.slice(1),
      source: status.kind,
      key_file: status.path ?? "",
      store: storeKind,
      records,
      plaintext: report.stores.reduce((n, s) => n + s.plaintext, 0),
      on_retired: onRetired.count,
      backups: report.backups.length,
    },
    lines: keysReportText(report).trim().split("\n"),
  };
}

export const keysVerify: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.verify",
  description:
    "count every store's records (and the backups) per encryption key; fail on a record or backup no configured key reads, or one still on a retired key",
  input: Input,
  outputs: [
    "ok",
    "active_key_id",
    "key_ids",
    "previous_key_ids",
    "source",
    "key_file",
    "store",
    "records",
    "plaintext",
    "on_retired",
    "backups",
  ],
  idempotent: true,
  async plan(input, ctx) {
    try {
      const { problems, outputs } = await verify(input, ctx);
      const head = `check ${outputs.records} records and ${outputs.backups} backups against keys ${(outputs.key_ids as string[]).join(", ") || "(none)"}`;
      return {
        summary: problems.length === 0 ? head : `${head}; it would fail now: ${problems.join("; ")}`,
        changes: [],
      };
    } catch (err) {
      if (err instanceof NoDatabase) return { summary: `find nothing to check: ${err.message}`, changes: [] };
      throw err;
    }
  },
  async run(input, ctx) {
    const { problems, outputs, lines } = await verify(input, ctx);
    for (const line of lines) if (line.trim() !== "" && !problems.includes(line)) ctx.progress(line);
    if (problems.length > 0) throw new Error(problems.join("\n"));
    return outputs;
  },
};
