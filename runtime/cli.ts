#!/usr/bin/env bun
/**
 * `aragora <command>`: the operator's entry point.
 *
 * @example
 * aragora serve --api-port 8080 --ws-port 8765
 * aragora migrate status
 */
import { type Command, EXIT, runCommand } from "./command.ts";
import { serveCommand } from "./serve.ts";
import { migrateCommand } from "./store/migrate-command.ts";

const COMMANDS: Command[] = [serveCommand, migrateCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "aragora: multi-agent debate server",
    "",
    "usage: aragora <command> [options]   (aragora <command> --help for its options)",
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`aragora: unknown command "${name}"\n\n${usage()}`);
    return EXIT.usage;
  }
  return runCommand(cmd, rest);
}

if (import.meta.main) {
  // `serve` resolves only once its graceful shutdown has finished. No top-level await, so the
  // entry point also builds as a bytecode-compiled binary (CommonJS output).
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
