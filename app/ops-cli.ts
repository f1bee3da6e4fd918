#!/usr/bin/env bun
/**
 * `ops <command>`: run, dry-run, validate and inspect playbooks (also `aragora ops ...` and
 * `bun run ops ...`). A run is handed to the server holding the data dir when one is up
 * (see ./handoff.ts), otherwise it executes in this process; either way it is journaled in the store.
 *
 * @example
 * ops validate ops/playbooks/*.yml
 * ops run backup.yml --param keep=5 --dry-run
 * ops approve r-20261128-1a2b3c4d go --as alice
 */
// First: arktype reads its configuration when it loads.
import "../runtime/arktype-config.ts";
import { existsSync, readFileSync } from "node:fs";
import { userInfo } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import pino from "pino";
import { parse as parseYaml } from "yaml";
import { RunbookService, RunRequestError } from "../actors/runbook/service.ts";
import { HandOffError, handOffRun, readOpsToken, serverBaseUrl } from "../ops/handoff.ts";
import { MemoryJournal, type OpsJournal } from "../ops/journal.ts";
import { openOpsJournal } from "../ops/journal-sql.ts";
import { parseParamPairs } from "../ops/params.ts";
import { formatDiagnostic, loadPlaybook, type Playbook } from "../ops/playbook.ts";
import { eventJson, type ProgressMode, progressView } from "../ops/progress.ts";
import { PLAYBOOKS_DIR, shippedPlaybookFiles } from "../ops/shipped.ts";
import { ActorSystem } from "../runtime/actor/index.ts";
import { type Command, EXIT, runCommand, UsageError } from "../runtime/command.ts";
import { type Config, environmentSnapshot } from "../runtime/config.ts";
import { createLogger } from "../runtime/log.ts";
import { readServerLock } from "../runtime/server-lock.ts";
import { openStore } from "../runtime/store/index.ts";
import { commandKeySource } from "./command-keys.ts";

/** Exit code of a run that paused for an operator decision. */
export const EXIT_PAUSED = 3;

