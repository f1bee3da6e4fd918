/**
 * What the key rotation's actions share: where a rotation keeps the values an operator deploys by
 * hand (`<data dir>/key-rotation/`, files of mode 0600), the check that the process running a step
 * encrypts with the key the rotation put in front, and when a step first started (durable across
 * crashes, from the run's journal).
 *
 * @example
 * requireActiveKey(ctx, "k3f9a0c12b4de"); // the ring; throws naming both keys when this run encrypts with another
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { type KeyRing, parseKeyList } from "../../runtime/security/encryption-keys.ts";
import { readSecretFile } from "../../runtime/security/secret-file.ts";
import type { ActionContext } from "../action.ts";

/** Where a rotation writes the key lists to deploy when the keys come from ARAGORA_ENCRYPTION_KEY. */
export function rotationDir(dataDir: string): string {
  return join(dataDir, "key-rotation");
}

/** The keys of `ring` in order, as the value of ARAGORA_ENCRYPTION_KEY (key material: files of mode 0600 only). */
export function keyListValue(ring: KeyRing, ids: readonly string[]): string {
  return ids
    .map((id) => {
      const key = ring.byId.get(id);
      if (key === undefined) throw new Error(`key ${id} is not configured in this process`);
      return key.key.export().toString("hex");
    })
    .join(",");
}

/**
 * The keys this run's rotation steps work with. From a key file: the process's own (the rotation
 * writes the file and re-reads it). From `ARAGORA_ENCRYPTION_KEY`, which no step can change: the
 * key list this run last wrote for the operator to deploy (`<data dir>/key-rotation/<run>-*.env`),
 * once it has written one, since every node was (or is being) given that same list; the process's
 * own before that.
 *
 * @example const ring = rotationRing(ctx); ring?.active.id // the new key, after keys.add
 */
export function rotationRing(ctx: ActionContext): KeyRing | undefined {
  const own = ctx.keySource.current();
  if (ctx.keySource.status().reloadable) return own;
  const dir = rotationDir(ctx.dataDir);
  if (!existsSync(dir)) return own;
  const newest = readdirSync(dir)
    .filter((f) => f.startsWith(`${ctx.runId}-`) && f.endsWith(".env"))
    .map((f) => ({ path: join(dir, f), at: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.at - a.at)[0];
  return newest === undefined ? own : deployFileRing(newest.path);
}

/** The key list of a deploy file's `ARAGORA_ENCRYPTION_KEY=...` line. */
export function deployFileRing(path: string): KeyRing {
  const line = readSecretFile(path)
    .split(/\r?\n/)
    .find((l) => l.startsWith(`${KEY_VARIABLE}=`));
  if (line === undefined) throw new Error(`${path} holds no ${KEY_VARIABLE}= line`);
  return parseKeyList(line.slice(KEY_VARIABLE.length + 1), path);
}

/** The variable a deploy file sets. */
export const KEY_VARIABLE = "ARAGORA_ENCRYPTION_KEY";

/**
 * Throws unless this run's keys ({@link rotationRing}) encrypt with `keyId`. A reloadable source
 * (a key file) is re-read first: another process of the rotation may have just written it.
 */
export function requireActiveKey(ctx: ActionContext, keyId: string): KeyRing {
  let ring = rotationRing(ctx);
  if (ring?.active.id !== keyId && ctx.keySource.status().reloadable) {
    ctx.keySource.reload("request");
    ring = rotationRing(ctx);
  }
  if (ring === undefined || ring.active.id !== keyId) {
    const status = ctx.keySource.status();
    const where =
      status.kind === "env"
        ? "ARAGORA_ENCRYPTION_KEY of the process running this step"
        : status.path !== null
          ? status.path
          : "this process (no key configured)";
    throw new Error(
      `this process encrypts with key ${ring?.active.id ?? "(none)"}, not with the rotation's new key ${keyId} (keys from ${where})`,
    );
  }
  return ring;
}

/**
 * When this step of the run first started (the earliest `step_started` in the journal), so that a
 * wait or a window measured from it survives a crash and a resume; now when the journal has none.
 */
export async function stepFirstStarted(ctx: ActionContext): Promise<Date> {
  const entries = await ctx.timeline();
  const first = entries.find((e) => e.stepId === ctx.stepId && e.kind === "step_started");
  return first === undefined ? new Date() : new Date(first.at);
}
