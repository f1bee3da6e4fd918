/**
 * `shell`: run one command from the playbook's `shell_allowlist`, without a shell (argv only,
 * so a templated value can never smuggle in `; rm -rf`). A non-zero exit fails the step unless
 * listed in `ok_codes`.
 *
 * @example
 * shell_allowlist: [sqlite3]
 * steps:
 *   - id: integrity
 *     action: shell
 *     with: { command: [sqlite3, .nomic/core.db, "PRAGMA integrity_check;"] }
 *     timeout: 1m
 */
import { basename } from "node:path";
import { type } from "arktype";
import { lazy } from "../../schemas/lazy.ts";
import type { ActionDefinition } from "../action.ts";

const ShellInput = lazy(() =>
  type({
    command: "string[] >= 1",
    "cwd?": "string",
    "env?": "Record<string, string>",
    "ok_codes?": "number.integer[]",
    "+": "reject",
  }),
);
type ShellInput = typeof ShellInput.infer;

/** A command the playbook did not allow, or one that exited badly. */
export class ShellCommandError extends Error {
  override name = "ShellCommandError";
}

/** Whether argv[0] is allowed: listed exactly, or its base name is listed. */
export function commandAllowed(command: string, allowlist: readonly string[]): boolean {
  return allowlist.includes(command) || (!command.includes("/") && allowlist.includes(basename(command)));
}

export const shellAction: ActionDefinition<ShellInput, { stdout: string; stderr: string; exit_code: number }> = {
  name: "shell",
  description:
    "run a command listed in the playbook's shell_allowlist (argv, no shell); outputs stdout, stderr, exit_code",
  input: ShellInput,
  outputs: ["stdout", "stderr", "exit_code"],
  idempotent: false,
  async plan(input, ctx) {
    const [program] = input.command;
    if (!commandAllowed(program as string, ctx.playbook.shellAllowlist)) {
      throw new ShellCommandError(`"${program}" is not in this playbook's shell_allowlist`);
    }
    return { summary: `run ${input.command.join(" ")}`, changes: [{ kind: "exec", target: input.command.join(" ") }] };
  },
  async run(input, ctx) {
    const [program] = input.command;
    if (!commandAllowed(program as string, ctx.playbook.shellAllowlist)) {
      throw new ShellCommandError(`"${program}" is not in this playbook's shell_allowlist`);
    }
    const proc = Bun.spawn(input.command, {
      cwd: input.cwd ?? ctx.dataDir,
      env: input.env ?? {},
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
    });
    const kill = () => proc.kill("SIGTERM");
    ctx.signal.addEventListener("abort", kill, { once: true });
    try {
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      if (ctx.signal.aborted) throw ctx.signal.reason;
      if (!(input.ok_codes ?? [0]).includes(code)) {
        throw new ShellCommandError(`${program} exited with ${code}: ${stderr.trim().slice(0, 500)}`);
      }
      return { stdout, stderr, exit_code: code };
    } finally {
      ctx.signal.removeEventListener("abort", kill);
    }
  },
};
