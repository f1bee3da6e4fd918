/**
 * The playbooks shipped with the server (`ops/playbooks/*.yml`), by name. The HTTP API starts a
 * playbook only by one of these names or from an uploaded document, never from a server path; the
 * CLI, where a path is the operator's own, also takes files (app/ops-cli.ts).
 *
 * @example
 * shippedPlaybookPath("backup");      // "<install>/ops/playbooks/backup.yml"
 * shippedPlaybookPath("/etc/passwd"); // undefined
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { PROJECT_ROOT } from "../runtime/paths.ts";

export const PLAYBOOKS_DIR = join(PROJECT_ROOT, "ops", "playbooks");

/** The shipped playbooks' file names (`backup.yml`, ...), sorted. */
export function shippedPlaybookFiles(): string[] {
  return existsSync(PLAYBOOKS_DIR)
    ? readdirSync(PLAYBOOKS_DIR)
        .filter((f) => f.endsWith(".yml"))
        .sort()
    : [];
}

/**
 * The file of the shipped playbook called `name` (`backup` or `backup.yml`), or undefined when no
 * shipped playbook has that name. The name is looked up in the directory's listing, never joined
 * onto a path, so `../x`, `/etc/passwd` or a symlinked name cannot reach another file.
 *
 * @example shippedPlaybookPath("backup.yml") // ".../ops/playbooks/backup.yml"
 */
export function shippedPlaybookPath(name: string): string | undefined {
  const file = name.endsWith(".yml") ? name : `${name}.yml`;
  return shippedPlaybookFiles().includes(file) ? join(PLAYBOOKS_DIR, file) : undefined;
}
