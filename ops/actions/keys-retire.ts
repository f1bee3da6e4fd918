/**
 * `keys.retire`: the key rotation's last change: the old keys taken out, once no record and no
 * backup in the data dir needs them (checked first, so a key still needed is never removed).
 * From a key file: their lines are removed and this process re-reads the file (servers sharing it
 * follow within seconds). From `ARAGORA_ENCRYPTION_KEY`: the value without them is written to
 * `<data dir>/key-rotation/<run>-<step>.env` for the operator to deploy (`deploy: manual`).
 *
 * @example
 * - id: retire
 *   action: keys.retire
 *   with: { key_ids: "${{ steps.add.outputs.previous_key_ids }}" }
 *   timeout: 10m
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { type } from "arktype";
import { removeKeysFromFile } from "../../runtime/security/key-file-edit.ts";
import { buildKeysReport, stillOnKeys } from "../../runtime/security/keys-report.ts";
import { removeSecretFile } from "../../runtime/security/secret-file.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { backupKeyIds } from "../backup/backup-keys.ts";
import { backupsDir } from "../cleanup/layout.ts";
import { withEncryptedStores } from "./encrypted-stores-step.ts";
import { keyListValue, rotationDir, rotationRing } from "./key-rotation.ts";
import { deployFile, deployFileKeyIds, writeDeployFile } from "./keys-add.ts";

const Input = lazy(() => type({ "+": "reject", key_ids: type(/^k[0-9a-f]{12}$/).array() }));
type Input = typeof Input.infer;

/** What still needs the keys `ids`: records per store and backups, as sentences. */
async function stillNeeded(ids: readonly string[], ctx: ActionContext): Promise<string[]> {
  const report = await withEncryptedStores(ctx, { readOnly: true }, (stores) =>
    buildKeysReport(rotationRing(ctx), stores, backupKeyIds(backupsDir(ctx.dataDir))),
  );
  return stillOnKeys(report, ids).needs;
}

export const keysRetire: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.retire",
  description: "take old encryption keys out (the key file, or a value to deploy) once nothing stored needs them",
  input: Input,
  outputs: ["removed", "key_ids", "deploy", "deploy_file"],
  idempotent: true,
  async plan(input, ctx) {
    const status = ctx.keySource.status();
    const needs = await stillNeeded(input.key_ids, ctx);
    const where = status.reloadable && status.path !== null ? status.path : deployFile(ctx);
    return {
      summary:
        needs.length > 0
          ? `fail now: ${needs.join("; ")} still need the old keys`
          : `take ${input.key_ids.join(", ") || "no key"} out (${where})`,
      changes: [{ kind: status.reloadable ? "modify" : "create", target: where }],
    };
  },
  async run(input, ctx) {
    const ring = rotationRing(ctx);
    const status = ctx.keySource.status();
    if (ring === undefined) throw new Error("no encryption key is configured here");
    if (input.key_ids.includes(ring.active.id)) {
      throw new Error(`key ${ring.active.id} is the active key here: it cannot be retired`);
    }
    const needs = await stillNeeded(input.key_ids, ctx);
    if (needs.length > 0) {
      throw new Error(
        `the old keys are still needed, so none is removed: ${needs.join("; ")}; re-encrypt (keys.encrypt_existing, keys.reseal_backups) and run this step again`,
      );
    }
    if (status.reloadable && status.path !== null) {
      const removed = removeKeysFromFile(status.path, input.key_ids);
      const reloaded = ctx.keySource.reload("request");
      if (!reloaded.ok) throw new Error(`the key file was written but cannot be read back: ${reloaded.error}`);
      ctx.progress(
        removed.length > 0 ? `removed ${removed.join(", ")} from ${status.path}` : "the old keys were gone already",
      );
      return { removed, key_ids: [...reloaded.status.keyIds], deploy: "file", deploy_file: status.path };
    }
    const path = deployFile(ctx);
    const keep = ring.ids.filter((id) => !input.key_ids.includes(id));
    if (!existsSync(path))
      writeDeployFile(path, ctx, "The key list without the retired keys", keyListValue(ring, keep));
    // The run's earlier key list holds the retired keys' material: it goes once this one is written.
    const dir = rotationDir(ctx.dataDir);
    for (const f of readdirSync(dir)) {
      if (f.startsWith(`${ctx.runId}-`) && f.endsWith(".env") && join(dir, f) !== path) removeSecretFile(join(dir, f));
    }
    const ids = deployFileKeyIds(path);
    ctx.progress(`the key list without the old keys (${ids.join(", ")}) is in ${path}: deploy it to every instance`);
    return {
      removed: input.key_ids.filter((id) => ring.byId.has(id)),
      key_ids: ids,
      deploy: "manual",
      deploy_file: path,
    };
  },
};
