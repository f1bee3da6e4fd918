/**
 * Run `aragora` as an operator would: a separate `bun app/cli.ts` process with its own
 * environment, so tests exercise argv parsing, configuration and exit codes for real.
 *
 * @example
 * const r = await aragora(["migrate", "status", "--json"], { ARAGORA_DATA_DIR: dir });
 * r.code; // 0
 */
import { join } from "node:path";

export const REPO_ROOT = join(import.meta.dir, "..", "..");

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Environment for a child: the test's own, minus anything that would choose a store for it. */
export function childEnv(env: Record<string, string>): Record<string, string | undefined> {
  const base: Record<string, string | undefined> = { ...process.env, ARAGORA_LOG_LEVEL: "WARNING" };
  delete base.DATABASE_URL;
  delete base.ARAGORA_DATA_DIR;
  return { ...base, ...env };
}

export async function aragora(args: string[], env: Record<string, string>): Promise<CliResult> {
  const proc = Bun.spawn([process.execPath, join(REPO_ROOT, "app", "cli.ts"), ...args], {
    cwd: REPO_ROOT,
    env: childEnv(env),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}
