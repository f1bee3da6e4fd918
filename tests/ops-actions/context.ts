/**
 * An {@link ActionContext} for calling actions directly on a real temporary data dir, a checksum
 * of a directory tree to prove a plan changed nothing, and the entries of a backup archive.
 *
 * @example
 * const ctx = actionContext(dir.path);
 * const plan = await dbBackup.plan({}, ctx);
 */
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import pino from "pino";
import { list } from "tar";
import type { ActionContext, TimelineEntry } from "../../ops/action.ts";
import { loadConfig } from "../../runtime/config.ts";
import type { KeyRing } from "../../runtime/security/encryption-keys.ts";
import { fixedKeySource } from "../../runtime/security/key-source.ts";

export interface TestContext extends ActionContext {
  progressLines: string[];
}

export function actionContext(
  dataDir: string,
  options: {
    timeline?: TimelineEntry[];
    env?: Record<string, string>;
    server?: { apiBaseUrl: string };
    /** The key ring actions see (default: the one ARAGORA_ENCRYPTION_KEY in `env` makes, if any). */
    keys?: KeyRing;
  } = {},
): TestContext {
  const progressLines: string[] = [];
  const config = loadConfig({ ARAGORA_DATA_DIR: dataDir, ARAGORA_SQLITE_BUSY_TIMEOUT_MS: "10000", ...options.env });
  return {
    config,
    encryptionKeys: () => options.keys ?? config.encryptionKeys,
    keySource: fixedKeySource(options.keys ?? config.encryptionKeys),
    dataDir,
    log: pino({ level: "silent" }),
    signal: new AbortController().signal,
    runId: "r-test-1",
    stepId: "step",
    progress: (message) => progressLines.push(message),
    ...(options.server ? { server: options.server } : {}),
    playbook: { name: "test.yml", shellAllowlist: [] },
    timeline: async () => options.timeline ?? [],
    awaitApprovals: async () => [],
    progressLines,
  };
}

/** path -> sha256 of every file under `dir` (and each folder as an entry), to compare before and after. */
export function treeChecksums(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string) => {
    const rel = relative(dir, path) || ".";
    const st = lstatSync(path);
    if (st.isDirectory()) {
      out[`${rel}/`] = "dir";
      for (const child of readdirSync(path).sort()) walk(join(path, child));
    } else {
      out[rel] = createHash("sha256").update(readFileSync(path)).digest("hex");
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

/** The files in the tar.gz at `path`, by name. @example (await archiveEntries(archive)).get("manifest.json") */
export async function archiveEntries(path: string): Promise<Map<string, Buffer>> {
  const entries = new Map<string, Buffer>();
  await list({
    file: path,
    onReadEntry(entry) {
      const chunks: Buffer[] = [];
      entry.on("data", (c: Buffer) => chunks.push(c));
      entry.on("end", () => entries.set(entry.path, Buffer.concat(chunks)));
    },
  });
  return entries;
}
