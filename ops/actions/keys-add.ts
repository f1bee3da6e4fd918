/**
 * `keys.add`: the key rotation's new key, put in front of the configured ones (it encrypts from
 * then on; the old ones still decrypt).
 *
 * - Keys from a key file (`ARAGORA_ENCRYPTION_KEY_FILE`, or the development key file): the new key
 *   is written at the top of that file, tagged with the run on its line, and this process re-reads
 *   it; servers sharing the file take it within seconds (they watch it), others on SIGHUP.
 * - Keys from `ARAGORA_ENCRYPTION_KEY`: nothing here can change another process's environment, so
 *   the new value (new key first, then the current ones) is written to
 *   `<data dir>/key-rotation/<run>-<step>.env` (mode 0600) for the operator to deploy; the
 *   playbook's next gate names that file. `deploy` says which (`file` or `manual`).
 *
 * Run again after a crash, it finds the key it added (the tag, or the file it wrote) instead of
 * making another.
 *
 * @example
 * - id: add
 *   action: keys.add
 *   timeout: 1m
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type } from "arktype";
import { generateKeyHex } from "../../runtime/security/encryption-keys.ts";
import { addKeyToFile } from "../../runtime/security/key-file-edit.ts";
import { writeSecretFile } from "../../runtime/security/secret-file.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { deployFileRing, KEY_VARIABLE, keyListValue, rotationDir } from "./key-rotation.ts";

const Input = lazy(() => type({ "+": "reject" }));
type Input = typeof Input.infer;

/** The deploy file of this step: `<data dir>/key-rotation/<run>-<step>.env`. */
export function deployFile(ctx: ActionContext): string {
  return join(rotationDir(ctx.dataDir), `${ctx.runId}-${ctx.stepId}.env`);
}

/** The key ids of a deploy file `ARAGORA_ENCRYPTION_KEY=...` line (never the keys). */
export function deployFileKeyIds(path: string): string[] {
  return [...deployFileRing(path).ids];
}

/** Writes a deploy file for `value` (exclusive: a step run again keeps the first). */
export function writeDeployFile(path: string, ctx: ActionContext, what: string, value: string): void {
  writeSecretFile(
    path,
    `# ${what}, written by ops run ${ctx.runId} (${ctx.playbook.name}), step ${ctx.stepId}.\n` +
      `# Set ${KEY_VARIABLE} to this value on every instance (newest key first), restart them one at a time, then approve the gate.\n` +
      `${KEY_VARIABLE}=${value}\n`,
  );
}

export const keysAdd: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.add",
  description:
    "make a new encryption key and put it in front of the configured ones (in the key file, or a value to deploy when the keys come from ARAGORA_ENCRYPTION_KEY)",
  input: Input,
  outputs: ["key_id", "previous_key_ids", "deploy", "deploy_file", "written"],
  idempotent: true,
  async plan(_input, ctx) {
    const status = ctx.keySource.status();
    if (status.activeKeyId === null) {
      return { summary: "fail: no encryption key is configured, so there is none to rotate", changes: [] };
    }
    if (status.reloadable && status.path !== null) {
      return {
        summary: `put a new key in front of ${status.keyIds.join(", ")} in ${status.path} (servers sharing the file take it within seconds)`,
        changes: [{ kind: "modify", target: status.path, diff: `+<new key>  # added by ops run ${ctx.runId}` }],
      };
    }
    const path = deployFile(ctx);
    return {
      summary: `write ${KEY_VARIABLE}=<new key>,${status.keyIds.join(",")} to ${path} for you to deploy to every instance`,
      changes: [{ kind: "create", target: path }],
    };
  },
  async run(_input, ctx) {
    const status = ctx.keySource.status();
    const ring = ctx.keySource.current();
    if (ring === undefined) {
      throw new Error(
        "no encryption key is configured, so there is none to rotate: set ARAGORA_ENCRYPTION_KEY_FILE (aragora keys generate makes a key)",
      );
    }
    if (status.reloadable && status.path !== null) {
      const added = addKeyToFile(status.path, generateKeyHex(), `added by ops run ${ctx.runId} (${ctx.playbook.name})`);
      const reloaded = ctx.keySource.reload("request");
      if (!reloaded.ok) throw new Error(`the key file was written but cannot be read back: ${reloaded.error}`);
      ctx.log.info(
        { key_id: added.keyId, previous_key_ids: added.previousKeyIds, key_file: status.path },
        added.written ? "new encryption key put in front" : "the new key was in front already",
      );
      ctx.progress(`key ${added.keyId} now encrypts here (${status.path}); the old keys still decrypt`);
      return {
        key_id: added.keyId,
        previous_key_ids: [...added.previousKeyIds],
        deploy: "file",
        deploy_file: status.path,
        written: added.written,
      };
    }
    const path = deployFile(ctx);
    let written = false;
    if (!existsSync(path)) {
      writeDeployFile(
        path,
        ctx,
        "The key list with a new key in front",
        `${generateKeyHex()},${keyListValue(ring, ring.ids)}`,
      );
      written = true;
    }
    const ids = deployFileKeyIds(path);
    ctx.progress(`the new key list (key ${ids[0]} in front) is in ${path}: deploy it to every instance`);
    return { key_id: ids[0], previous_key_ids: ids.slice(1), deploy: "manual", deploy_file: path, written };
  },
};