/** A path as given, else a shipped playbook by name (`backup`, `backup.yml`). */
export function resolvePlaybookPath(name: string): string {
  if (existsSync(name)) return name;
  for (const candidate of [join(PLAYBOOKS_DIR, name), join(PLAYBOOKS_DIR, `${name}.yml`)]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new UsageError(`no playbook "${name}" (not a file, and not in ${PLAYBOOKS_DIR}; see ops list)`);
}

function loadOrReport(path: string): Playbook | undefined {
  const result = loadPlaybook(readFileSync(path, "utf8"), path);
  for (const d of result.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  return result.playbook;
}

/** The operator's login name for the audit trail (Bun may report "unknown" where libc has no entry). */
function whoAmI(env: Record<string, string | undefined>): string {
  const uid = `uid:${process.getuid?.() ?? "unknown"}`;
  try {
    const name = userInfo().username;
    return name && name !== "unknown" ? name : env.USER || env.LOGNAME || uid;
  } catch {
    return env.USER || env.LOGNAME || uid;
  }
}

/** Quiet logs on stderr so stdout stays the progress (or JSON events). */
function cliLogger(config: Config) {
  return createLogger(config.logLevel === "DEBUG" ? "DEBUG" : "WARNING", pino.destination({ fd: 2, sync: true }));
}

function outcomeCode(status: string): number {
  return status === "succeeded" ? EXIT.ok : status === "paused" ? EXIT_PAUSED : EXIT.failure;
}

/** Open what an in-process run needs; `dryRun` opens nothing on disk. */
async function openLocal(config: Config, dryRun: boolean, env: Record<string, string | undefined>) {
  const log = cliLogger(config);
  const dataDir = resolve(config.dataDir);
  let journal: OpsJournal;
  let closeStore = async () => {};
  if (dryRun) {
    journal = new MemoryJournal();
  } else {
    const store = await openStore(config, log);
    journal = await openOpsJournal(store);
    closeStore = () => store.close();
  }
  const system = new ActorSystem({ mailboxLimit: config.actorMailboxLimit, metricsIntervalMs: 0 });
  const service = new RunbookService({
    system,
    journal,
    config,
    dataDir,
    log,
    // Loaded only when a keys.encrypt_existing step asks: `ops list` and `ops validate` stay quick.
    encryptedStores: async (store) => (await import("./encrypted-stores.ts")).openEncryptedStores(store),
    keys: commandKeySource(config),
    credentials: async (store) => (await import("./issued-credentials.ts")).openIssuedCredentials(store, log),
  });
  void env;
  return {
    service,
    journal,
    dataDir,
    async close() {
      await system.shutdown();
      await journal.close();
      await closeStore();
    },
  };
}

function progressMode(json: boolean): ProgressMode {
  return json ? "json" : process.stdout.isTTY ? "tty" : "plain";
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Only the variables the playbook references travel to a server (never the whole environment). */
function referencedEnv(playbook: Playbook, env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ref of playbook.steps.flatMap((s) => s.refs)) {
    const value = ref.kind === "env" ? env[ref.name] : undefined;
    if (ref.kind === "env" && value !== undefined) out[ref.name] = value;
  }
  return out;
}

function commands(env: Record<string, string | undefined>): Command[] {
  const run: Command = {
    name: "run",
    summary: "run a playbook (a file, or a shipped one by name)",
    usage: "ops run <file|name> [--param k=v ...] [--dry-run] [--yes] [--json] [--local]",
    options: {
      param: { type: "string", short: "p", multiple: true, description: "a param value, name=value (repeatable)" },
      "dry-run": { type: "boolean", description: "plan every step (with diffs) and change nothing" },
      yes: { type: "boolean", short: "y", description: "skip the confirmation a real run asks for on a terminal" },
      json: { type: "boolean", description: "print JSON events, one per line" },
      local: { type: "boolean", description: "execute in this process even when a server holds the data dir" },
    },
    details:
      "exit codes: 0 succeeded, 1 failed or cancelled, 2 usage or invalid playbook, 3 paused (ops resume RUN)\n" +
      "Every ops command works on ARAGORA_DATA_DIR (and DATABASE_URL when set), like the server.\n" +
      "When a server runs on the same data dir, the run is handed to it (authenticated by <data dir>/ops.token).",
    async run({ values, positionals, config: loadConfig }) {
      const [name] = positionals;
      if (!name || positionals.length > 1) throw new UsageError("expected exactly one playbook");
      const path = resolvePlaybookPath(name);
      const playbook = loadOrReport(path);
      if (!playbook) return EXIT.usage;
      const config = loadConfig();
      let params: Record<string, string>;
      try {
        params = parseParamPairs((values.param as string[] | undefined) ?? []);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const dryRun = values["dry-run"] === true;
      const json = values.json === true;
      const mode = progressMode(json);
      if (!dryRun && !values.yes && process.stdin.isTTY && process.stdout.isTTY) {
        const ok = await confirm(
          `Run "${playbook.name}" (${playbook.steps.length} steps) on ${resolve(config.dataDir)}?`,
        );
        if (!ok) {
          process.stderr.write("not run\n");
          return EXIT.failure;
        }
      }
      const view = progressView(
        mode,
        process.stdout,
        playbook.steps.map((s) => s.id),
      );
      const dataDir = resolve(config.dataDir);
      const lock = values.local ? null : readServerLock(dataDir);
      try {
        if (lock) {
          const token = readOpsToken(dataDir);
          if (!token)
            throw new UsageError(
              `a server (pid ${lock.pid}) holds ${dataDir} but ${dataDir}/ops.token is not readable; use --local to run here`,
            );
          const body = {
            playbook: { source: playbook.source, file: playbook.file },
            params,
            env: referencedEnv(playbook, env),
            dry_run: dryRun,
            started_by: whoAmI(env),
          };
          const result = await handOffRun(serverBaseUrl(lock), token, "/api/ops/runs", body, view.event);
          return outcomeCode(result.status);
        }
        const local = await openLocal(config, dryRun, env);
        try {
          const started = await local.service.start({
            playbook,
            params,
            env,
            startedBy: whoAmI(env),
            dryRun,
            onEvent: view.event,
          });
          const onSigint = () => void local.service.cancel(started.runId);
          process.on("SIGINT", onSigint);
          const outcome = await started.done;
          process.off("SIGINT", onSigint);
          return outcomeCode(outcome.status);
        } finally {
          await local.close();
        }
      } catch (err) {
        if (err instanceof RunRequestError || err instanceof HandOffError) {
          process.stderr.write(`ops run: ${err.message}\n`);
          return EXIT.usage;
        }
        throw err;
      } finally {
        view.close();
      }
    },
  };

  const list: Command = {
    name: "list",
    summary: "list the shipped playbooks with their descriptions",
    usage: "ops list",
    options: {},
    async run() {
      const files = shippedPlaybookFiles();
      const width = Math.max(8, ...files.map((f) => f.length));
      for (const file of files) {
        let description = "";
        try {
          const doc = parseYaml(readFileSync(join(PLAYBOOKS_DIR, file), "utf8")) as { description?: string };
          description = String(doc?.description ?? "").split("\n")[0] ?? "";
        } catch {
          description = "(does not parse: ops validate it)";
        }
        process.stdout.write(`${file.padEnd(width)}  ${description}\n`);
      }
      return EXIT.ok;
    },
  };

  const validate: Command = {
    name: "validate",
    summary: "check playbooks; every problem is printed as file:line:col: message",
    usage: "ops validate FILE...",
    options: {},
    async run({ positionals }) {
      if (positionals.length === 0) throw new UsageError("expected at least one file");
      let bad = 0;
      for (const name of positionals) {
        const path = resolvePlaybookPath(name);
        if (loadOrReport(path)) process.stdout.write(`${path}: ok\n`);
        else bad++;
      }
      return bad === 0 ? EXIT.ok : EXIT.failure;
    },
  };

  /** Open the store's journal for commands that only read or flag runs. */
  const withJournal = async (
    loadConfig: () => Config,
    work: (journal: OpsJournal, local: Awaited<ReturnType<typeof openLocal>>) => Promise<number>,
  ) => {
    const local = await openLocal(loadConfig(), false, env);
    try {
      return await work(local.journal, local);
    } catch (err) {
      if (err instanceof RunRequestError) {
        process.stderr.write(`ops: ${err.message}\n`);
        return EXIT.failure;
      }
      throw err;
    } finally {
      await local.close();
    }
  };

  const runs: Command = {
    name: "runs",
    summary: "list recent runs (newest first)",
    usage: "ops runs [--limit N] [--json]",
    options: {
      limit: { type: "string", description: "how many (default 20)" },
      json: { type: "boolean", description: "JSON output" },
    },
    async run({ values, config }) {
      return withJournal(config, async (journal) => {
        const list = await journal.listRuns({ limit: Number(values.limit ?? 20) || 20 });
        if (values.json) {
          process.stdout.write(`${JSON.stringify(list.map(({ source: _s, ...r }) => r))}\n`);
          return EXIT.ok;
        }
        for (const r of list) {
          const when = new Date(r.createdAt).toISOString().slice(0, 19).replace("T", " ");
          process.stdout.write(`${r.id}  ${when}  ${r.status.padEnd(16)} ${r.playbook}  (${r.startedBy})\n`);
        }
        return EXIT.ok;
      });
    },
  };

  const show: Command = {
    name: "show",
    summary: "show one run: params (secrets redacted), steps, journal",
    usage: "ops show RUN [--json]",
    options: { json: { type: "boolean", description: "JSON output" } },
    async run({ values, positionals, config }) {
      const [id] = positionals;
      if (!id) throw new UsageError("expected a run id");
      return withJournal(config, async (journal) => {
        const run = await journal.getRun(id);
        if (!run) throw new RunRequestError(`no run "${id}"`, 404);
        const steps = await journal.steps(id);
        const entries = await journal.entries(id);
        if (values.json) {
          const { source: _s, ...rest } = run;
          process.stdout.write(`${JSON.stringify({ run: rest, steps, journal: entries })}\n`);
          return EXIT.ok;
        }
        process.stdout.write(`run ${run.id}: ${run.playbook} ${run.status}${run.error ? ` (${run.error})` : ""}\n`);
        process.stdout.write(
          `started by ${run.startedBy} at ${new Date(run.createdAt).toISOString()}; params ${JSON.stringify(run.params)}\n`,
        );
        for (const s of steps) {
          process.stdout.write(
            `  ${s.stepId.padEnd(20)} ${s.status.padEnd(12)} attempts ${s.attempts}${s.error ? `  ${s.error}` : ""}\n`,
          );
        }
        for (const e of entries) process.stdout.write(`${eventJson({ ...e, runId: id })}\n`);
        return EXIT.ok;
      });
    },
  };

  const resume: Command = {
    name: "resume",
    summary: "continue a run that stopped (crash) or paused; --retry or --skip decides an in-flight step",
    usage: "ops resume RUN [--retry | --skip] [--param secret=v ...] [--json]",
    options: {
      retry: { type: "boolean", description: "re-run the step that was in flight" },
      skip: { type: "boolean", description: "treat the step that was in flight as skipped" },
      param: {
        type: "string",
        short: "p",
        multiple: true,
        description: "secret params again (they are never journaled)",
      },
      json: { type: "boolean", description: "print JSON events, one per line" },
    },
    async run({ values, positionals, config: loadConfig }) {
      const [id] = positionals;
      if (!id) throw new UsageError("expected a run id");
      if (values.retry && values.skip) throw new UsageError("choose --retry or --skip, not both");
      const decision = values.retry ? "retry" : values.skip ? "skip" : undefined;
      const params = parseParamPairs((values.param as string[] | undefined) ?? []);
      const config = loadConfig();
      const view = progressView(progressMode(values.json === true), process.stdout);
      const dataDir = resolve(config.dataDir);
      const lock = readServerLock(dataDir);
      try {
        if (lock) {
          const token = readOpsToken(dataDir) ?? "";
          const body = { decision, params };
          const result = await handOffRun(serverBaseUrl(lock), token, `/api/ops/runs/${id}/resume`, body, view.event);
          return outcomeCode(result.status);
        }
        return await withJournal(
          () => config,
          async (_journal, local) => {
            const started = await local.service.resume(id, { env, params, decision, onEvent: view.event });
            return outcomeCode((await started.done).status);
          },
        );
      } catch (err) {
        if (err instanceof HandOffError) {
          process.stderr.write(`ops resume: ${err.message}\n`);
          return EXIT.failure;
        }
        throw err;
      } finally {
        view.close();
      }
    },
  };

  const approve: Command = {
    name: "approve",
    summary: "approve a run's gate (an approve step)",
    usage: "ops approve RUN STEP [--as NAME] [--role ROLE ...]",
    options: {
      as: { type: "string", description: "approver name (default: your login name)" },
      role: { type: "string", multiple: true, description: "a role you act in (for gates that require one)" },
    },
    async run({ values, positionals, config }) {
      const [id, step] = positionals;
      if (!id || !step) throw new UsageError("expected RUN and STEP");
      const approver = (values.as as string | undefined) ?? whoAmI(env);
      return withJournal(config, async (_journal, local) => {
        const added = await local.service.approve(id, step, approver, (values.role as string[] | undefined) ?? []);
        process.stdout.write(
          added ? `approved ${id} ${step} as ${approver}\n` : `${approver} had already approved ${id} ${step}\n`,
        );
        return EXIT.ok;
      });
    },
  };

  const cancel: Command = {
    name: "cancel",
    summary: "cancel a run (completed steps with compensate are undone when the executor is alive)",
    usage: "ops cancel RUN",
    options: {},
    async run({ positionals, config }) {
      const [id] = positionals;
      if (!id) throw new UsageError("expected a run id");
      return withJournal(config, async (_journal, local) => {
        const status = await local.service.cancel(id);
        process.stdout.write(
          status === "cancelled" ? `cancelled ${id}\n` : `cancel requested for ${id}; its executor stops it\n`,
        );
        return EXIT.ok;
      });
    },
  };

  return [run, list, validate, runs, show, resume, approve, cancel];
}

function usage(list: Command[]): string {
  return [
    "ops: run, dry-run and inspect operations playbooks",
    "",
    "usage: ops <command> [options]   (ops <command> --help for its options)",
    "",
    "commands:",
    ...list.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`),
    "",
  ].join("\n");
}

/**
 * Run `ops` with argv (without the program name) and an environment snapshot; returns the exit code.
 *
 * @example
 * process.exit(await opsMain(["validate", "ops/playbooks/backup.yml"], environmentSnapshot()));
 */
export async function opsMain(argv: string[], env: Record<string, string | undefined>): Promise<number> {
  const list = commands(env);
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage(list));
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const cmd = list.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`ops: unknown command "${name}"\n\n${usage(list)}`);
    return EXIT.usage;
  }
  return runCommand(cmd, rest, env);
}

if (import.meta.main) {
  // No top-level await: app/cli.ts imports this module, and the compiled binary is CommonJS.
  opsMain(process.argv.slice(2), environmentSnapshot()).then((code) => process.exit(code));
}
