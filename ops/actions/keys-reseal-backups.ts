/**
 * `keys.reseal_backups`: the backups in the data dir that are encrypted with an older key, sealed
 * again with the active key (streamed: decrypted with the key each names, encrypted with the
 * active one into a new file beside it, which then replaces it at once). The key rotation runs it
 * before the old key is retired, so that no backup is left that only the retired key could open.
 * Plain (unencrypted) archives are left as they are. A backup that cannot be opened fails the
 * step, naming it, and is left untouched.
 *
 * @example
 * - id: backups
 *   action: keys.reseal_backups
 *   timeout: 1h
 */
import { createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { type } from "arktype";
import { openSealedStream, sealStream } from "../../runtime/security/sealed-stream.ts";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionContext, ActionDefinition } from "../action.ts";
import { backupKeyIds } from "../backup/backup-keys.ts";
import { backupsDir } from "../cleanup/layout.ts";
import { rotationRing } from "./key-rotation.ts";

const Input = lazy(() => type({ "+": "reject" }));
type Input = typeof Input.infer;

function onOlderKeys(ctx: ActionContext) {
  const active = rotationRing(ctx)?.active.id;
  return backupKeyIds(backupsDir(ctx.dataDir)).filter((b) => b.keyId !== null && b.keyId !== active);
}

export const keysResealBackups: ActionDefinition<Input, Record<string, unknown>> = {
  name: "keys.reseal_backups",
  description: "encrypt again with the active key the backups in the data dir that an older key encrypts",
  input: Input,
  outputs: ["resealed", "backups"],
  idempotent: true,
  async plan(_input, ctx) {
    const older = onOlderKeys(ctx);
    return {
      summary: `seal ${older.length} backups again with key ${rotationRing(ctx)?.active.id ?? "(none)"}`,
      changes: older.map((b) => ({ kind: "modify", target: b.path, bytes: b.bytes, diff: `key ${b.keyId} -> active` })),
    };
  },
  async run(_input, ctx) {
    const ring = rotationRing(ctx);
    if (ring === undefined) throw new Error("no encryption key is configured here: backups cannot be sealed");
    const older = onOlderKeys(ctx);
    const resealed: string[] = [];
    for (const [i, b] of older.entries()) {
      if (b.problem !== undefined) throw new Error(`backup ${b.name}: ${b.problem}`);
      const temporary = `${b.path}.${process.pid}.reseal.tmp`;
      try {
        await pipeline(
          createReadStream(b.path),
          openSealedStream(ring, { label: b.path }),
          sealStream(ring.active),
          createWriteStream(temporary, { flags: "wx", mode: 0o600 }),
          { signal: ctx.signal },
        );
        renameSync(temporary, b.path);
      } finally {
        rmSync(temporary, { force: true });
      }
      resealed.push(b.name);
      ctx.progress(`${b.name}: ${b.keyId} -> ${ring.active.id}`, (i + 1) / older.length);
    }
    return { resealed: resealed.length, backups: resealed };
  },
};
