/**
 * The first start, run by every start (each step is idempotent):
 *
 * 1. no organisation yet: make "Default organisation" and its default workspace;
 * 2. debates of the legacy `local` owner (made before accounts existed) move to it, so an upgrade
 *    loses none;
 * 3. no account yet and no setup token waiting: make a one-time setup token (`ara_setup_...`),
 *    store its SHA-256, write it to `<data dir>/setup-token` (mode 0600) and print it once on
 *    stderr. POST /api/auth/setup trades it for the owner account of the first organisation; the
 *    log line says where the token is, never the token.
 *
 * @example
 * const first = await firstStart(access, { dataDir, log });
 * first.orgId; // the organisation the operator token acts in
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "../runtime/log.ts";
import { removeSecretFile, SETUP_TOKEN_FILE, writeSecretFile } from "../runtime/security/secret-file.ts";
import { newSecretToken, TOKEN_PREFIX } from "../runtime/security/secret-token.ts";
import type { AccessStore } from "./access-store.ts";

/** The setup token's file, which the setup route removes once the token is used. */
export interface SetupToken {
  readonly path: string;
  /** The token was used: its file goes. */
  consumed(): void;
}

export interface FirstStartOptions {
  dataDir: string;
  log: Logger;
  /** Where the one console line goes; defaults to stderr. */
  announce?: (line: string) => void;
  /** Wall-clock epoch milliseconds; defaults to Date.now. */
  clock?: () => number;
}

/** What the first start found or made. */
export interface FirstStart {
  orgId: string;
  workspaceId: string;
  setupToken: SetupToken;
}

/**
 * Makes what a server needs before its first request (see the module comment).
 *
 * @example const { orgId, workspaceId, setupToken } = await firstStart(access, { dataDir, log });
 */
export async function firstStart(store: AccessStore, options: FirstStartOptions): Promise<FirstStart> {
  const { log } = options;
  const clock = options.clock ?? Date.now;
  const announce = options.announce ?? ((line: string) => process.stderr.write(`${line}\n`));
  const path = join(options.dataDir, SETUP_TOKEN_FILE);
  const setupToken: SetupToken = { path, consumed: () => removeSecretFile(path) };

  const first = await store.ensureFirstOrganisation(new Date(clock()));
  if (first.created) log.info({ org_id: first.orgId }, "first start: made the default organisation");

  if (!(await store.anyUser())) {
    const record = await store.setupRecord();
    if (record !== undefined && record.claimedAt === null) {
      const token = newSecretToken(TOKEN_PREFIX.setup);
      if (record.tokenHash === null && (await store.offerSetupToken(token.hash))) {
        announce(
          `aragora: first start: claim the owner account with setup token ${token.token} (POST /api/auth/setup {setup_token, email, password}); it is also in ${path}`,
        );
        // A file left from an earlier database would hold a token nobody can use.
        removeSecretFile(path);
        writeSecretFile(path, `${token.token}\n`);
        log.info(
          { file: path },
          "first start: no account yet; a setup token was printed on stderr and written to the file",
        );
      } else if (existsSync(path)) {
        log.info({ file: path }, "no account yet: claim the owner account with the setup token in the file");
      } else {
        log.warn(
          { file: path },
          "no account yet and the setup token's file is gone: make the owner with `aragora users create --role owner`",
        );
      }
    }
  }
  return { orgId: first.orgId, workspaceId: first.workspaceId, setupToken };
}
