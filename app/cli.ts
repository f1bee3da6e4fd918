#!/usr/bin/env bun
/**
 * `aragora <command>`: the operator's entry point.
 *
 * @example
 * aragora serve --api-port 8080 --ws-port 8765
 * aragora migrate status
 */
// First: arktype reads its configuration when it loads.
import "../runtime/arktype-config.ts";
import { type Command, EXIT, runCommand } from "../runtime/command.ts";
import { environmentSnapshot } from "../runtime/config.ts";

/**
 * One line per command: its name and the module that implements it, loaded only when the
 * command runs (`aragora migrate` must not pay for the server's AI SDK imports at start).
 */
interface CommandEntry {
  name: string;
  load: () => Promise<Pick<Command, "summary">>;
}

const COMMANDS: CommandEntry[] = [
  {
    name: "serve",
    load: async () => (await import("./serve.ts")).serveCommand,
  },
  {
    name: "migrate",
    load: async () => (await import("../runtime/store/migrate-command.ts")).migrateCommand,
  },
  {
    name: "cleanup",
    load: async () => (await import("../ops/cleanup/cleanup-command.ts")).cleanupCommand,
  },
  {
    name: "users",
    load: async () => (await import("../access/users-command.ts")).usersCommand,
  },
  {
    name: "audit",
    load: async () => (await import("../access/audit-command.ts")).auditCommand,
  },
  {
    name: "keys",
    load: async () => (await import("./keys-command.ts")).keysCommand,
  },
  {
    name: "encrypt-existing",
    load: async () => (await import("./encrypt-existing-command.ts")).encryptExistingCommand,
  },
  {
    name: "receipt",
    load: async () => (await import("../actors/debate/receipt-command.ts")).receiptCommand,
  },
  {
    name: "verify",
    load: async () => (await import("../actors/debate/verify-command.ts")).verifyCommand,
  },
  {
    // `aragora ops ...` is `ops ...`: the ops CLI parses its own subcommands and flags.
    name: "ops",
    load: async () => ({ summary: "run, dry-run, validate and inspect ops playbooks (aragora ops --help)" }),
  },
];

/** The top-level usage; loads every command module for its summary (help is rare, start-up is not). */
async function usage(): Promise<string> {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const summaries = await Promise.all(COMMANDS.map(async (c) => (await c.load()).summary));
  return [
    "aragora: multi-agent debate server",
    "",
    "usage: aragora <command> [options]   (aragora <command> --help for its options)",
    "",
    "commands:",
    ...COMMANDS.map((c, i) => `  ${c.name.padEnd(width)}  ${summaries[i]}`),
    "",
  ].join("\n");
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(await usage());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`aragora: unknown command "${name}"\n\n${await usage()}`);
    return EXIT.usage;
  }
  // ops parses its own flags (per subcommand), so it gets the raw argv.
  if (cmd.name === "ops") return (await import("./ops-cli.ts")).opsMain(rest, environmentSnapshot());
  return runCommand((await cmd.load()) as Command, rest);
}

if (import.meta.main) {
  // `serve` resolves only once its graceful shutdown has finished. No top-level await, so the
  // entry point also builds as a bytecode-compiled binary (CommonJS output).
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
