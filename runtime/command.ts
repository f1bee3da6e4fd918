/**
 * The shape every `aragora <command>` takes, and the shared argv handling behind `--help`
 * and usage errors, so each command module only declares its options and its action.
 *
 * @example
 * export const migrate: Command = {
 *   name: "migrate",
 *   summary: "apply, inspect or roll back schema migrations",
 *   usage: "aragora migrate status|apply|rollback",
 *   options: {},
 *   run: async ({ positionals }) => { ...; return 0; },
 * };
 */
import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "./config.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  description: string;
  multiple?: boolean;
}

export interface CommandInput {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  /**
   * Load the configuration, with flag values overriding variables (undefined overrides are ignored).
   * A bad variable throws ConfigError, which runCommand turns into exit code 2.
   */
  config: (overrides?: Record<string, string | undefined>) => Config;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Extra text printed after the options in --help. */
  details?: string;
  options: Record<string, OptionSpec>;
  run: (input: CommandInput) => Promise<number>;
}

/** Exit codes shared by every command: 0 ok, 1 failure, 2 bad usage or configuration. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export class UsageError extends Error {
  override name = "UsageError";
}

/** Render `--help` for one command. */
export function helpText(cmd: Command): string {
  const lines = [`${cmd.summary}`, "", `usage: ${cmd.usage}`, "", "options:"];
  const entries = Object.entries({
    ...cmd.options,
    help: { type: "boolean", short: "h", description: "show this help" } as OptionSpec,
  });
  for (const [name, opt] of entries) {
    const flag = `${opt.short ? `-${opt.short}, ` : "    "}--${name}${opt.type === "string" ? " VALUE" : ""}`;
    lines.push(`  ${flag.padEnd(28)} ${opt.description}`);
  }
  if (cmd.details) lines.push("", cmd.details);
  return `${lines.join("\n")}\n`;
}

/**
 * Parse argv for a command and run it. Returns the process exit code.
 * Unknown flags are usage errors (exit 2) rather than silently ignored.
 */
export async function runCommand(
  cmd: Command,
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        ...Object.fromEntries(
          Object.entries(cmd.options).map(([k, o]) => [
            k,
            { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) },
          ]),
        ),
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    process.stderr.write(`aragora ${cmd.name}: ${(err as Error).message}\n\n${helpText(cmd)}`);
    return EXIT.usage;
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(cmd));
    return EXIT.ok;
  }
  try {
    return await cmd.run({
      values: parsed.values as CommandInput["values"],
      positionals: parsed.positionals,
      config: (overrides = {}) => {
        const merged = { ...env };
        for (const [k, v] of Object.entries(overrides)) if (v !== undefined) merged[k] = v;
        return loadConfig(merged);
      },
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`aragora: ${err.message}\n`);
      return EXIT.usage;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`aragora ${cmd.name}: ${err.message}\n\n${helpText(cmd)}`);
      return EXIT.usage;
    }
    throw err;
  }
}
